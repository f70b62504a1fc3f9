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
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// A fleet schedule (spec.instanceSelector) backs up every instance of its
// project that carries the given DCS tags: one child per instance per run,
// named after the run and the instance, so retries and restarts make no
// duplicates. Retention and freshness are per instance.

const (
	// fleetListInterval bounds the age of a fleet's instance list between
	// runs: instances tagged, stopped or removed show in status within it.
	fleetListInterval = 10 * time.Minute
	// fleetRunGrace is how long after the end of its start window a run
	// still creates the backups it has not made (an instance whose create
	// failed, a manager restart). An instance selected later than that is
	// backed up at the next run.
	fleetRunGrace = 10 * time.Minute
	// skippedGone is the skip reason of an instance the selector no longer
	// finds.
	skippedGone = "no longer selected: it lost the tags or was deleted; its backups are kept"
	// maxNamesInMessages bounds the instance and backup names a condition
	// message or an event lists.
	maxNamesInMessages = 10
)

func isFleet(s *backupv1alpha1.DCSBackupSchedule) bool { return s.Spec.InstanceSelector != nil }

// runFleet is the pass of a fleet schedule.
func (p *schedulePass) runFleet(ctx context.Context) time.Duration {
	p.observeChildren()
	p.listFleet(ctx)
	p.pruneFleet(ctx)
	next := p.runFleetRuns(ctx)
	p.fleetFreshness()
	p.pruneExports(ctx)
	wait := minPositive(p.retry, minPositive(next, p.untilNextSlot()))
	if at := p.s.Status.InstancesListedAt; at != nil {
		wait = minPositive(wait, max(minPoll, at.Add(fleetListInterval).Sub(p.now)))
	}
	return wait
}

// listFleet lists the instances with the selector's tags when a run is
// due, when the list is older than fleetListInterval, or for a new
// generation, and folds them into status.instances. Ready says whether the
// list worked and found instances.
func (p *schedulePass) listFleet(ctx context.Context) {
	s := p.s
	api, err := p.r.deps.Connector.Connect(ctx, s.Namespace, s.Spec.Template.Spec.Connection)
	if err != nil {
		p.connectFailed(ctx, err)
		return
	}
	p.api = api
	if !p.fleetListDue() {
		p.unproven = !p.coord().FailingSince(p.obj).IsZero()
		return
	}
	insts, err := api.ListInstances(ctx, dcs.ListInstancesOptions{Tags: s.Spec.InstanceSelector.Tags})
	if err != nil {
		if dcs.Classify(err) == dcs.ClassCanceled {
			p.failWith(conflictRequeue)
			return
		}
		p.dcsFailed(ctx, classifyFailure("listing the instances with the tags of spec.instanceSelector", err,
			fieldPaths{instanceID: "spec.instanceSelector.tags", connection: "spec.template.spec.connection",
				secret: s.Spec.Template.Spec.Connection.CredentialsSecretRef.Name}))
		return
	}
	s.Status.InstancesListedAt = &metav1.Time{Time: p.now}
	p.mergeInstances(insts)
	p.fleetReady()
}

// fleetListDue says whether the instance list must be read in this pass.
func (p *schedulePass) fleetListDue() bool {
	st := &p.s.Status
	ready := p.condition(backupv1alpha1.ConditionReady)
	switch {
	case st.InstancesListedAt == nil || p.now.Sub(st.InstancesListedAt.Time) >= fleetListInterval:
		return true
	case ready == nil || ready.ObservedGeneration != p.s.Generation || ready.Status != metav1.ConditionTrue:
		return true
	case p.s.Annotations[backupv1alpha1.AnnotationRunNow] != "" &&
		p.s.Annotations[backupv1alpha1.AnnotationRunNow] != st.LastRunNowToken:
		return true
	}
	_, due := p.cron.mostRecent(p.lastRunRef(), p.now)
	return due
}

// lastRunRef is the time after which slots are due: the latest run made or
// skipped, or the schedule's creation.
func (p *schedulePass) lastRunRef() time.Time {
	st := &p.s.Status
	ref := p.s.CreationTimestamp.Time
	for _, t := range []*metav1.Time{st.LastScheduleTime, st.LastSkippedTime} {
		if t != nil && t.After(ref) {
			ref = t.Time
		}
	}
	return ref
}

