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
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

const (
	// leaseName is the manager's leader election ID (main.go).
	leaseName = "dcs-backup-operator.backup.dcs-operator.dev"
	// leaseDuration and retryPeriod are controller-runtime's defaults,
	// which the manager keeps.
	leaseDuration = 15 * time.Second
	retryPeriod   = 2 * time.Second
	// takeoverBound: a standby acquires the lease at its first retry after
	// the lease expired, counted from the last renewal it saw: at most
	// leaseDuration plus two jittered retry periods after the kill. A few
	// seconds more for a busy 2-core machine.
	takeoverBound = leaseDuration + 2*retryPeriod*6/5 + 5*time.Second
	// leaderMetric is controller-runtime's leader gauge, 1 on the leader.
	leaderMetric = "leader_election_master_status"
)

// testLeaderFailover runs the workload on two manager replicas with
// leader election and SIGKILLs the leader mid-run: the standby must take
// over within the lease time and finish the work.
func testLeaderFailover(t *testing.T) {
	sc := shared.scale
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	env := scenarioEnv(t, "leader")
	rng := &lockedRand{r: newRand(2)}
	const ns = "chaos-leader"

	instances := instanceIDs("ha", sc.HAInstances)
	sim, err := env.StartSimulator(ctx, localenv.SimulatorOptions{
		Binary: shared.bins.Simulator, Instances: instances, BackupDuration: sc.BackupDuration,
		Faults: chaosFaults, Seed: shared.seed + 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkload(shared.c, ns, sim, instances, sc.HABackups, sc.HASchedules, sc.HATokens, sc.ApplySpread, rng)
	if err := w.setUp(ctx); err != nil {
		t.Fatal(err)
	}
	managers := make([]*localenv.Manager, 2)
	for i := range managers {
		managers[i], err = env.StartManager(ctx, localenv.ManagerOptions{
			Binary: shared.bins.Manager, Kubeconfig: shared.cp.KubeconfigPath, Metrics: true,
			LogPath: env.Path(fmt.Sprintf("manager-%c.log", 'a'+i)),
			Args:    []string{"--watch-namespaces=" + ns, "--leader-elect", "--leader-election-namespace=" + ns},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	started := time.Now()
	w.start(ctx)

	res := runResult{Name: "leader", Instances: sc.HAInstances, Schedules: sc.HASchedules}
	lastKill := started
	for k := range sc.LeaderKills {
		at, pending, takeover, err := killLeaderMidRun(ctx, w, managers, ns, float64(k+1)/float64(sc.LeaderKills+2), rng)
		if err != nil {
			t.Fatalf("leader kill %d: %v", k+1, err)
		}
		lastKill = at
		res.PendingAtLastKill = pending
		res.Kills++
		res.KillsWhilePending++
		res.Takeovers = append(res.Takeovers, secs(takeover))
		t.Logf("leader kill %d: the standby took over %.1fs after the kill", k+1, takeover.Seconds())
		if takeover > takeoverBound {
			t.Errorf("leader kill %d: takeover took %s, more than %s (lease %s)", k+1, takeover, takeoverBound, leaseDuration)
		}
	}
	logs := []string{managers[0].LogPath(), managers[1].LogPath()}
	if err := w.waitFinal(ctx, sc.Converge); err != nil {
		t.Errorf("logs: %s\n%v", strings.Join(logs, ", "), err)
	}
	res.ConvergeSeconds = secs(time.Since(lastKill))
	res.ElapsedSeconds = secs(time.Since(started))
	finish(ctx, t, w, &res, logs...)
}

// killLeaderMidRun waits until the given fraction of the work is final,
// SIGKILLs the leader, measures the time until the other replica holds the
// lease, and restarts the killed one (it becomes the standby).
func killLeaderMidRun(ctx context.Context, w *workload, managers []*localenv.Manager, ns string, fraction float64,
	rng *lockedRand) (at time.Time, pending int, took time.Duration, err error) {
	err = pollUntil(ctx, scenarioTimeout, func() (bool, error) {
		p, err := w.progress(ctx)
		if err != nil {
			return false, nil //nolint:nilerr // an API hiccup: ask again
		}
		pending = p.pending()
		return float64(p.final) >= fraction*float64(p.total) && p.pending() > 0, nil
	})
	if err != nil {
		return at, pending, 0, fmt.Errorf("waiting for %.0f%% of the work: %w", fraction*100, err)
	}
	leader, holder, err := findLeader(ctx, managers, ns)
	if err != nil {
		return at, pending, 0, err
	}
	killed := managers[leader]
	at = time.Now()
	if err := killed.Kill(); err != nil {
		return at, pending, 0, err
	}
	if took, err = waitNewHolder(ctx, ns, holder, at); err != nil {
		return at, pending, took, err
	}
	if ok, err := isLeader(ctx, managers[1-leader]); err != nil || !ok {
		return at, pending, took, fmt.Errorf("the lease changed hands, but the surviving replica does not report itself leader (%v)", err)
	}
	if !sleepCtx(ctx, rng.between(200*time.Millisecond, 2*time.Second)) {
		return at, pending, took, ctx.Err()
	}
	return at, pending, took, killed.Start(ctx)
}

// findLeader returns the index of the replica that leads and the lease's
// holder identity, once exactly one replica reports itself leader.
func findLeader(ctx context.Context, managers []*localenv.Manager, ns string) (int, string, error) {
	leader, holder := -1, ""
	err := pollUntil(ctx, 2*leaseDuration, func() (bool, error) {
		lease, err := getLease(ctx, ns)
		if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return false, nil //nolint:nilerr // not elected yet
		}
		leaders := 0
		for i, m := range managers {
			if ok, err := isLeader(ctx, m); err == nil && ok {
				leaders++
				leader = i
			}
		}
		holder = *lease.Spec.HolderIdentity
		return leaders == 1, nil
	})
	if err != nil {
		return -1, "", fmt.Errorf("no single leader: %w", err)
	}
	return leader, holder, nil
}

// waitNewHolder polls the lease until another identity holds it and
// returns the time since the kill.
func waitNewHolder(ctx context.Context, ns, old string, killedAt time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*takeoverBound)
	defer cancel()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		lease, err := getLease(ctx, ns)
		if err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != old &&
			*lease.Spec.HolderIdentity != "" {
			return time.Since(killedAt), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(killedAt), fmt.Errorf("nobody took over the lease from %s: %w", old, ctx.Err())
		case <-ticker.C:
		}
	}
}

func getLease(ctx context.Context, ns string) (*coordinationv1.Lease, error) {
	lease := &coordinationv1.Lease{}
	return lease, shared.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: leaseName}, lease)
}

// isLeader reads the replica's leader gauge from its metrics endpoint.
func isLeader(ctx context.Context, m *localenv.Manager) (bool, error) {
	if m.Exited() {
		return false, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.MetricsURL, nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return false, errors.New(resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, leaderMetric+"{") && strings.Contains(line, leaseName) {
			return strings.HasSuffix(line, " 1"), nil
		}
	}
	return false, sc.Err()
}
