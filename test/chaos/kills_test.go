/*
Copyright 2026 The dcs-backup-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package chaos

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// chaosFaults are the simulator's random faults during the chaos runs:
// about 10% 5xx, 5% 429 with Retry-After, latency up to 2 s, and a few
// creates that succeed but answer 504 (the answer is lost: the case that
// makes the non-idempotent create dangerous).
var chaosFaults = simulator.Faults{
	ErrorRate:        0.10,
	ThrottleRate:     0.05,
	RetryAfter:       time.Second,
	Latency:          2 * time.Second,
	LostResponseRate: 0.05,
}

// scenarioTimeout bounds a whole scenario.
const scenarioTimeout = 45 * time.Minute

// testManagerKills runs the workload under random faults and SIGKILLs the
// manager at random moments, restarting it after a short random pause.
func testManagerKills(t *testing.T) {
	sc := shared.scale
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	env := scenarioEnv(t, "kills")
	rng := &lockedRand{r: newRand(1)}
	const ns = "chaos-kills"

	instances := instanceIDs("kill", sc.Instances)
	sim, err := env.StartSimulator(ctx, localenv.SimulatorOptions{
		Binary: shared.bins.Simulator, Instances: instances, BackupDuration: sc.BackupDuration,
		RestoreDuration: sc.BackupDuration, Faults: chaosFaults, Seed: shared.seed,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkload(shared.c, ns, sim, instances, sc.Backups, sc.Schedules, sc.Tokens, sc.ApplySpread, rng).
		withRestores(sc.Restores)
	if err := w.setUp(ctx); err != nil {
		t.Fatal(err)
	}
	mgr, err := env.StartManager(ctx, localenv.ManagerOptions{
		Binary: shared.bins.Manager, Kubeconfig: shared.cp.KubeconfigPath, Args: []string{"--watch-namespaces=" + ns},
	})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	w.start(ctx)

	res := runResult{Name: "kills", Instances: sc.Instances, Schedules: sc.Schedules}
	kills, err := killRandomly(ctx, w, mgr, sc, rng)
	if err != nil {
		t.Fatalf("killing and restarting the manager: %v", err)
	}
	lastKill := started
	if len(kills) > 0 {
		lastKill = kills[len(kills)-1].at
		res.PendingAtLastKill = kills[len(kills)-1].pending
	}
	if err := w.waitFinal(ctx, sc.Converge); err != nil {
		t.Errorf("log: %s\n%v", mgr.LogPath(), err)
	}
	res.Kills, res.ConvergeSeconds, res.ElapsedSeconds = len(kills), secs(time.Since(lastKill)), secs(time.Since(started))
	for _, k := range kills {
		if k.pending > 0 {
			res.KillsWhilePending++
		}
	}
	finish(ctx, t, w, &res, mgr.LogPath())
	if len(kills) < sc.Kills {
		t.Errorf("only %d of %d kills happened before the work ran out: make the run longer (CHAOS_BACKUPS) "+
			"or the kill gaps shorter", len(kills), sc.Kills)
	}
}

// killRecord is one SIGKILL: when, and how much work was pending.
type killRecord struct {
	at      time.Time
	pending int
}

// killRandomly SIGKILLs the manager at random moments, restarting it
// after a random pause each time: sc.Kills times KillGapMin to KillGapMax
// apart, then, more sparsely (up to three times KillGapMax apart), on
// until the work is nearly done, so that the last kill lands in the tail
// of the run and the time to converge after it measures recovery, not
// leftover work.
func killRandomly(ctx context.Context, w *workload, mgr *localenv.Manager, sc scale, rng *lockedRand) ([]killRecord, error) {
	var kills []killRecord
	for {
		gap := rng.between(sc.KillGapMin, sc.KillGapMax)
		if len(kills) >= sc.Kills {
			gap = rng.between(sc.KillGapMax, 3*sc.KillGapMax)
		}
		if !sleepCtx(ctx, gap) {
			return kills, ctx.Err()
		}
		p, err := w.progress(ctx)
		if err != nil {
			return kills, err
		}
		applied := isClosed(w.applied)
		if applied && p.pending() == 0 {
			return kills, nil // nothing left to interrupt
		}
		if len(kills) >= sc.Kills && applied && p.pending() <= nearlyDone(p.total) {
			return kills, nil
		}
		k := killRecord{at: time.Now(), pending: p.pending()}
		if err := mgr.Kill(); err != nil {
			return kills, err
		}
		kills = append(kills, k)
		if !sleepCtx(ctx, rng.between(200*time.Millisecond, sc.RestartPauseMax)) {
			return kills, ctx.Err()
		}
		if err := mgr.Start(ctx); err != nil {
			return kills, fmt.Errorf("restart after kill %d: %w", len(kills), err)
		}
	}
}

// nearlyDone is the pending work below which the kills stop: 5%.
func nearlyDone(total int) int { return max(1, total/20) }

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// finish verifies the end state of a run, adds the simulator's fault
// counters, records the result and fails the test on any problem.
func finish(ctx context.Context, t *testing.T, w *workload, res *runResult, logs ...string) {
	t.Helper()
	v, err := w.verify(ctx)
	if err != nil {
		t.Fatalf("verifying: %v", err)
	}
	res.verdict = v
	stats, err := w.sim.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	records, err := w.sim.Backups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res.faultCounts = countFaults(stats, records)
	results.addRun(*res)
	t.Logf("%s: %d backups + %d schedule children over %d instances, %d kills (%d while work was pending); "+
		"%d faults injected: %d 5xx, %d 429, %d lost create answers; %d busy answers; %d DCS requests; "+
		"duplicates %d, lost %d, orphans %d, not succeeded %d, schedule errors %d; "+
		"restores %d, duplicate restores %d, lost restores %d; "+
		"converged %.1fs after the last kill (%d resources pending then)",
		res.Name, v.Backups, v.Children, res.Instances, res.Kills, res.KillsWhilePending, res.Injected,
		res.ServerErrors, res.Throttled, res.LostResponses, res.Busy, res.Requests,
		v.Duplicates, v.Lost, v.Orphans, v.Backups+v.Children-v.Succeeded, v.ScheduleErrors,
		v.Restores, v.DuplicateRestores, v.LostRestores, res.ConvergeSeconds,
		res.PendingAtLastKill)
	for _, log := range logs {
		if panics := grepLines(log, "panic"); len(panics) > 0 {
			t.Errorf("the manager panicked (%s):\n%s", log, strings.Join(head(panics, 5), "\n"))
		}
	}
	if len(v.problems) > 0 {
		t.Errorf("%d problems (manager logs: %s):\n  %s", len(v.problems), strings.Join(logs, ", "),
			strings.Join(head(v.problems, 40), "\n  "))
	}
	if v.TokensApplied != v.Children {
		t.Errorf("%d run-now tokens were taken, %d children exist", v.TokensApplied, v.Children)
	}
}

// grepLines returns the lines of a file that contain s.
func grepLines(path, s string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}
