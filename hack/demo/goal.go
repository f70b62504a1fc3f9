package main

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// goal is what --until-succeeded waits for: every sample DCSBackup
// Succeeded, exported if it has spec.export, and, with requireChild, a
// child DCSBackup of every sample schedule.
type goal struct {
	backups   []string
	schedules []string
	restores  []string
	// exports are the sample DCSBackups with spec.export.
	exports      []string
	requireChild bool
}

// goalStatus is how far the goal is.
type goalStatus struct {
	// done: reached; summary says how.
	done    bool
	summary string
	// pending lists what is still missing.
	pending []string
	// failed is set when the goal can no longer be reached.
	failed string
}

func newGoal(s *samples, requireChild bool) goal {
	g := goal{backups: s.backups, schedules: s.schedules, restores: s.restoreNames(), requireChild: requireChild}
	for _, name := range s.backups {
		if s.exports[name] != "" {
			g.exports = append(g.exports, name)
		}
	}
	return g
}

// terminalFailures are phases a backup never leaves.
var terminalFailures = map[backupv1alpha1.BackupPhase]bool{
	backupv1alpha1.PhaseFailed: true, backupv1alpha1.PhaseExpired: true, backupv1alpha1.PhaseDeleted: true,
}

func (g goal) check(snap snapshot) goalStatus {
	var st goalStatus
	var reached []string
	if snap.err != nil {
		st.pending = append(st.pending, "the API server: "+snap.err.Error())
	}
	for _, name := range g.backups {
		b := snap.backup(name)
		switch {
		case b == nil:
			st.pending = append(st.pending, "DCSBackup "+name+" to appear")
		case b.Status.Phase == backupv1alpha1.PhaseSucceeded:
			reached = append(reached, fmt.Sprintf("DCSBackup %s Succeeded (backup %s)", name, b.Status.BackupID))
		case terminalFailures[b.Status.Phase]:
			st.failed = fmt.Sprintf("DCSBackup %s ended %s (error code %q)", name, b.Status.Phase, b.Status.ErrorCode)
		default:
			st.pending = append(st.pending, fmt.Sprintf("DCSBackup %s to succeed (now %s)", name, phaseOf(b)))
		}
	}
	reached = append(reached, g.checkExports(snap, &st)...)
	reached = append(reached, g.checkRestores(snap, &st)...)
	if g.requireChild {
		reached = append(reached, g.checkChildren(snap, &st)...)
	}
	st.done = len(st.pending) == 0 && st.failed == ""
	st.summary = strings.Join(reached, "; ")
	return st
}

// checkChildren adds a pending item for every schedule without a child and
// returns what the others created.
func (g goal) checkChildren(snap snapshot, st *goalStatus) []string {
	var reached []string
	for _, name := range g.schedules {
		children := snap.children(name)
		if len(children) == 0 {
			st.pending = append(st.pending, "a child DCSBackup of schedule "+name+
				" (label "+backupv1alpha1.LabelSchedule+"="+name+")")
			continue
		}
		reached = append(reached, fmt.Sprintf("schedule %s created DCSBackup %s", name, children[0].Name))
	}
	return reached
}

// checkExports adds a pending item for every sample export that has not
// succeeded yet and returns those that did. A backup not yet succeeded is
// pending already.
func (g goal) checkExports(snap snapshot, st *goalStatus) []string {
	var reached []string
	for _, name := range g.exports {
		b := snap.backup(name)
		if b == nil || b.Status.Phase != backupv1alpha1.PhaseSucceeded {
			continue
		}
		e := b.Status.Export
		switch {
		case meta.IsStatusConditionTrue(b.Status.Conditions, backupv1alpha1.ConditionExported) && e != nil:
			reached = append(reached, fmt.Sprintf("DCSBackup %s exported (%s and manifest.json in bucket %s)",
				name, files(len(e.Objects)), e.Bucket))
		case e != nil && e.Phase == backupv1alpha1.ExportPhaseFailed:
			st.failed = fmt.Sprintf("the export of DCSBackup %s failed: %s", name, e.Message)
		default:
			st.pending = append(st.pending, fmt.Sprintf("the export of DCSBackup %s to succeed (now %s)", name,
				exportOf(b)))
		}
	}
	return reached
}

// checkRestores adds a pending item for every sample restore that has not
// succeeded yet and returns those that did.
func (g goal) checkRestores(snap snapshot, st *goalStatus) []string {
	var reached []string
	for _, name := range g.restores {
		r := snap.restore(name)
		switch {
		case r == nil:
			st.pending = append(st.pending, "DCSRestore "+name+" (applied once its backup succeeded)")
		case r.Status.Phase == backupv1alpha1.RestorePhaseSucceeded:
			reached = append(reached, fmt.Sprintf("DCSRestore %s Succeeded (restore %s)", name, r.Status.RestoreID))
		case r.Status.Phase == backupv1alpha1.RestorePhaseFailed:
			st.failed = fmt.Sprintf("DCSRestore %s failed: %s", name, reasonOf(r.Status.Conditions,
				backupv1alpha1.ConditionSucceeded))
		default:
			st.pending = append(st.pending, fmt.Sprintf("DCSRestore %s to succeed (now %s)", name,
				dash(string(r.Status.Phase))))
		}
	}
	return reached
}

func phaseOf(b *backupv1alpha1.DCSBackup) string {
	if b.Status.Phase == "" {
		return "not yet reconciled"
	}
	return string(b.Status.Phase)
}

// files is "1 file", "2 files".
func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}
