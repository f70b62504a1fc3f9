package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

// Burst geometry at scale 1.
const (
	burstInstances = 100
	burstDepth     = 10
)

// runFigures are the figures of one burst run.
type runFigures struct {
	backups, instances, depth int
	d                         delta
	lag                       lagStats
	makespan, ideal           float64
	createSeconds             float64
	handoffP50                float64
	rssMiB, heapMiB           float64
	warnings                  map[string]int
	warningNotes              map[string]string
}

func (f runFigures) perBackup(v float64) float64 { return v / float64(f.backups) }

// burstScenario runs the burst cfg.runs times and keeps the medians.
func (h *harness) burstScenario(ctx context.Context, res *results) error {
	instances := h.cfg.scaled(burstInstances)
	runs := make([]runFigures, 0, h.cfg.runs)
	for i := range h.cfg.runs {
		h.logf("burst run %d/%d: %d backups over %d instances", i+1, h.cfg.runs, instances*burstDepth, instances)
		f, err := h.burstOnce(ctx, instances, burstDepth)
		if err != nil {
			return err
		}
		h.logf("burst run %d/%d: %s", i+1, h.cfg.runs, f.summary())
		runs = append(runs, f)
	}
	res.Burst = newBurstResult(runs)
	res.burstRuns = runs
	return nil
}

// scalingScenario runs the burst with 5 and 20 backups per instance; the
// 10 per instance come from the burst scenario (or a run of their own).
func (h *harness) scalingScenario(ctx context.Context, res *results) error {
	instances := h.cfg.scaled(burstInstances)
	sc := newScalingResult(instances)
	for _, depth := range []int{burstDepth / 2, burstDepth, burstDepth * 2} {
		var f runFigures
		if depth == burstDepth && len(res.burstRuns) > 0 {
			f = medianRun(res.burstRuns)
		} else {
			h.logf("scaling: %d backups over %d instances", instances*depth, instances)
			var err error
			if f, err = h.burstOnce(ctx, instances, depth); err != nil {
				return err
			}
			h.logf("scaling %d: %s", instances*depth, f.summary())
		}
		sc.add(f)
	}
	res.Scaling = sc
	return nil
}

// burstOnce applies depth DCSBackups to each of n instances with the
// manager running, and waits until all have finished.
func (h *harness) burstOnce(ctx context.Context, n, depth int) (runFigures, error) {
	f := runFigures{backups: n * depth, instances: n, depth: depth}
	ids := instanceIDs("burst", n)
	r, err := h.newRun(ctx, "burst", ids, h.cfg.backupDuration)
	if err != nil {
		return f, err
	}
	defer func() { _ = r.stop() }()
	if err := r.observe(ctx); err != nil {
		return f, err
	}
	if err := r.startManager(ctx); err != nil {
		return f, err
	}
	before, err := r.snapshot(ctx)
	if err != nil {
		return f, err
	}
	fed, err := r.createQueues(ctx, ids, depth, &f)
	if err != nil {
		return f, err
	}
	timeout := 5*time.Duration(depth)*h.cfg.backupDuration + 2*time.Minute
	if err := r.obs.waitFinished(ctx, f.backups, timeout); err != nil {
		return f, err
	}
	after, err := r.snapshot(ctx)
	if err != nil {
		return f, err
	}
	f.d = between(before, after)
	if f.rssMiB, f.heapMiB, err = r.managerFootprint(ctx); err != nil {
		return f, err
	}
	records, err := r.sim.Backups(ctx)
	if err != nil {
		return f, err
	}
	f.timing(r.obs.successes(), records, fed, h.cfg.backupDuration)
	f.warnings, f.warningNotes, err = r.warnings(ctx)
	return f, err
}

