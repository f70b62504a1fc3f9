package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

// Idle fleet at scale 1.
const (
	idleInstances          = 500
	idleBackupsPerInstance = 20
	// idleSeedDuration is the simulator's backup duration while the
	// benchmark makes the cloud backups the idle fleet refers to.
	idleSeedDuration = 50 * time.Millisecond
	// defaultSlowPoll is the manager's default --restore-poll-interval: the
	// slow poll of finished backups that the idle target is stated in.
	defaultSlowPoll = time.Minute
	// metricQueueDepth tells when the manager's start-up pass is done.
	metricQueueDepth = "workqueue_depth"
)

// idleResult is the idle scenario.
type idleResult struct {
	Backups                         int                `json:"backups"`
	Instances                       int                `json:"instances"`
	SlowPollIntervalSeconds         float64            `json:"slow_poll_interval_seconds"`
	BenchRestorePollIntervalSeconds float64            `json:"bench_restore_poll_interval_seconds"`
	TimeCompression                 float64            `json:"time_compression"`
	SimulatedSeconds                float64            `json:"simulated_seconds"`
	RealSeconds                     float64            `json:"real_seconds"`
	RequestsPerHour                 float64            `json:"requests_per_hour"`
	RequestsPerHourBound            float64            `json:"requests_per_hour_bound"`
	RatioToBound                    float64            `json:"requests_ratio_to_bound"`
	RequestsPerInstancePerInterval  float64            `json:"requests_per_instance_per_interval"`
	RequestsPerHourByOperation      map[string]float64 `json:"requests_per_hour_by_operation"`
	ThrottledResponses              int                `json:"throttled_responses"`
	SetupSeconds                    float64            `json:"setup_seconds"`
	StartupSeconds                  float64            `json:"startup_seconds"`
	StartupRequests                 map[string]int     `json:"startup_requests"`
	StartupAPIServerRequests        float64            `json:"startup_apiserver_requests"`
	ManagerPeakRSSMiB               float64            `json:"manager_peak_rss_mib"`
	ManagerRSSMiB                   float64            `json:"manager_rss_mib"`
	ManagerPeakHeapMiB              float64            `json:"manager_peak_heap_mib"`
	ManagerCPUCoreFraction          float64            `json:"manager_cpu_core_fraction"`
	ReconcilesPerHour               float64            `json:"reconciles_per_hour"`
	APIServerRequestsPerHour        float64            `json:"apiserver_requests_per_hour"`
}

// idleScenario holds a fleet of finished DCSBackups and measures what the
// manager costs while nothing happens. Simulated time: the manager's slow
// poll (--restore-poll-interval, and the record re-check every 10 of them)
// runs k times faster than its 1m default, so idleSpan of simulated time
// takes idleSpan/k; requests per simulated hour are the count times
// 1h/idleSpan. Only the slow poll is timed by that flag, so the count is
// what the default would make in idleSpan.
func (h *harness) idleScenario(ctx context.Context, res *results) error {
	n := h.cfg.scaled(idleInstances)
	ids := instanceIDs("idle", n)
	r, err := h.newRun(ctx, "idle", ids, idleSeedDuration)
	if err != nil {
		return err
	}
	defer func() { _ = r.stop() }()
	ir := &idleResult{Backups: n * idleBackupsPerInstance, Instances: n}
	h.logf("idle: making %d finished backups over %d instances", ir.Backups, n)
	setupStart := time.Now()
	if err := r.seedFinished(ctx, ids, idleBackupsPerInstance); err != nil {
		return err
	}
	ir.SetupSeconds = round(time.Since(setupStart).Seconds(), 1)
	if err := r.measureIdle(ctx, ir); err != nil {
		return err
	}
	res.Idle = ir
	h.logf("idle: %.0f DCS requests per simulated hour (bound %.0f), peak RSS %.0f MiB",
		ir.RequestsPerHour, ir.RequestsPerHourBound, ir.ManagerPeakRSSMiB)
	return nil
}

