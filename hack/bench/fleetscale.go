package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// The fleet-scale scenario: 2,000 instances with 25 finished DCSBackups
// each, served by a manager at the default DCS budget (10 requests per
// second, a quarter for background reads), first idle, then with one
// tag-selected schedule due for all of them.
const (
	fleetScaleInstances          = 2000
	fleetScaleBackupsPerInstance = 25
	// fleetScaleBudget is the manager's default --dcs-requests-per-second:
	// the budget the targets are stated in.
	fleetScaleBudget = 10.0
	// fleetScaleBurst is the manager's default --dcs-burst.
	fleetScaleBurst = 20
	// fleetScaleSettle is how long after the start-up pass the idle window
	// begins: the first background reads are spread over one interval.
	fleetScaleSettle = 30 * time.Second
	// fleetScaleIdleWindow is how long the idle fleet is measured.
	fleetScaleIdleWindow = 3 * time.Minute
	// fleetScaleMemoryLimit is the Go memory limit the manager sets itself
	// in a pod with the chart's default memory limit, 256Mi (80% of it,
	// 204.8 MiB, see setMemoryLimit in main.go). The bench runs the manager
	// outside a container, so it sets the limit by GOMEMLIMIT.
	fleetScaleMemoryLimit = "204MiB"
	fleetScaleTagKey      = "fleet"
	fleetScaleTagValue    = "scale"
)

// fleetScaleResult is the fleet-scale scenario.
type fleetScaleResult struct {
	Instances               int     `json:"instances"`
	FinishedBackups         int     `json:"finished_backups"`
	BudgetRequestsPerSecond float64 `json:"budget_requests_per_second"`
	IdleWindowSeconds       float64 `json:"idle_window_seconds"`
	IdleRequestsPerSecond   float64 `json:"idle_requests_per_second"`
	IdleBudgetShare         float64 `json:"idle_budget_share"`
	IdleBudgetShareTarget   float64 `json:"idle_budget_share_target"`
	// IdleBurstShare is what the background bucket's burst (a quarter of
	// --dcs-burst) adds to the share over the idle window: a token bucket
	// lets that many requests through on top of its rate.
	IdleBurstShare               float64 `json:"idle_burst_share"`
	IdleCPUCoreFraction          float64 `json:"idle_cpu_core_fraction"`
	IdleReconcilesPerHour        float64 `json:"idle_reconciles_per_hour"`
	ObservationIntervalSeconds   float64 `json:"observation_interval_seconds"`
	CreatesSeconds               float64 `json:"creates_seconds"`
	CreatesBoundSeconds          float64 `json:"creates_bound_seconds"`
	CreatesRatioToBound          float64 `json:"creates_ratio_to_bound"`
	ChildrenCreatedWithinSeconds float64 `json:"children_created_within_seconds"`
	AllSucceededAfterSeconds     float64 `json:"all_succeeded_after_seconds"`
	RunRequestsPerBackup         float64 `json:"run_requests_per_backup"`
	ManagerPeakRSSMiB            float64 `json:"manager_peak_rss_mib"`
	ManagerPeakRSSIdleMiB        float64 `json:"manager_peak_rss_idle_mib"`
	ManagerPeakHeapMiB           float64 `json:"manager_peak_heap_mib"`
	GoMemoryLimit                string  `json:"manager_go_memory_limit"`
	ThrottledResponses           int     `json:"throttled_responses"`
	SetupSeconds                 float64 `json:"setup_seconds"`
	StartupSeconds               float64 `json:"startup_seconds"`
	StartupDCSRequests           int     `json:"startup_dcs_requests"`
}