// instanceSkipReason says why an instance of the fleet cannot be backed
// up, or "".
func instanceSkipReason(inst dcs.Instance) string {
	switch {
	case inst.SingleNode():
		return "single-node: DCS cannot back it up"
	case !strings.EqualFold(inst.Status, "RUNNING"):
		return fmt.Sprintf("not RUNNING (status %s): DCS backs up running instances only", inst.Status)
	}
	return ""
}

// mergeInstances folds a fresh list into status.instances, with an event
// for the instances that joined or left the selection. Instances that left
// stay listed while the schedule has backups of them.
func (p *schedulePass) mergeInstances(listed []dcs.Instance) {
	st := &p.s.Status
	old := map[string]backupv1alpha1.ScheduleInstance{}
	for _, e := range st.Instances {
		old[e.InstanceID] = e
	}
	var joined, left []string
	merged := make([]backupv1alpha1.ScheduleInstance, 0, len(listed))
	seen := map[string]bool{}
	for _, inst := range listed {
		if inst.ID == "" || seen[inst.ID] {
			continue
		}
		seen[inst.ID] = true
		e, known := old[inst.ID]
		if !known || e.Skipped == skippedGone {
			joined = append(joined, inst.ID)
		}
		if !known {
			e = backupv1alpha1.ScheduleInstance{InstanceID: inst.ID, Since: &metav1.Time{Time: p.now}}
		}
		e.Name, e.Skipped = inst.Name, instanceSkipReason(inst)
		merged = append(merged, e)
	}
	haveChildren := p.childrenByInstance()
	for id, e := range old {
		if seen[id] || len(haveChildren[id]) == 0 {
			continue
		}
		if e.Skipped != skippedGone {
			left = append(left, id)
		}
		e.Skipped = skippedGone
		merged = append(merged, e)
	}
	sort.Slice(merged, func(i, j int) bool { return merged[i].InstanceID < merged[j].InstanceID })
	st.Instances = merged
	if len(joined) > 0 && len(old) > 0 {
		p.out.event(false, "InstancesSelected", fmt.Sprintf("%d instance(s) now carry the tags of "+
			"spec.instanceSelector and are backed up from the next run: %s", len(joined), listNames(joined)))
	}
	if len(left) > 0 {
		p.out.event(true, "InstancesGone", fmt.Sprintf("%d instance(s) no longer carry the tags or were deleted; "+
			"their backups are kept: %s", len(left), listNames(left)))
	}
}

// fleetReady sets Ready from the instance list.
func (p *schedulePass) fleetReady() {
	var eligible, skipped []string
	for _, e := range p.s.Status.Instances {
		switch e.Skipped {
		case "":
			eligible = append(eligible, e.InstanceID)
		case skippedGone:
		default:
			skipped = append(skipped, e.InstanceID+" ("+e.Skipped+")")
		}
	}
	if len(eligible)+len(skipped) == 0 {
		p.notReady(backupv1alpha1.ReasonNoInstancesSelected, fmt.Sprintf("no instance of project %s carries the tags %s "+
			"(spec.instanceSelector.tags): nothing is backed up; the list is read again every %s",
			p.s.Spec.Template.Spec.Connection.ProjectID, formatTags(p.s.Spec.InstanceSelector.Tags), fleetListInterval),
			true, fleetListInterval)
		return
	}
	msg := fmt.Sprintf("schedule, time zone and credentials check out; %d instance(s) carry the tags %s: %d backed up",
		len(eligible)+len(skipped), formatTags(p.s.Spec.InstanceSelector.Tags), len(eligible))
	if len(skipped) > 0 {
		msg += fmt.Sprintf(", %d skipped: %s", len(skipped), listNames(skipped))
	}
	advice := p.dcsCapAdvice()
	if advice != "" {
		p.out.event(true, backupv1alpha1.ReasonRetentionExceedsDCSCap, strings.TrimPrefix(advice, "; note: "))
	}
	p.setCondition(backupv1alpha1.ConditionReady, metav1.ConditionTrue, backupv1alpha1.ReasonReady, msg+advice)
}

// eligible returns the instances the fleet backs up, in order.
func (p *schedulePass) eligible() []string {
	var out []string
	for _, e := range p.s.Status.Instances {
		if e.Skipped == "" {
			out = append(out, e.InstanceID)
		}
	}
	return out
}