// createQueues creates depth backups per instance: first one for every
// instance, then the rest. It returns when every instance had its first
// backup: the makespan counts from then, so the time the API server takes
// to create 100 objects is not charged to the operator, while the rest
// are created as the first backups run (an instance's queue fills much
// faster than it drains).
func (r *runEnv) createQueues(ctx context.Context, ids []string, depth int, f *runFigures) (time.Time, error) {
	start := time.Now()
	first := make([]*backupv1alpha1.DCSBackup, 0, len(ids))
	rest := make([]*backupv1alpha1.DCSBackup, 0, len(ids)*(depth-1))
	for _, id := range ids {
		first = append(first, r.backup(id, 0))
	}
	for seq := 1; seq < depth; seq++ {
		for _, id := range ids {
			rest = append(rest, r.backup(id, seq))
		}
	}
	if err := createAll(ctx, r.h.c, r.h.cfg.workers, first); err != nil {
		return time.Time{}, err
	}
	fed := time.Now()
	if err := createAll(ctx, r.h.c, r.h.cfg.workers, rest); err != nil {
		return time.Time{}, err
	}
	f.createSeconds = time.Since(start).Seconds()
	return fed, nil
}

// timing computes the status lags, the makespan and the hand-off gaps
// from what the observer saw and the simulator's records.
func (f *runFigures) timing(seen map[string]success, records []simulator.BackupRecord, fed time.Time,
	duration time.Duration) {
	f.lag = statusLags(seen, records)
	var last time.Time
	for _, s := range seen {
		if s.at.After(last) {
			last = s.at
		}
	}
	f.makespan = last.Sub(fed).Seconds()
	f.ideal = (time.Duration(f.depth) * duration).Seconds()
	f.handoffP50 = percentile(handoffGaps(records), 50)
}

// statusLags is, per backup, the time from the simulator marking it
// finished to the watcher seeing Succeeded=True.
func statusLags(seen map[string]success, records []simulator.BackupRecord) lagStats {
	finished := make(map[string]time.Time, len(records))
	for _, rec := range records {
		finished[rec.ID] = rec.FinishedAt
	}
	lags := make([]float64, 0, len(seen))
	for _, s := range seen {
		if t, ok := finished[s.backupID]; ok && !t.IsZero() {
			lags = append(lags, s.at.Sub(t).Seconds())
		}
	}
	return newLagStats(lags)
}

// handoffGaps is, per instance, the idle time between one backup finishing
// in DCS and the next one being created: the operator's turn-taking cost.
func handoffGaps(records []simulator.BackupRecord) []float64 {
	byInstance := map[string][]simulator.BackupRecord{}
	for _, rec := range records {
		byInstance[rec.InstanceID] = append(byInstance[rec.InstanceID], rec)
	}
	var gaps []float64
	for _, recs := range byInstance {
		sort.Slice(recs, func(i, j int) bool { return recs[i].CreatedAt.Before(recs[j].CreatedAt) })
		for i := 1; i < len(recs); i++ {
			if !recs[i-1].FinishedAt.IsZero() {
				gaps = append(gaps, recs[i].CreatedAt.Sub(recs[i-1].FinishedAt).Seconds())
			}
		}
	}
	return gaps
}

func (f runFigures) summary() string {
	warn := ""
	for reason, n := range f.warnings {
		warn += fmt.Sprintf("; %d %s warnings (%s)", n, reason, f.warningNotes[reason])
	}
	return fmt.Sprintf("%.2f DCS requests/backup (%s), lag p95 %.2fs, makespan %.1fs (ideal %.0fs, %.2fx), "+
		"%d throttled, cpu %.1fs, rss %.0f MiB, %.1f reconciles/backup, %.1f API calls/backup%s",
		f.perBackup(float64(f.d.total)), opsText(f.d.requests, f.backups), f.lag.p95, f.makespan, f.ideal,
		f.makespan/f.ideal, f.d.throttled, f.d.cpu, f.rssMiB, f.perBackup(f.d.reconciles), f.perBackup(f.d.restCalls), warn)
}

func opsText(requests map[string]int, per int) string {
	ops := make([]string, 0, len(requests))
	for op := range requests {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	s := ""
	for i, op := range ops {
		if i > 0 {
			s += ", "
		}
		s += op + " " + strconv.FormatFloat(float64(requests[op])/float64(per), 'f', 2, 64)
	}
	return s
}