func (h *harness) fleetScaleScenario(ctx context.Context, res *results) error {
	n := h.cfg.scaled(fleetScaleInstances)
	ids := instanceIDs("scale", n)
	specs := make([]string, len(ids))
	for i, id := range ids {
		specs[i] = id + ":tag." + fleetScaleTagKey + "=" + fleetScaleTagValue
	}
	// No 24-backup cap: the fleet's 25 finished backups per instance all
	// stay (the cap is another scenario's concern).
	r, err := h.newRunWith(ctx, "fleet-scale", specs, idleSeedDuration, "--max-backups=-1")
	if err != nil {
		return err
	}
	defer func() { _ = r.stop() }()
	r.managerEnv = []string{"GOMEMLIMIT=" + fleetScaleMemoryLimit}
	fr := &fleetScaleResult{GoMemoryLimit: fleetScaleMemoryLimit, Instances: n, FinishedBackups: n * fleetScaleBackupsPerInstance,
		BudgetRequestsPerSecond: fleetScaleBudget, IdleBudgetShareTarget: 0.25}
	h.logf("fleet-scale: making %d finished backups over %d instances", fr.FinishedBackups, n)
	setupStart := time.Now()
	if err := r.seedFinished(ctx, ids, fleetScaleBackupsPerInstance); err != nil {
		return err
	}
	fr.SetupSeconds = round(time.Since(setupStart).Seconds(), 1)
	if err := r.observe(ctx); err != nil {
		return err
	}
	if err := r.startManager(ctx, "--dcs-requests-per-second="+strconv.FormatFloat(fleetScaleBudget, 'g', -1, 64),
		"--dcs-burst="+strconv.Itoa(fleetScaleBurst), "--restore-poll-interval=1m"); err != nil {
		return err
	}
	if err := r.measureFleetIdle(ctx, fr); err != nil {
		return err
	}
	if err := r.fleetScaleRun(ctx, ids, fr); err != nil {
		return err
	}
	fr.ManagerPeakRSSMiB, fr.ManagerPeakHeapMiB, err = r.managerFootprint(ctx)
	res.FleetScale = fr
	h.logf("fleet-scale: idle %.2f req/s (%.0f%% of the budget), creates %.0fs (%.2fx the bound), peak RSS %.0f MiB",
		fr.IdleRequestsPerSecond, 100*fr.IdleBudgetShare, fr.CreatesSeconds, fr.CreatesRatioToBound, fr.ManagerPeakRSSMiB)
	return err
}

// measureFleetIdle waits for the start-up pass over the finished fleet,
// lets the background reads settle, and measures the idle fleet.
func (r *runEnv) measureFleetIdle(ctx context.Context, fr *fleetScaleResult) error {
	start, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	if err := r.waitIdleStartup(ctx, fr.FinishedBackups); err != nil {
		return err
	}
	synced, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	startup := between(start, synced)
	fr.StartupSeconds, fr.StartupDCSRequests = round(startup.seconds, 1), startup.total
	r.h.logf("fleet-scale: start-up pass over %d backups took %.1fs (%d DCS requests); idle for %s",
		fr.FinishedBackups, startup.seconds, startup.total, fleetScaleSettle+fleetScaleIdleWindow)
	if err := sleepUntil(ctx, time.Now().Add(fleetScaleSettle)); err != nil {
		return err
	}
	before, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	if err := sleepUntil(ctx, time.Now().Add(fleetScaleIdleWindow)); err != nil {
		return err
	}
	after, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	d := between(before, after)
	fr.IdleWindowSeconds = round(d.seconds, 1)
	fr.IdleRequestsPerSecond = round(float64(d.total)/d.seconds, 3)
	fr.IdleBudgetShare = round(fr.IdleRequestsPerSecond/fleetScaleBudget, 3)
	fr.IdleBurstShare = round(fr.IdleBudgetShareTarget*fleetScaleBurst/(d.seconds*fleetScaleBudget), 4)
	fr.IdleCPUCoreFraction = round(d.cpu/d.seconds, 4)
	fr.IdleReconcilesPerHour = round(d.reconciles*3600/d.seconds, 1)
	fr.ThrottledResponses += d.throttled
	m, err := scrape(ctx, r.mgr.MetricsURL)
	if err != nil {
		return err
	}
	fr.ObservationIntervalSeconds = round(m["dcs_backup_operator_observation_interval_seconds"], 1)
	// The high-water mark so far: the start-up pass and the idle fleet,
	// before the run adds its backups.
	peak, err := localenv.ProcPeakRSS(r.mgr.PID())
	if err != nil {
		return err
	}
	fr.ManagerPeakRSSIdleMiB = mib(float64(peak))
	return nil
}

