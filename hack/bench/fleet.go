package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// fleetSchedules is the fleet size at scale 1.
const fleetSchedules = 300

// fleetLead is how long before the slot the schedules are created: enough
// to create and preflight them and to run the warm-up wave on a loaded
// machine, and short enough that the schedules' next restore poll (one
// restore-poll interval after their creation) comes after the children of
// the slot have finished, as it would in any other minute.
const fleetLead = 40 * time.Second

// fleetResult is the fleet scenario (one run: it waits for a cron minute).
type fleetResult struct {
	Schedules                    int                `json:"schedules"`
	Completed                    int                `json:"completed"`
	Slot                         string             `json:"slot"`
	ChildrenCreatedWithinSeconds float64            `json:"children_created_within_seconds"`
	ChildrenCreatedP50Seconds    float64            `json:"children_created_p50_seconds"`
	AllSucceededAfterSeconds     float64            `json:"all_succeeded_after_seconds"`
	RequestsPerBackup            float64            `json:"requests_per_backup"`
	RequestsPerBackupByOperation map[string]float64 `json:"requests_per_backup_by_operation"`
	LowerBound                   float64            `json:"lower_bound_requests_per_backup"`
	RatioToLowerBound            float64            `json:"requests_ratio_to_lower_bound"`
	SetupRequests                map[string]int     `json:"setup_requests"`
	StatusLagP50                 float64            `json:"status_lag_p50_seconds"`
	StatusLagP95                 float64            `json:"status_lag_p95_seconds"`
	StatusLagMax                 float64            `json:"status_lag_max_seconds"`
	ThrottledResponses           int                `json:"throttled_responses"`
	ManagerCPUSeconds            float64            `json:"manager_cpu_seconds"`
	ManagerPeakRSSMiB            float64            `json:"manager_peak_rss_mib"`
	ManagerPeakHeapMiB           float64            `json:"manager_peak_heap_mib"`
	ReconcilesPerBackup          float64            `json:"reconciles_per_backup"`
	APIServerRequestsPerBackup   float64            `json:"apiserver_requests_per_backup"`
	// Cold is the run-now wave before the slot: the first backup of each
	// instance this manager sees, with no duration learned yet.
	Cold coldWave `json:"cold_first_backups"`
}

// coldWave is the fleet's first backups (run-now, before the slot).
type coldWave struct {
	RequestsPerBackup            float64            `json:"requests_per_backup"`
	RequestsPerBackupByOperation map[string]float64 `json:"requests_per_backup_by_operation"`
	StatusLagP95                 float64            `json:"status_lag_p95_seconds"`
	AllSucceededAfterSeconds     float64            `json:"all_succeeded_after_seconds"`
}

func (h *harness) fleetScenario(ctx context.Context, res *results) error {
	n := h.cfg.scaled(fleetSchedules)
	ids := instanceIDs("fleet", n)
	r, err := h.newRun(ctx, "fleet", ids, h.cfg.backupDuration)
	if err != nil {
		return err
	}
	defer func() { _ = r.stop() }()
	if err := r.observe(ctx); err != nil {
		return err
	}
	if err := r.startManager(ctx); err != nil {
		return err
	}
	slot := nextMinute(time.Now().Add(fleetLead + 5*time.Second))
	h.logf("fleet: %d schedules on %d instances, all due at %s", n, n, slot.Format(time.TimeOnly))
	if err := sleepUntil(ctx, slot.Add(-fleetLead)); err != nil {
		return err
	}
	fr, err := r.fleetRun(ctx, ids, slot)
	if err != nil {
		return err
	}
	res.Fleet = fr
	h.logf("fleet: children created within %.2fs of the slot, %.2f DCS requests/backup, lag p95 %.2fs",
		fr.ChildrenCreatedWithinSeconds, fr.RequestsPerBackup, fr.StatusLagP95)
	return nil
}

// fleetRun creates the schedules, runs each once (run-now) so that the
// manager knows the instances, as it does in a fleet it has served for a
// night, then waits for the slot and for every child to finish, and
// measures from the slot on.
func (r *runEnv) fleetRun(ctx context.Context, ids []string, slot time.Time) (*fleetResult, error) {
	fr := &fleetResult{Schedules: len(ids), Slot: slot.UTC().Format(time.RFC3339), LowerBound: burstLowerBound}
	setup, err := r.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if err := createAll(ctx, r.h.c, r.h.cfg.workers, r.schedules(ids, slot)); err != nil {
		return nil, err
	}
	if err := r.waitSchedulesReady(ctx, len(ids), time.Until(slot)); err != nil {
		return nil, err
	}
	cold, err := r.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	fr.SetupRequests = between(setup, cold).requests
	if err := r.coldWave(ctx, ids, cold, fr); err != nil {
		return nil, err
	}
	if time.Until(slot) < time.Second {
		// The slot's runs would be skipped while the warm-up ones run.
		return nil, fmt.Errorf("the warm-up backups ended only %s before the slot", time.Until(slot).Round(time.Millisecond))
	}
	if err := sleepUntil(ctx, slot.Add(-time.Second)); err != nil {
		return nil, err
	}
	before, err := r.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	r.sampler.resetPeak()
	if err := r.obs.waitFinished(ctx, 2*len(ids), 3*time.Minute); err != nil {
		return nil, err
	}
	after, err := r.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	records, err := r.sim.Backups(ctx)
	if err != nil {
		return nil, err
	}
	isSlotChild := func(name string) bool { return strings.HasSuffix(name, "-"+slot.UTC().Format("200601021504")) }
	fr.fill(between(before, after), r.obs, isSlotChild, slot)
	lag := statusLags(only(r.obs.successes(), isSlotChild), records)
	fr.StatusLagP50, fr.StatusLagP95, fr.StatusLagMax = round(lag.p50, 3), round(lag.p95, 3), round(lag.max, 3)
	fr.ManagerPeakRSSMiB, fr.ManagerPeakHeapMiB, err = r.managerFootprint(ctx)
	return fr, err
}

