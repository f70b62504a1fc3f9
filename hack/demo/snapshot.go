package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// snapshotTimeout bounds the reads of one refresh.
const snapshotTimeout = 5 * time.Second

// snapshot is what one refresh shows.
type snapshot struct {
	at        time.Time
	backups   []backupv1alpha1.DCSBackup
	schedules []backupv1alpha1.DCSBackupSchedule
	restores  []backupv1alpha1.DCSRestore
	storages  []backupv1alpha1.DCSBackupStorage
	// simulator and operator are one-line summaries.
	simulator string
	operator  string
	// err is a failed read of the API server.
	err error
}

// snapshot reads the backups, schedules, restores and storages of the
// namespace, the simulator's counters and the operator's resource use.
func (d *demo) snapshot(ctx context.Context) snapshot {
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	snap := snapshot{at: time.Now()}
	c := d.env.ControlPlane.Client
	var backups backupv1alpha1.DCSBackupList
	var schedules backupv1alpha1.DCSBackupScheduleList
	var restores backupv1alpha1.DCSRestoreList
	var storages backupv1alpha1.DCSBackupStorageList
	if snap.err = c.List(ctx, &backups, client.InNamespace(d.cfg.namespace)); snap.err == nil {
		snap.err = c.List(ctx, &schedules, client.InNamespace(d.cfg.namespace))
	}
	if snap.err == nil {
		snap.err = c.List(ctx, &restores, client.InNamespace(d.cfg.namespace))
	}
	if snap.err == nil {
		snap.err = c.List(ctx, &storages, client.InNamespace(d.cfg.namespace))
	}
	snap.backups, snap.schedules, snap.restores = backups.Items, schedules.Items, restores.Items
	snap.storages = storages.Items
	sortByCreation(snap.backups, func(b backupv1alpha1.DCSBackup) (time.Time, string) {
		return b.CreationTimestamp.Time, b.Name
	})
	sortByCreation(snap.schedules, func(s backupv1alpha1.DCSBackupSchedule) (time.Time, string) {
		return s.CreationTimestamp.Time, s.Name
	})
	snap.simulator = simulatorSummary(ctx, d.env.Simulator)
	snap.operator = operatorSummary(d.env.Manager)
	return snap
}

// sortByCreation sorts oldest first, then by name.
func sortByCreation[T any](items []T, key func(T) (time.Time, string)) {
	sort.SliceStable(items, func(i, j int) bool {
		ti, ni := key(items[i])
		tj, nj := key(items[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return ni < nj
	})
}

func (s snapshot) restore(name string) *backupv1alpha1.DCSRestore {
	for i := range s.restores {
		if s.restores[i].Name == name {
			return &s.restores[i]
		}
	}
	return nil
}

func (s snapshot) backup(name string) *backupv1alpha1.DCSBackup {
	for i := range s.backups {
		if s.backups[i].Name == name {
			return &s.backups[i]
		}
	}
	return nil
}

// children returns the DCSBackups the schedule created, oldest first.
func (s snapshot) children(schedule string) []backupv1alpha1.DCSBackup {
	var out []backupv1alpha1.DCSBackup
	for _, b := range s.backups {
		if b.Labels[backupv1alpha1.LabelSchedule] == schedule {
			out = append(out, b)
		}
	}
	return out
}

// simulatorSummary counts the API requests per operation and the backups
// per status: "12 requests (create 2, list-backups 10); backups: 1 backuping, 1 succeed".
func simulatorSummary(ctx context.Context, sim *localenv.Simulator) string {
	stats, err := sim.Stats(ctx)
	if err != nil {
		return "unreachable: " + err.Error()
	}
	backups, err := sim.Backups(ctx)
	if err != nil {
		return "unreachable: " + err.Error()
	}
	byStatus := map[string]int{}
	for _, b := range backups {
		byStatus[b.Status]++
	}
	requests := map[string]int{}
	for op, n := range stats.Requests {
		requests[string(op)] = n
	}
	return fmt.Sprintf("%d API requests (%s); backups: %s", stats.Total, counts(requests), counts(byStatus))
}

// counts formats a map as "a 1, b 2" in key order, "none" when empty.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// operatorSummary is the manager's pid, memory and CPU.
func operatorSummary(m *localenv.Manager) string {
	if m.Exited() {
		return "exited: " + fmt.Sprint(m.Wait())
	}
	u, err := localenv.ProcUsage(m.PID())
	if err != nil {
		return fmt.Sprintf("pid %d", m.PID())
	}
	return fmt.Sprintf("pid %d, RSS %d MiB, CPU %s", m.PID(), u.RSSBytes>>20, u.CPU.Round(10*time.Millisecond))
}