// fleetScaleRun creates one schedule of every instance with the tag, due
// at the next minute, and measures its run.
func (r *runEnv) fleetScaleRun(ctx context.Context, ids []string, fr *fleetScaleResult) error {
	slot := nextMinute(time.Now().Add(fleetLead))
	name := "scale"
	spec := r.templateSpec("")
	spec.InstanceID = ""
	s := &backupv1alpha1.DCSBackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: name},
		Spec: backupv1alpha1.DCSBackupScheduleSpec{
			Schedule:         fmt.Sprintf("%d %d * * *", slot.UTC().Minute(), slot.UTC().Hour()),
			InstanceSelector: &backupv1alpha1.InstanceSelector{Tags: map[string]string{fleetScaleTagKey: fleetScaleTagValue}},
			Template:         backupv1alpha1.DCSBackupTemplate{Spec: spec},
		},
	}
	if err := r.h.c.Create(ctx, s); err != nil {
		return err
	}
	if err := r.waitSchedulesReady(ctx, 1, time.Until(slot)); err != nil {
		return err
	}
	if err := sleepUntil(ctx, slot); err != nil {
		return err
	}
	r.h.logf("fleet-scale: schedule %s due for %d instances at %s", name, len(ids), slot.Format(time.TimeOnly))
	before, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	created, err := r.waitCreates(ctx, before, len(ids), 15*time.Minute)
	if err != nil {
		return err
	}
	fr.CreatesSeconds = round(created.Sub(slot).Seconds(), 1)
	fr.CreatesBoundSeconds = float64(len(ids)) / fleetScaleBudget
	fr.CreatesRatioToBound = round(fr.CreatesSeconds/fr.CreatesBoundSeconds, 3)
	isRunChild := func(n string) bool { return strings.HasPrefix(n, name+"-") }
	if err := r.obs.waitSucceededMatching(ctx, isRunChild, len(ids), 15*time.Minute); err != nil {
		return err
	}
	after, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	d := between(before, after)
	fr.RunRequestsPerBackup = round(float64(d.total)/float64(len(ids)), 3)
	fr.ThrottledResponses += d.throttled
	var last time.Time
	for n, s := range r.obs.successes() {
		if isRunChild(n) && s.at.After(last) {
			last = s.at
		}
	}
	fr.AllSucceededAfterSeconds = round(last.Sub(slot).Seconds(), 1)
	createdAt := make([]float64, 0, len(ids))
	for n, at := range r.obs.addedTimes() {
		if isRunChild(n) {
			createdAt = append(createdAt, at.Sub(slot).Seconds())
		}
	}
	fr.ChildrenCreatedWithinSeconds = round(percentile(createdAt, 100), 1)
	return nil
}

// waitCreates waits until the simulator answered n more create calls than
// at before, and returns when it saw the last one.
func (r *runEnv) waitCreates(ctx context.Context, before snapshot, n int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := r.sim.Stats(ctx)
		if err != nil {
			return time.Time{}, err
		}
		if st.Requests[simulator.OpCreate]-before.sim.Requests[simulator.OpCreate] >= n {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%d of %d creates after %s", st.Requests[simulator.OpCreate]-
				before.sim.Requests[simulator.OpCreate], n, timeout)
		}
		if err := sleepUntil(ctx, time.Now().Add(500*time.Millisecond)); err != nil {
			return time.Time{}, err
		}
	}
}