// childrenByInstance groups the schedule's children (newest first) by
// the instance they back up.
func (p *schedulePass) childrenByInstance() map[string][]backupv1alpha1.DCSBackup {
	out := map[string][]backupv1alpha1.DCSBackup{}
	for _, c := range p.children {
		out[c.Spec.InstanceID] = append(out[c.Spec.InstanceID], c)
	}
	return out
}

// pruneFleet applies the retention to each instance's backups on its own;
// an instance that left the selection keeps all of its backups.
func (p *schedulePass) pruneFleet(ctx context.Context) {
	gone := map[string]bool{}
	for _, e := range p.s.Status.Instances {
		if e.Skipped == skippedGone {
			gone[e.InstanceID] = true
		}
	}
	for id, children := range p.childrenByInstance() {
		if !gone[id] {
			p.pruneChildren(ctx, children)
		}
	}
}

// fleetChildName is the name of the backup of instanceID for a run: the
// schedule's name, the run (slot or run-now token) and the instance.
func fleetChildName(schedule, run, instanceID string) string {
	return backupv1alpha1.FleetChildName(schedule, run, instanceID)
}

// instanceSuffix is an instance ID as part of an object name.
func instanceSuffix(id string) string {
	return backupv1alpha1.InstanceNameSuffix(id)
}

// fleetOffset is an instance's stable offset within a start window.
func fleetOffset(instanceID string, window time.Duration) time.Duration {
	if window <= 0 {
		return 0
	}
	sum := sha256.Sum256([]byte(instanceID))
	return time.Duration(binary.BigEndian.Uint64(sum[:8]) % uint64(window))
}

// runFleetRuns starts the due run (or skips it), makes the backups of the
// current run whose offset has come, and handles run-now. It returns when
// the next backup of the current run is due (0: none).
func (p *schedulePass) runFleetRuns(ctx context.Context) time.Duration {
	p.runNowFleet(ctx)
	p.startFleetRun()
	if cur := p.s.Status.LastScheduleTime; cur != nil && p.blocked == "" {
		return p.createFleetRun(ctx, cur.Time)
	}
	return 0
}

// startFleetRun records the latest due slot as the current run, or skips
// it (the whole run) like a schedule of one instance.
func (p *schedulePass) startFleetRun() {
	st := &p.s.Status
	ref := p.lastRunRef()
	slot, due := p.cron.mostRecent(ref, p.now)
	if !due || ptrValue(p.s.Spec.Suspend) {
		return
	}
	missed := p.cron.countSlots(ref, slot)
	if reason := p.fleetSkipReason(slot); reason != "" {
		st.LastSkippedTime = &metav1.Time{Time: slot}
		p.countMissed(missed + 1)
		p.out.event(true, "MissedSchedule", fmt.Sprintf("skipped the run of %s%s: %s", p.slotText(slot),
			missedText(missed), reason))
		return
	}
	st.LastScheduleTime = &metav1.Time{Time: slot}
	if missed > 0 {
		p.countMissed(missed)
		p.out.event(true, "MissedSchedule", fmt.Sprintf("%d earlier run(s) were missed; catching up once with the run of %s",
			missed, p.slotText(slot)))
	}
}

// fleetSkipReason says why a whole run is skipped, or "".
func (p *schedulePass) fleetSkipReason(slot time.Time) string {
	if d := p.s.Spec.StartingDeadlineSeconds; d != nil && p.now.Sub(slot) > time.Duration(*d)*time.Second+p.window() {
		return fmt.Sprintf("it is %s late, more than startingDeadlineSeconds (%ds)",
			p.now.Sub(slot).Truncate(time.Second), *d)
	}
	if p.blocked != "" {
		return "the schedule is not ready: " + p.blocked
	}
	return ""
}

func (p *schedulePass) window() time.Duration {
	if w := p.s.Spec.StartWindow; w != nil {
		return w.Duration
	}
	return 0
}