// coldWave starts one run of every schedule (the run-now annotation) and
// waits for them: the first backup of each instance.
func (r *runEnv) coldWave(ctx context.Context, ids []string, before snapshot, fr *fleetResult) error {
	start := time.Now()
	err := forEach(ctx, r.h.cfg.workers, ids, func(ctx context.Context, id string) error {
		s := &backupv1alpha1.DCSBackupSchedule{}
		if err := r.h.c.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: id}, s); err != nil {
			return err
		}
		orig := s.DeepCopy()
		metav1.SetMetaDataAnnotation(&s.ObjectMeta, backupv1alpha1.AnnotationRunNow, "bench-warm-up")
		return r.h.c.Patch(ctx, s, client.MergeFrom(orig))
	})
	if err != nil {
		return err
	}
	if err := r.obs.waitFinished(ctx, len(ids), 2*time.Minute); err != nil {
		return err
	}
	after, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	records, err := r.sim.Backups(ctx)
	if err != nil {
		return err
	}
	d := between(before, after)
	fr.Cold.RequestsPerBackup = round(float64(d.total)/float64(len(ids)), 3)
	fr.Cold.RequestsPerBackupByOperation = perOperation(d.requests, len(ids))
	fr.Cold.StatusLagP95 = round(statusLags(r.obs.successes(), records).p95, 3)
	fr.Cold.AllSucceededAfterSeconds = round(time.Since(start).Seconds(), 2)
	r.h.logf("fleet: first backups (run-now, nothing learned yet): %.2f DCS requests/backup, lag p95 %.2fs",
		fr.Cold.RequestsPerBackup, fr.Cold.StatusLagP95)
	return nil
}

func (fr *fleetResult) fill(d delta, obs *observer, isSlotChild func(string) bool, slot time.Time) {
	per := func(v float64) float64 { return round(v/float64(fr.Schedules), 3) }
	fr.RequestsPerBackup = per(float64(d.total))
	fr.RatioToLowerBound = round(fr.RequestsPerBackup/fr.LowerBound, 3)
	fr.RequestsPerBackupByOperation = perOperation(d.requests, fr.Schedules)
	fr.ThrottledResponses = d.throttled
	fr.ManagerCPUSeconds = round(d.cpu, 2)
	fr.ReconcilesPerBackup = per(d.reconciles)
	fr.APIServerRequestsPerBackup = per(d.restCalls)
	created := make([]float64, 0, fr.Schedules)
	for _, at := range only(obs.addedTimes(), isSlotChild) {
		created = append(created, at.Sub(slot).Seconds())
	}
	fr.ChildrenCreatedWithinSeconds = round(percentile(created, 100), 3)
	fr.ChildrenCreatedP50Seconds = round(percentile(created, 50), 3)
	var last time.Time
	successes := only(obs.successes(), isSlotChild)
	for _, s := range successes {
		if s.at.After(last) {
			last = s.at
		}
	}
	fr.Completed = len(successes)
	fr.AllSucceededAfterSeconds = round(last.Sub(slot).Seconds(), 2)
}

func perOperation(requests map[string]int, n int) map[string]float64 {
	out := make(map[string]float64, len(requests))
	for op, c := range requests {
		out[op] = round(float64(c)/float64(n), 3)
	}
	return out
}

// only keeps the entries whose name passes keep.
func only[V any](m map[string]V, keep func(string) bool) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		if keep(k) {
			out[k] = v
		}
	}
	return out
}

// schedules are one DCSBackupSchedule per instance, due once a day at slot.
func (r *runEnv) schedules(ids []string, slot time.Time) []*backupv1alpha1.DCSBackupSchedule {
	utc := "UTC"
	out := make([]*backupv1alpha1.DCSBackupSchedule, 0, len(ids))
	for _, id := range ids {
		out = append(out, &backupv1alpha1.DCSBackupSchedule{
			ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: id},
			Spec: backupv1alpha1.DCSBackupScheduleSpec{
				Schedule: fmt.Sprintf("%d %d * * *", slot.UTC().Minute(), slot.UTC().Hour()),
				TimeZone: &utc,
				Template: backupv1alpha1.DCSBackupTemplate{Spec: r.templateSpec(id)},
			},
		})
	}
	return out
}

// waitSchedulesReady waits until n schedules passed their preflight.
func (r *runEnv) waitSchedulesReady(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		list := &backupv1alpha1.DCSBackupScheduleList{}
		if err := r.h.c.List(ctx, list, client.InNamespace(r.ns)); err != nil {
			return err
		}
		ready := 0
		for i := range list.Items {
			if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, backupv1alpha1.ConditionReady) {
				ready++
			}
		}
		if ready >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d schedules Ready before the slot", ready, n)
		}
		if err := sleepUntil(ctx, time.Now().Add(500*time.Millisecond)); err != nil {
			return err
		}
	}
}

// nextMinute is the first minute boundary at or after t.
func nextMinute(t time.Time) time.Time {
	m := t.Truncate(time.Minute)
	if m.Before(t) {
		m = m.Add(time.Minute)
	}
	return m
}

func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