// seedFinished makes per finished cloud backups per instance (through the
// simulator's admin API, as automatic backups, so that the gateway limit is
// not spent on setup), and a DCSBackup for each with the status the
// operator gives a finished backup, before the manager starts.
func (r *runEnv) seedFinished(ctx context.Context, ids []string, per int) error {
	err := forEach(ctx, 64, ids, func(ctx context.Context, id string) error {
		for range per {
			if err := r.sim.Admin(ctx, http.MethodPost, "auto-backups", map[string]string{"instance_id": id}, nil); err != nil {
				return err
			}
			if err := sleepUntil(ctx, time.Now().Add(idleSeedDuration+20*time.Millisecond)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	records, err := r.sim.Backups(ctx)
	if err != nil {
		return err
	}
	backups, err := r.finishedBackups(ids, records, per)
	if err != nil {
		return err
	}
	// Create returns the object as stored, without the status the
	// status subresource ignores: write each status after its create.
	return forEach(ctx, r.h.cfg.workers, backups, func(ctx context.Context, b *backupv1alpha1.DCSBackup) error {
		status := b.Status
		if err := r.h.c.Create(ctx, b); err != nil {
			return fmt.Errorf("create %s: %w", b.Name, err)
		}
		b.Status = status
		return r.h.c.Status().Update(ctx, b)
	})
}

// finishedBackups pairs each cloud backup with a DCSBackup whose status is
// what the operator writes for a succeeded backup (the status is kept in
// the object and written after the create).
func (r *runEnv) finishedBackups(ids []string, records []simulator.BackupRecord, per int) ([]*backupv1alpha1.DCSBackup, error) {
	byInstance := map[string][]simulator.BackupRecord{}
	for _, rec := range records {
		if rec.Status == "succeed" {
			byInstance[rec.InstanceID] = append(byInstance[rec.InstanceID], rec)
		}
	}
	out := make([]*backupv1alpha1.DCSBackup, 0, len(ids)*per)
	for _, id := range ids {
		recs := byInstance[id]
		if len(recs) < per {
			return nil, fmt.Errorf("instance %s: %d of %d seed backups succeeded", id, len(recs), per)
		}
		sort.Slice(recs, func(i, j int) bool { return recs[i].CreatedAt.Before(recs[j].CreatedAt) })
		for k, rec := range recs[:per] {
			b := r.backup(id, k)
			b.Status = succeededStatus(rec)
			out = append(out, b)
		}
	}
	return out, nil
}

func succeededStatus(rec simulator.BackupRecord) backupv1alpha1.DCSBackupStatus {
	t := func(x time.Time) *metav1.Time { mt := metav1.NewTime(x.UTC().Truncate(time.Second)); return &mt }
	return backupv1alpha1.DCSBackupStatus{
		Phase: backupv1alpha1.PhaseSucceeded, BackupID: rec.ID, BackupName: rec.Name, Progress: "100.00",
		Size: rec.Size, Format: backupv1alpha1.BackupFormatRDB, BackupType: rec.Type, Restorable: true,
		StartedAt: t(rec.CreatedAt), CompletedAt: t(rec.FinishedAt), ObservedGeneration: 1,
		Conditions: []metav1.Condition{
			{Type: backupv1alpha1.ConditionSucceeded, Status: metav1.ConditionTrue, ObservedGeneration: 1,
				Reason: backupv1alpha1.ReasonBackupSucceeded, LastTransitionTime: *t(rec.FinishedAt),
				Message: fmt.Sprintf("backup %s (%s) succeeded: %d bytes, restorable", rec.ID, rec.Name, rec.Size)},
			{Type: backupv1alpha1.ConditionSynced, Status: metav1.ConditionTrue, ObservedGeneration: 1,
				Reason: backupv1alpha1.ReasonSynced, LastTransitionTime: *t(rec.FinishedAt),
				Message: "the last request to DCS succeeded"},
		},
	}
}

// measureIdle starts the manager on the finished fleet, waits for its
// start-up pass, then counts over idleSpan of simulated time. The window
// starts half an interval after the start-up pass, between two poll
// rounds, and is a whole number of intervals long, so it holds the same
// number of rounds for every instance.
func (r *runEnv) measureIdle(ctx context.Context, ir *idleResult) error {
	cfg := r.h.cfg
	compression := defaultSlowPoll.Seconds() / cfg.idleInterval.Seconds()
	ir.SlowPollIntervalSeconds = defaultSlowPoll.Seconds()
	ir.BenchRestorePollIntervalSeconds = cfg.idleInterval.Seconds()
	ir.TimeCompression = round(compression, 2)
	if err := r.startManager(ctx, "--restore-poll-interval="+cfg.idleInterval.String()); err != nil {
		return err
	}
	start, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	if err := r.waitIdleStartup(ctx, ir.Backups); err != nil {
		return err
	}
	synced, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	startup := between(start, synced)
	ir.StartupSeconds = round(startup.seconds, 1)
	ir.StartupRequests = startup.requests
	ir.StartupAPIServerRequests = startup.restCalls
	r.h.logf("idle: start-up pass took %.1fs (%d DCS requests); holding for %s of simulated time (%s real)",
		startup.seconds, startup.total, cfg.idleSpan, time.Duration(float64(cfg.idleSpan)/compression).Round(time.Second))
	if err := sleepUntil(ctx, time.Now().Add(cfg.idleInterval/2)); err != nil {
		return err
	}
	before, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	if err := sleepUntil(ctx, time.Now().Add(time.Duration(float64(cfg.idleSpan)/compression))); err != nil {
		return err
	}
	after, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	ir.fill(between(before, after), compression)
	ir.ManagerPeakRSSMiB, ir.ManagerPeakHeapMiB, err = r.managerFootprint(ctx)
	_, rss := r.sampler.peaks()
	ir.ManagerRSSMiB = mib(float64(rss))
	return err
}

func (ir *idleResult) fill(d delta, compression float64) {
	ir.RealSeconds = round(d.seconds, 1)
	ir.SimulatedSeconds = round(d.seconds*compression, 1)
	perHour := func(v float64) float64 { return round(v*3600/(d.seconds*compression), 1) }
	ir.RequestsPerHour = perHour(float64(d.total))
	ir.RequestsPerHourBound = float64(ir.Instances) * time.Hour.Seconds() / ir.SlowPollIntervalSeconds
	ir.RatioToBound = round(ir.RequestsPerHour/ir.RequestsPerHourBound, 3)
	ir.RequestsPerInstancePerInterval = round(ir.RequestsPerHour/float64(ir.Instances)/(3600/ir.SlowPollIntervalSeconds), 3)
	ir.RequestsPerHourByOperation = map[string]float64{}
	for op, n := range d.requests {
		ir.RequestsPerHourByOperation[op] = perHour(float64(n))
	}
	ir.ThrottledResponses = d.throttled
	ir.ManagerCPUCoreFraction = round(d.cpu/d.seconds, 3)
	ir.ReconcilesPerHour = perHour(d.reconciles)
	ir.APIServerRequestsPerHour = perHour(d.restCalls)
}

// waitIdleStartup waits until the manager has reconciled every backup once
// and its work queues are empty.
func (r *runEnv) waitIdleStartup(ctx context.Context, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		m, err := scrape(ctx, r.mgr.MetricsURL)
		if err != nil {
			return err
		}
		if m[metricReconciles] >= float64(n) && m[metricQueueDepth] == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start-up pass not done after 5m: %.0f of %d reconciles", m[metricReconciles], n)
		}
		if err := sleepUntil(ctx, time.Now().Add(250*time.Millisecond)); err != nil {
			return err
		}
	}
}