// createFleetRun makes the backups of the run of slot whose offset in the
// start window has come and that do not exist yet. An instance whose
// previous backup still runs is skipped for this run (one operation per
// instance). It returns when the next offset comes (0: none left).
func (p *schedulePass) createFleetRun(ctx context.Context, slot time.Time) time.Duration {
	window := p.window()
	if p.now.After(slot.Add(window + fleetRunGrace)) {
		return 0
	}
	run := slot.UTC().Format("200601021504")
	existing := map[string]bool{}
	running := map[string]string{}
	for _, c := range p.children {
		existing[c.Name] = true
		if !isTerminalPhase(c.Status.Phase) {
			running[c.Spec.InstanceID] = c.Name
		}
	}
	var next time.Duration
	var created, busy, late []string
	for _, id := range p.eligible() {
		name := fleetChildName(p.s.Name, run, id)
		dueAt := slot.Add(fleetOffset(id, window))
		switch {
		case existing[name]:
			continue
		case p.now.Before(dueAt):
			next = minPositive(next, dueAt.Sub(p.now)+slotSlack)
			continue
		case running[id] != "":
			busy = append(busy, id)
			continue
		case p.tooLate(dueAt):
			late = append(late, id)
			continue
		}
		if err := p.createChildOf(ctx, name, slot, id); err != nil {
			p.createFailed(ctx, name, err)
			break
		}
		created = append(created, name)
	}
	p.announceFleetRun(slot, created, busy, late)
	return next
}

// tooLate says whether a backup due at dueAt is past the starting deadline.
func (p *schedulePass) tooLate(dueAt time.Time) bool {
	d := p.s.Spec.StartingDeadlineSeconds
	return d != nil && p.now.Sub(dueAt) > time.Duration(*d)*time.Second
}

// announceFleetRun emits one event for what a pass did of a run. Skipped
// instances are not counted again by later passes: their backup for the
// run does not exist and they stay skipped, so the announcement of a skip
// comes with the pass that first found it, and the status write records it
// by the absence of the backup.
func (p *schedulePass) announceFleetRun(slot time.Time, created, busy, late []string) {
	if len(created) > 0 {
		p.out.event(false, "BackupScheduled", fmt.Sprintf("created %d DCSBackup(s) for the run of %s: %s",
			len(created), p.slotText(slot), listNames(created)))
	}
	if n := len(busy) + len(late); n > 0 && !p.skipAnnounced(slot) {
		var parts []string
		if len(busy) > 0 {
			parts = append(parts, fmt.Sprintf("%d whose previous backup still runs (%s)", len(busy), listNames(busy)))
		}
		if len(late) > 0 {
			parts = append(parts, fmt.Sprintf("%d past startingDeadlineSeconds (%s)", len(late), listNames(late)))
		}
		p.countMissed(n)
		p.out.event(true, "MissedSchedule", fmt.Sprintf("the run of %s skips %s", p.slotText(slot),
			strings.Join(parts, " and ")))
		p.s.Status.LastSkippedTime = &metav1.Time{Time: slot}
	}
}

// skipAnnounced says whether skips of this run were already announced
// (recorded in lastSkippedTime).
func (p *schedulePass) skipAnnounced(slot time.Time) bool {
	t := p.s.Status.LastSkippedTime
	return t != nil && !t.Time.Before(slot)
}

// runNowFleet makes one backup of every instance of the fleet for each new
// value of the run-now annotation.
func (p *schedulePass) runNowFleet(ctx context.Context) {
	token := p.s.Annotations[backupv1alpha1.AnnotationRunNow]
	if token == "" || token == p.s.Status.LastRunNowToken || p.blocked != "" || p.api == nil {
		return
	}
	run := backupv1alpha1.RunNowRun(token)
	var created []string
	for _, id := range p.eligible() {
		name := fleetChildName(p.s.Name, run, id)
		if err := p.createChildOf(ctx, name, p.now, id); err != nil {
			p.createFailed(ctx, name, err)
			return
		}
		created = append(created, name)
	}
	p.s.Status.LastRunNowToken = token
	p.out.event(false, "RunNow", fmt.Sprintf("created %d DCSBackup(s) for run-now token %q: %s", len(created), token,
		listNames(created)))
}

// fleetFreshness sets each instance's latest success and freshness, and
// the schedule's Fresh: False when an instance it backs up (selected, not
// single-node) had no successful backup within the last two scheduled
// intervals since it was selected. The message names them.
func (p *schedulePass) fleetFreshness() {
	byInstance := p.childrenByInstance()
	var stale, counted []string
	var oldest *metav1.Time
	for i := range p.s.Status.Instances {
		e := &p.s.Status.Instances[i]
		e.LastSuccessfulTime, e.LastSuccessfulBackup = latestSuccess(byInstance[e.InstanceID])
		notBefore := p.s.CreationTimestamp.Time
		if e.Since != nil && e.Since.After(notBefore) {
			notBefore = e.Since.Time
		}
		start, due := p.cron.freshnessStart(notBefore, p.now)
		e.Fresh = !due || (e.LastSuccessfulTime != nil && !e.LastSuccessfulTime.Time.Before(start))
		if e.Skipped == skippedGone || strings.HasPrefix(e.Skipped, "single-node") {
			continue
		}
		counted = append(counted, e.InstanceID)
		if !e.Fresh {
			stale = append(stale, e.InstanceID)
		}
		if oldest == nil || (e.LastSuccessfulTime != nil && e.LastSuccessfulTime.Before(oldest)) {
			oldest = e.LastSuccessfulTime
		}
	}
	p.setFleetFresh(counted, stale)
	p.fleetMetrics(oldest)
}

