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
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

const (
	// restartLatency is the simulator's random latency (up to) while the
	// restarted manager catches up, as in the kill run.
	restartLatency = 2 * time.Second
	// holdInstance has no other backup: every request for it is the
	// holder's, so the test sees where in the restarted manager's work the
	// holder comes.
	holdInstance = "rs-hold"
	// callsBeforeHolderBound: a holder served first arrives with the first
	// calls of the manager's workers (4 per controller); allow twice that.
	callsBeforeHolderBound = 2 * 4
)

// testRestartServesHolders measures how long a restarted manager takes to
// serve a backup that holds its instance, when many finished backups are
// listed before it. In a crash loop, a manager that re-reads every finished
// backup's instance before serving the holders makes no progress on them at
// all: each incarnation dies in the same re-reading.
func testRestartServesHolders(t *testing.T) {
	sc := shared.scale
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	env := scenarioEnv(t, "restart")
	const ns = "chaos-restart"
	instances := instanceIDs("rs", sc.RestartInstances)
	sim, err := env.StartSimulator(ctx, localenv.SimulatorOptions{
		Binary: shared.bins.Simulator, Instances: append([]string{holdInstance}, instances...), BackupDuration: time.Second,
		Seed: shared.seed + 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	finished := max(sc.RestartPerInstance, 1) * sc.RestartInstances
	w := newWorkload(shared.c, ns, sim, instances, finished, 0, 0, time.Second, &lockedRand{r: newRand(3)})
	if err := w.setUp(ctx); err != nil {
		t.Fatal(err)
	}
	mgr, err := env.StartManager(ctx, localenv.ManagerOptions{
		Binary: shared.bins.Manager, Kubeconfig: shared.cp.KubeconfigPath, Args: []string{"--watch-namespaces=" + ns},
		Metrics: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.start(ctx)
	if err := w.waitFinal(ctx, sc.Converge); err != nil {
		t.Fatal(err)
	}

	// Crash; while the manager is down, a backup comes to hold instance
	// rs-hold, listed after all the finished ones.
	if err := mgr.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetFaults(ctx, simulator.Faults{Latency: restartLatency}); err != nil {
		t.Fatal(err)
	}
	held, err := createHolder(ctx, w, "zz-held", holdInstance)
	if err != nil {
		t.Fatal(err)
	}
	before, err := sim.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	simLog := sim.Process().LogPath()
	logStart := fileSize(simLog)
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ready := time.Now()
	served, err := waitServed(ctx, held)
	if err != nil {
		t.Fatal(err)
	}
	after, err := sim.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lists := after.Requests[simulator.OpListBackups] + after.Requests[simulator.OpListRestores] -
		before.Requests[simulator.OpListBackups] - before.Requests[simulator.OpListRestores]
	callsBefore, err := callsBeforeInstance(simLog, logStart, holdInstance)
	if err != nil {
		t.Fatal(err)
	}
	checkLastSuccessAfterRestart(ctx, t, mgr, ns, instances)
	res := restartResult{Finished: finished, Instances: sc.RestartInstances, ServedSeconds: secs(served.Sub(ready)),
		Lists: lists, CallsBeforeHolder: callsBefore, Bound: callsBeforeHolderBound}
	results.addRestart(res)
	t.Logf("restart: the backup holding its instance was served %.1fs after the manager was ready; the manager made "+
		"%d calls before the holder's first and %d list calls until it was served (%d finished backups over %d instances)",
		res.ServedSeconds, callsBefore, lists, finished, sc.RestartInstances)
	if callsBefore > callsBeforeHolderBound {
		t.Errorf("[restart] the restarted manager made %d DCS calls for other instances (re-reading the %d finished "+
			"backups' instances) before the first call for the backup holding instance %s, which waited %.1fs; want at "+
			"most %d: in a crash loop shorter than that, the instance never progresses (simulator log %s, manager log %s)",
			callsBefore, finished, holdInstance, res.ServedSeconds, callsBeforeHolderBound, simLog, mgr.LogPath())
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// callsBeforeInstance counts the API requests the simulator logged from
// offset on that arrived before the first one for instance. The simulator
// logs a request when it answers, after its random latency, so arrival is
// the log time minus the logged duration.
func callsBeforeInstance(path string, offset int64, instance string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, err
	}
	var others []time.Time
	var first time.Time
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "msg=request") || strings.Contains(line, "op=admin") {
			continue
		}
		arrived, err := arrival(line)
		if err != nil {
			return 0, err
		}
		if strings.Contains(line, "/instances/"+instance+" ") || strings.Contains(line, "/instances/"+instance+"/") {
			if first.IsZero() || arrived.Before(first) {
				first = arrived
			}
			continue
		}
		others = append(others, arrived)
	}
	if first.IsZero() {
		return 0, fmt.Errorf("no request for instance %s in %s", instance, path)
	}
	n := 0
	for _, t := range others {
		if t.Before(first) {
			n++
		}
	}
	return n, sc.Err()
}

// arrival reads time= and duration= of a simulator request line.
func arrival(line string) (time.Time, error) {
	var at time.Time
	var took time.Duration
	for _, field := range strings.Fields(line) {
		switch {
		case strings.HasPrefix(field, "time="):
			t, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(field, "time="))
			if err != nil {
				return at, fmt.Errorf("simulator log line %q: %w", line, err)
			}
			at = t
		case strings.HasPrefix(field, "duration="):
			d, err := time.ParseDuration(strings.TrimPrefix(field, "duration="))
			if err != nil {
				return at, fmt.Errorf("simulator log line %q: %w", line, err)
			}
			took = d
		}
	}
	return at.Add(-took), nil
}

// createHolder creates a backup whose create intent is recorded, as a
// manager that crashed right after writing it leaves it.
func createHolder(ctx context.Context, w *workload, name, instance string) (*backupv1alpha1.DCSBackup, error) {
	b := &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: name},
		Spec:       backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: w.templateSpec(instance)},
	}
	if err := w.c.Create(ctx, b); err != nil {
		return nil, err
	}
	orig := b.DeepCopy()
	now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	b.Status.CreateRequestedAt = &now
	b.Status.Phase = backupv1alpha1.PhasePending
	if err := w.c.Status().Patch(ctx, b, client.MergeFrom(orig)); err != nil {
		return nil, fmt.Errorf("record the create intent of %s: %w", name, err)
	}
	return b, nil
}

