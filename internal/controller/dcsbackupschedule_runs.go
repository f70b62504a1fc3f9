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

package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// loadChildren lists the DCSBackups this schedule made, newest first: those
// labelled with its UID, so that a schedule re-created under the same name
// does not take over (and prune) the children of the one before.
func (p *schedulePass) loadChildren(ctx context.Context) error {
	list := &backupv1alpha1.DCSBackupList{}
	if err := p.r.deps.Client.List(ctx, list, client.InNamespace(p.s.Namespace),
		client.MatchingFields{indexScheduleUID: string(p.s.UID)}); err != nil {
		return err
	}
	p.children = list.Items
	sort.Slice(p.children, func(i, j int) bool { return newerChild(&p.children[i], &p.children[j]) })
	return nil
}

// newerChild orders children by creation, newest first; the API server's
// clock orders them even when slots and run-now runs mix.
func newerChild(a, b *backupv1alpha1.DCSBackup) bool {
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a.Name > b.Name
}

func completedAt(b *backupv1alpha1.DCSBackup) time.Time {
	if b.Status.CompletedAt != nil {
		return b.Status.CompletedAt.Time
	}
	return b.CreationTimestamp.Time
}

// observeChildren derives active, the latest success and LastBackupSucceeded
// from the children.
func (p *schedulePass) observeChildren() {
	st := &p.s.Status
	st.Active = nil
	var latestFinished *backupv1alpha1.DCSBackup
	for i := range p.children {
		c := &p.children[i]
		if !isTerminalPhase(c.Status.Phase) {
			st.Active = append(st.Active, corev1.LocalObjectReference{Name: c.Name})
			continue
		}
		if latestFinished == nil {
			latestFinished = c
		}
		if c.Status.Phase == backupv1alpha1.PhaseSucceeded && c.Status.CompletedAt != nil &&
			(st.LastSuccessfulTime == nil || c.Status.CompletedAt.After(st.LastSuccessfulTime.Time)) {
			st.LastSuccessfulTime = c.Status.CompletedAt.DeepCopy()
			st.LastSuccessfulBackup = c.Name
		}
	}
	if st.LastSuccessfulTime != nil {
		ns, name, at := p.s.Namespace, p.s.Name, float64(st.LastSuccessfulTime.Unix())
		p.out.then(func() { scheduleLastSuccess.WithLabelValues(ns, name).Set(at) })
	}
	p.lastRunResult(latestFinished)
}

// lastRunResult sets LastBackupSucceeded from the latest finished child and
// counts a run when that child is new.
func (p *schedulePass) lastRunResult(latest *backupv1alpha1.DCSBackup) {
	old := p.condition(backupv1alpha1.ConditionLastBackupSucceeded)
	if latest == nil {
		if old == nil {
			p.setCondition(backupv1alpha1.ConditionLastBackupSucceeded, metav1.ConditionUnknown,
				backupv1alpha1.ReasonNoBackupYet, "no backup of this schedule has finished yet")
		}
		return
	}
	status, reason, result := metav1.ConditionTrue, backupv1alpha1.ReasonLastRunSucceeded, resultSucceeded
	msg := fmt.Sprintf("DCSBackup %s succeeded", latest.Name)
	if latest.Status.Phase != backupv1alpha1.PhaseSucceeded {
		status, reason, result = metav1.ConditionFalse, backupv1alpha1.ReasonLastRunFailed, resultFailed
		msg = fmt.Sprintf("DCSBackup %s ended %s: %s", latest.Name, latest.Status.Phase, succeededMessage(latest))
	}
	if old == nil || old.Message != msg {
		ns, name := p.s.Namespace, p.s.Name
		p.out.then(func() { scheduleRunsTotal.WithLabelValues(ns, name, result).Inc() })
	}
	p.setCondition(backupv1alpha1.ConditionLastBackupSucceeded, status, reason, msg)
}

func succeededMessage(b *backupv1alpha1.DCSBackup) string {
	if c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSucceeded); c != nil {
		return c.Message
	}
	return ""
}