func (p *schedulePass) setFleetFresh(counted, stale []string) {
	switch {
	case len(counted) == 0:
		p.setCondition(backupv1alpha1.ConditionFresh, metav1.ConditionTrue, backupv1alpha1.ReasonNotDueYet,
			"no selected instance to back up yet")
	case len(stale) == 0:
		p.setCondition(backupv1alpha1.ConditionFresh, metav1.ConditionTrue, backupv1alpha1.ReasonRecentBackup,
			fmt.Sprintf("every one of the %d instance(s) had a successful backup within the last two scheduled intervals",
				len(counted)))
	default:
		msg := fmt.Sprintf("%d of %d instance(s) had no successful backup within the last two scheduled intervals: %s",
			len(stale), len(counted), listNames(stale))
		if old := p.condition(backupv1alpha1.ConditionFresh); old == nil || old.Status != metav1.ConditionFalse ||
			old.Message != msg {
			p.out.event(true, backupv1alpha1.ReasonBackupOverdue, msg)
		}
		p.setCondition(backupv1alpha1.ConditionFresh, metav1.ConditionFalse, backupv1alpha1.ReasonBackupOverdue, msg)
	}
}

// fleetMetrics exports the freshness per instance, and as the schedule's
// last success the oldest of its instances' (the one an RPO alert must
// see).
func (p *schedulePass) fleetMetrics(oldest *metav1.Time) {
	ns, name := p.s.Namespace, p.s.Name
	type point struct {
		id    string
		fresh float64
		last  float64
	}
	var points []point
	for _, e := range p.s.Status.Instances {
		if e.Skipped == skippedGone {
			continue
		}
		pt := point{id: e.InstanceID, fresh: boolGauge(e.Fresh)}
		if e.LastSuccessfulTime != nil {
			pt.last = float64(e.LastSuccessfulTime.Unix())
		}
		points = append(points, pt)
	}
	fresh := boolGauge(p.condition(backupv1alpha1.ConditionFresh).Status == metav1.ConditionTrue)
	p.out.then(func() {
		scheduleInstanceFresh.DeletePartialMatch(map[string]string{labelNamespace: ns, labelSchedule: name})
		scheduleInstanceLastSuccess.DeletePartialMatch(map[string]string{labelNamespace: ns, labelSchedule: name})
		for _, pt := range points {
			scheduleInstanceFresh.WithLabelValues(ns, name, pt.id).Set(pt.fresh)
			if pt.last > 0 {
				scheduleInstanceLastSuccess.WithLabelValues(ns, name, pt.id).Set(pt.last)
			}
		}
		scheduleFresh.WithLabelValues(ns, name).Set(fresh)
		if oldest != nil {
			scheduleLastSuccess.WithLabelValues(ns, name).Set(float64(oldest.Unix()))
		}
	})
}

// latestSuccess is the latest successful backup among children.
func latestSuccess(children []backupv1alpha1.DCSBackup) (*metav1.Time, string) {
	var at *metav1.Time
	var name string
	for i := range children {
		c := &children[i]
		if c.Status.Phase == backupv1alpha1.PhaseSucceeded && c.Status.CompletedAt != nil &&
			(at == nil || c.Status.CompletedAt.After(at.Time)) {
			at, name = c.Status.CompletedAt.DeepCopy(), c.Name
		}
	}
	return at, name
}

// listNames lists at most maxNamesInMessages names, then how many more.
func listNames(names []string) string {
	if len(names) <= maxNamesInMessages {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxNamesInMessages], ", ") + fmt.Sprintf(" and %d more", len(names)-maxNamesInMessages)
}

func formatTags(tags map[string]string) string {
	parts := make([]string, 0, len(tags))
	for k, v := range tags {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