// waitServed polls (every 100ms) until the backup has a DCS backup ID.
func waitServed(ctx context.Context, b *backupv1alpha1.DCSBackup) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		if err := shared.c.Get(ctx, client.ObjectKeyFromObject(b), b); err == nil && b.Status.BackupID != "" {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Now(), fmt.Errorf("%s never got a backup ID: %w", b.Name, ctx.Err())
		case <-ticker.C:
		}
	}
}

// lastSuccessMetric is the per-instance gauge of the latest successful
// backup, which alerts on backup age read.
const lastSuccessMetric = "dcs_backup_operator_last_success_timestamp_seconds"

// checkLastSuccessAfterRestart checks that the restarted manager reports
// every instance's latest success, from the backups' status, without any
// new backup of those instances having succeeded since the restart.
func checkLastSuccessAfterRestart(ctx context.Context, t *testing.T, mgr *localenv.Manager, ns string, instances []string) {
	t.Helper()
	list := &backupv1alpha1.DCSBackupList{}
	if err := shared.c.List(ctx, list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, b := range list.Items {
		if b.Status.Phase == backupv1alpha1.PhaseSucceeded && b.Status.CompletedAt != nil {
			want[b.Spec.InstanceID] = max(want[b.Spec.InstanceID], float64(b.Status.CompletedAt.Unix()))
		}
	}
	var got map[string]float64
	err := pollUntil(ctx, time.Minute, func() (bool, error) {
		var err error
		got, err = instanceGauge(ctx, mgr.MetricsURL, lastSuccessMetric)
		if err != nil {
			return false, err
		}
		for _, id := range instances {
			if got[id] != want[id] {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Errorf("[restart] %s after the restart: got %v, want %v (the latest completedAt per instance): %v",
			lastSuccessMetric, got, want, err)
	}
}

// instanceGauge reads a gauge labelled instance_id from a metrics endpoint.
func instanceGauge(ctx context.Context, url, name string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name+`{instance_id="`)
		if !ok {
			continue
		}
		id, value, ok := strings.Cut(rest, `"} `)
		if !ok {
			return nil, fmt.Errorf("metric line %q", line)
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		out[id] = v
	}
	return out, sc.Err()
}