// runNow starts one run for each new value of the run-now annotation. The
// child's name is derived from the value, so a retry finds it.
func (p *schedulePass) runNow(ctx context.Context) {
	token := p.s.Annotations[backupv1alpha1.AnnotationRunNow]
	if token == "" || token == p.s.Status.LastRunNowToken {
		return
	}
	name := runNowName(p.s.Name, token)
	if err := p.createChild(ctx, name, p.now); err != nil {
		p.createFailed(ctx, name, err)
		return
	}
	// The event goes with the status write that records the token: a
	// retried pass (the child already exists) does not announce it again.
	p.s.Status.LastRunNowToken = token
	p.out.event(false, "RunNow", fmt.Sprintf("created DCSBackup %s for run-now token %q", name, token))
}

// runNowName is the child name for a run-now token.
func runNowName(schedule, token string) string {
	return backupv1alpha1.RunNowChildName(schedule, token)
}

// runDue makes the run of the latest due slot, or skips it: at most one
// missed slot is ever caught up, and only within the starting deadline.
func (p *schedulePass) runDue(ctx context.Context) {
	st := &p.s.Status
	ref := p.s.CreationTimestamp.Time
	for _, t := range []*metav1.Time{st.LastScheduleTime, st.LastSkippedTime} {
		if t != nil && t.After(ref) {
			ref = t.Time
		}
	}
	slot, due := p.cron.mostRecent(ref, p.now)
	if !due || ptrValue(p.s.Spec.Suspend) {
		// A suspended schedule keeps its slots unconsumed: on resume the
		// latest one is caught up if it is within the deadline.
		return
	}
	missed := p.cron.countSlots(ref, slot)
	if reason := p.skipReason(slot); reason != "" {
		st.LastSkippedTime = &metav1.Time{Time: slot}
		p.countMissed(missed + 1)
		p.out.event(true, "MissedSchedule", fmt.Sprintf("skipped the run of %s%s: %s", p.slotText(slot),
			missedText(missed), reason))
		return
	}
	name := slotName(p.s.Name, slot)
	if err := p.createChild(ctx, name, slot); err != nil {
		p.createFailed(ctx, name, err)
		return
	}
	// Recorded in lastScheduleTime: the events and counts go out with that
	// status write, once per slot, even when a retried pass found the child
	// made by the pass that lost its write.
	st.LastScheduleTime = &metav1.Time{Time: slot}
	if missed > 0 {
		p.countMissed(missed)
		p.out.event(true, "MissedSchedule", fmt.Sprintf("%d earlier run(s) were missed; catching up once with the run of %s",
			missed, p.slotText(slot)))
	}
	p.out.event(false, "BackupScheduled", fmt.Sprintf("created DCSBackup %s for the run of %s", name, p.slotText(slot)))
}

// skipReason says why a due slot is not run, or "" to run it.
func (p *schedulePass) skipReason(slot time.Time) string {
	if d := p.s.Spec.StartingDeadlineSeconds; d != nil && p.now.Sub(slot) > time.Duration(*d)*time.Second {
		return fmt.Sprintf("it is %s late, more than startingDeadlineSeconds (%ds)",
			p.now.Sub(slot).Truncate(time.Second), *d)
	}
	if len(p.s.Status.Active) > 0 && p.hasRunningChild(slotName(p.s.Name, slot)) {
		return fmt.Sprintf("DCSBackup %s is still running (one backup per instance at a time)", p.s.Status.Active[0].Name)
	}
	if p.blocked != "" {
		return "the schedule is not ready: " + p.blocked
	}
	return ""
}

// hasRunningChild reports a running child other than the slot's own (which
// exists when a previous pass created it and lost the status write).
func (p *schedulePass) hasRunningChild(own string) bool {
	for _, a := range p.s.Status.Active {
		if a.Name != own {
			return true
		}
	}
	return false
}

func (p *schedulePass) slotText(slot time.Time) string {
	return slot.In(p.cron.loc).Format("2006-01-02 15:04 MST")
}

func missedText(n int) string {
	switch {
	case n == 0:
		return ""
	case n >= maxCountedMisses:
		return fmt.Sprintf(" and at least %d earlier runs", n)
	}
	return fmt.Sprintf(" and %d earlier run(s)", n)
}

// countMissed counts skipped runs once the status records them.
func (p *schedulePass) countMissed(n int) {
	ns, name := p.s.Namespace, p.s.Name
	p.out.then(func() { scheduleMissedRuns.WithLabelValues(ns, name).Add(float64(n)) })
}

// createChild creates a DCSBackup from the template, labelled with the
// schedule's name and UID. A child that already exists (a retried pass)
// counts as created: its name is derived from the run.
//
// The child carries no owner reference: deleting the schedule must never
// delete its backups, and with an owner reference the garbage collector
// would, whatever the operator did (foreground deletion deletes dependents
// before the owner's finalizers can act).
func (p *schedulePass) createChild(ctx context.Context, name string, slot time.Time) error {
	return p.createChildOf(ctx, name, slot, p.s.Spec.Template.Spec.InstanceID)
}

// createChildOf creates a child of the schedule that backs up instanceID.
func (p *schedulePass) createChildOf(ctx context.Context, name string, slot time.Time, instanceID string) error {
	s := p.s
	labels := maps.Clone(s.Spec.Template.Metadata.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[backupv1alpha1.LabelSchedule] = s.Name
	labels[backupv1alpha1.LabelScheduleUID] = string(s.UID)
	labels[backupv1alpha1.LabelInstance] = instanceID
	annotations := maps.Clone(s.Spec.Template.Metadata.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[backupv1alpha1.AnnotationScheduledTime] = slot.UTC().Format(time.RFC3339)
	child := &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: labels, Annotations: annotations},
		Spec:       backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: s.Spec.Template.Spec},
	}
	child.Spec.InstanceID = instanceID
	if err := p.r.deps.Client.Create(ctx, child); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if !slices.ContainsFunc(p.s.Status.Active, func(r corev1.LocalObjectReference) bool { return r.Name == name }) {
		p.s.Status.Active = append(p.s.Status.Active, corev1.LocalObjectReference{Name: name})
	}
	return nil
}

// createFailed shows a child the API server would not create (a quota, an
// admission policy, a template the DCSBackup schema rejects) in Ready and
// backs off; the run is tried again at the next pass.
func (p *schedulePass) createFailed(ctx context.Context, name string, err error) {
	log.FromContext(ctx).Error(err, "creating a backup of the schedule", "name", name)
	p.notReady(backupv1alpha1.ReasonCreateFailed, fmt.Sprintf("creating DCSBackup %s: %v", name, err), false,
		errorBackoff(p.coord().Failed(p.obj, p.s.UID), errorBackoffBase, errorBackoffLimit))
}

// freshness sets Fresh: False when no successful backup landed within the
// last two scheduled intervals.
func (p *schedulePass) freshness() {
	st := &p.s.Status
	start, ok := p.cron.freshnessStart(p.s.CreationTimestamp.Time, p.now)
	fresh := true
	switch {
	case !ok:
		p.setCondition(backupv1alpha1.ConditionFresh, metav1.ConditionTrue, backupv1alpha1.ReasonNotDueYet,
			"the schedule is younger than two scheduled intervals")
	case st.LastSuccessfulTime != nil && !st.LastSuccessfulTime.Time.Before(start):
		p.setCondition(backupv1alpha1.ConditionFresh, metav1.ConditionTrue, backupv1alpha1.ReasonRecentBackup,
			fmt.Sprintf("DCSBackup %s succeeded at %s", st.LastSuccessfulBackup, st.LastSuccessfulTime.UTC().Format(time.RFC3339)))
	default:
		fresh = false
		latest := "no backup of this schedule has succeeded yet"
		if st.LastSuccessfulTime != nil {
			latest = fmt.Sprintf("the latest, DCSBackup %s, succeeded at %s", st.LastSuccessfulBackup,
				st.LastSuccessfulTime.UTC().Format(time.RFC3339))
		}
		msg := fmt.Sprintf("no successful backup since %s (two scheduled intervals); %s", p.slotText(start), latest)
		if old := p.condition(backupv1alpha1.ConditionFresh); old == nil || old.Status != metav1.ConditionFalse {
			p.out.event(true, backupv1alpha1.ReasonBackupOverdue, msg)
		}
		p.setCondition(backupv1alpha1.ConditionFresh, metav1.ConditionFalse, backupv1alpha1.ReasonBackupOverdue, msg)
	}
	ns, name, v := p.s.Namespace, p.s.Name, boolGauge(fresh)
	p.out.then(func() { scheduleFresh.WithLabelValues(ns, name).Set(v) })
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
