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
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// start gets the backup a DCS backup ID: by adopting spec.backupID, by
// finding the backup an earlier pass created before it crashed, or by
// creating one. It reports whether to poll the record now; a backup created
// in this pass is first looked at when it may have made progress.
func (p *backupPass) start(ctx context.Context) (time.Duration, bool) {
	b := p.b
	if b.Spec.BackupID != "" {
		b.Status.BackupID = b.Spec.BackupID
		p.out.event(false, "BackupAdopted", fmt.Sprintf("tracking existing DCS backup %s", b.Spec.BackupID))
		return 0, true
	}
	if b.Status.CreateRequestedAt != nil {
		found, wait, err := p.recover(ctx)
		if err != nil {
			return wait, false
		}
		if found {
			return 0, true
		}
	}
	return p.create(ctx)
}

// busyByOthers is the waiting message of a backup whose instance DCS
// reports busy with an operation the operator did not start.
const busyByOthers = "DCS reports the instance busy with another operation (a console, automatic or restore " +
	"operation); the backup starts when it is free"

// recover looks for a backup created by an earlier pass whose answer was
// lost (crash, timeout, a failed status write): the create intent is on the
// resource, and the backup's remark carries the resource's UID.
func (p *backupPass) recover(ctx context.Context) (bool, time.Duration, error) {
	b := p.b
	begin := b.Status.CreateRequestedAt.Add(-recoveryWindow)
	records, err := p.api.ListBackups(ctx, b.Spec.InstanceID, dcs.ListOptions{Begin: begin})
	if err != nil {
		return false, p.dcsFailed(ctx, "looking for the backup requested at "+
			b.Status.CreateRequestedAt.UTC().Format(time.RFC3339), err), err
	}
	p.synced()
	rec, ok := findByToken(records, b.UID)
	if !ok {
		log.FromContext(ctx).Info("no backup found for the recorded create intent; creating it",
			"intent", b.Status.CreateRequestedAt.UTC())
		return false, 0, nil
	}
	applyRecord(b, rec, p.now)
	p.out.event(false, "BackupAdopted", fmt.Sprintf("found DCS backup %s, requested before the operator restarted", rec.ID))
	return true, 0, nil
}

// create asks DCS for a backup once the instance is free. The intent is
// written first, with optimistic locking, so that a pass working from a
// stale cache cannot create a second backup, and a crash after the call
// leaves a trace to recover from.
func (p *backupPass) create(ctx context.Context) (time.Duration, bool) {
	b := p.b
	if wait := p.coord().HeldOff(p.key); wait > 0 {
		// The instance answered busy for something the operator did not
		// start: every backup of it waits the same hold-off.
		p.waitForInstance(busyByOthers, busyByOthers)
		return jitter(wait, 0.1), false
	}
	holder, ok, err := p.coord().Acquire(ctx, p.key, p.holder())
	if err != nil {
		log.FromContext(ctx).Error(err, "checking other operations on the instance")
		return errorBackoffBase, false
	}
	if !ok {
		// The condition does not name the backup ahead: that changes at
		// every hand-over, and then only the next in line is woken
		// (nextInLine), so a name would go stale, or cost a status write
		// per waiting backup per hand-over. The event, a record of the
		// moment, names it.
		p.waitForInstance("waiting for its turn: another operation of the operator runs on the instance, and DCS "+
			"runs one operation per instance at a time", fmt.Sprintf("waiting for %s to finish: DCS runs one operation per "+
			"instance at a time", holder))
		return waitingDelay(p.now.Sub(b.CreationTimestamp.Time)), false
	}
	if err := p.writeIntent(ctx); err != nil {
		p.coord().Release(p.key, b.UID)
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return conflictRequeue, false
		}
		log.FromContext(ctx).Error(err, "recording the create intent")
		return errorBackoffBase, false
	}
	id, err := p.api.CreateBackup(ctx, b.Spec.InstanceID, dcs.CreateBackupRequest{
		Remark: remarkFor(b.Spec.DCSBackupTemplateSpec, b.UID),
		Format: dcs.BackupFormat(b.Spec.Format),
	})
	if err != nil {
		return p.createFailed(ctx, err), false
	}
	p.synced()
	p.coord().ClearHoldOff(p.key)
	p.coord().InvalidateRecords(p.key)
	p.coord().MarkActive(p.key)
	b.Status.BackupID = id
	b.Status.Phase = backupv1alpha1.PhaseWaiting
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonWaiting,
		fmt.Sprintf("DCS accepted backup %s", id))
	p.out.event(false, "BackupStarted", fmt.Sprintf("DCS backup %s of instance %s started", id, b.Spec.InstanceID))
	p.timed = true
	return jitter(activePollDelay(0, 0, "", p.coord().ExpectedDuration(p.key)), pollJitter), false
}

// writeIntent records the create intent on the resource before the call.
func (p *backupPass) writeIntent(ctx context.Context) error {
	p.b.Status.CreateRequestedAt = timeOrNil(p.now)
	if err := p.r.deps.Client.Status().Patch(ctx, p.b, client.MergeFromWithOptions(p.orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	p.orig = p.b.DeepCopy()
	p.coord().MarkStarted(p.obj, p.b.UID, p.now)
	return nil
}

// createFailed handles a failed create call. An answer from DCS means no
// backup was made, so the intent is withdrawn; a lost answer (timeout,
// connection reset) keeps it, and the next pass looks before creating.
func (p *backupPass) createFailed(ctx context.Context, err error) time.Duration {
	b := p.b
	class := dcs.Classify(err)
	if class != dcs.ClassTransient && class != dcs.ClassCanceled {
		b.Status.CreateRequestedAt = nil
		p.coord().Release(p.key, b.UID)
		p.coord().ClearStarted(p.obj)
	}
	wait := p.dcsFailed(ctx, "creating the backup", err)
	if class == dcs.ClassBusy {
		p.waitForInstance(busyByOthers, busyByOthers)
		p.coord().HoldOff(p.key, wait)
	}
	return wait
}

// waitForInstance sets the condition of a backup waiting for its instance,
// with an event (note) when it starts waiting.
func (p *backupPass) waitForInstance(msg, note string) {
	b := p.b
	if b.Status.Phase != backupv1alpha1.PhaseWaiting {
		p.out.event(false, backupv1alpha1.ReasonWaitingForInstance, note)
	}
	b.Status.Phase = backupv1alpha1.PhaseWaiting
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonWaitingForInstance, msg)
}

// poll reads the running backup's record and reports its progress.
func (p *backupPass) poll(ctx context.Context) time.Duration {
	b := p.b
	rec, found, err := p.findRecord(dcs.WithYield(ctx))
	if after, ok := dcs.Yielded(err); ok {
		// Creates wait for the budget: they go first, and this poll
		// comes back once they are sent.
		p.yielded = true
		return jitter(after, pollJitter)
	}
	if err != nil {
		return p.dcsFailed(ctx, "reading the backup record", err)
	}
	p.synced()
	if !found {
		return p.missing()
	}
	before := b.Status.Phase
	applyRecord(b, rec, p.now)
	if !isTerminalPhase(b.Status.Phase) {
		p.timed = true
		return jitter(activePollDelay(p.elapsed(), p.running(rec), rec.Progress, p.coord().ExpectedDuration(p.key)), pollJitter)
	}
	p.finished(before, rec)
	if b.Status.Phase == backupv1alpha1.PhaseSucceeded {
		// From now on the backup is idle: the coordinator reads its
		// instance's lists and wakes it when they change for it.
		p.coord().Watch(p.watch())
	}
	return 0
}

// findRecord lists the instance's backups created since the backup was
// requested (a narrow window keeps the list to one short page), then, if the
// record is not there, all of them.
func (p *backupPass) findRecord(ctx context.Context) (dcs.Backup, bool, error) {
	b := p.b
	opts := dcs.ListOptions{}
	if since := p.since(); !since.IsZero() {
		opts.Begin = since.Add(-recoveryWindow)
	}
	records, err := p.api.ListBackups(ctx, b.Spec.InstanceID, opts)
	if err != nil {
		return dcs.Backup{}, false, err
	}
	if rec, ok := findByID(records, b.Status.BackupID); ok || opts.Begin.IsZero() {
		return rec, ok, nil
	}
	records, err = p.api.ListBackups(ctx, b.Spec.InstanceID, dcs.ListOptions{})
	if err != nil {
		return dcs.Backup{}, false, err
	}
	rec, ok := findByID(records, b.Status.BackupID)
	return rec, ok, nil
}

// since is when the operator asked for the backup, or when DCS created it.
func (p *backupPass) since() time.Time {
	if t := p.b.Status.CreateRequestedAt; t != nil {
		return p.coord().StartedAt(p.obj, p.b.UID, t.Time)
	}
	if t := p.b.Status.StartedAt; t != nil {
		return t.Time
	}
	return time.Time{}
}

func (p *backupPass) elapsed() time.Duration {
	since := p.since()
	if since.IsZero() {
		return 0
	}
	return p.now.Sub(since)
}

// running is how long DCS has been writing the backup, in the operator's
// time: elapsed minus the time DCS kept it queued (execution_at minus
// created_at, both DCS times, so clock skew cancels out); 0 when unknown.
func (p *backupPass) running(rec dcs.Backup) time.Duration {
	if rec.ExecutionAt.IsZero() || rec.CreatedAt.IsZero() || rec.ExecutionAt.Before(rec.CreatedAt) {
		return 0
	}
	return max(0, p.elapsed()-rec.ExecutionAt.Sub(rec.CreatedAt))
}

// missing handles a backup ID that DCS does not list.
func (p *backupPass) missing() time.Duration {
	b := p.b
	if b.Spec.BackupID == "" && p.elapsed() < missingGrace {
		// Just created: give DCS a moment to list it.
		p.timed = true
		return time.Second
	}
	msg := fmt.Sprintf("DCS lists no backup %s for instance %s", b.Status.BackupID, b.Spec.InstanceID)
	if b.Spec.BackupID != "" {
		b.Status.Phase = backupv1alpha1.PhaseFailed
		p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionFalse, backupv1alpha1.ReasonBackupNotFound,
			msg+"; check spec.backupID")
		p.out.event(true, backupv1alpha1.ReasonBackupNotFound, msg)
	} else {
		b.Status.Phase = backupv1alpha1.PhaseDeleted
		p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionFalse, backupv1alpha1.ReasonBackupDeleted, msg)
		p.out.event(true, "BackupDeleted", msg)
	}
	p.coord().Release(p.key, b.UID)
	p.coord().ClearStarted(p.obj)
	return 0
}

// finished records a backup that reached a final state in this pass.
func (p *backupPass) finished(before backupv1alpha1.BackupPhase, rec dcs.Backup) {
	b := p.b
	p.coord().Release(p.key, b.UID)
	p.coord().ClearStarted(p.obj)
	p.coord().MarkActive(p.key)
	if isTerminalPhase(before) {
		return
	}
	result := map[backupv1alpha1.BackupPhase]string{
		backupv1alpha1.PhaseSucceeded: resultSucceeded, backupv1alpha1.PhaseFailed: resultFailed,
		backupv1alpha1.PhaseExpired: "expired", backupv1alpha1.PhaseDeleted: "deleted",
	}[b.Status.Phase]
	ns, key := b.Namespace, p.key
	p.out.then(func() { backupsTotal.WithLabelValues(ns, result).Inc() })
	if b.Status.Phase != backupv1alpha1.PhaseSucceeded {
		p.out.event(true, "Backup"+string(b.Status.Phase), recordMessage(rec))
		return
	}
	if took := rec.UpdatedAt.Sub(rec.CreatedAt); took > 0 {
		p.out.then(func() {
			p.coord().ObserveDuration(key, took)
			backupDuration.Observe(took.Seconds())
		})
	}
	p.out.event(false, "BackupSucceeded", recordMessage(rec))
}

// watchFinished keeps a succeeded backup's restores and record up to date
// from the instance's lists, which the coordinator reads in the background
// for every object of the instance and which wake this backup when they
// change for it: an idle backup has no timer of its own and costs nothing.
func (p *backupPass) watchFinished(ctx context.Context) time.Duration {
	p.coord().Watch(p.watch())
	if err := p.coord().ObservationError(p.key); err != nil {
		// The coordinator wakes the backup when the reads work again.
		p.dcsFailed(ctx, "reading the instance's restore and backup records", err)
		return 0
	}
	restores, _, ok := p.coord().CachedRestores(p.key)
	if !ok {
		// Not read yet (a restart): the first read wakes the backup if it
		// has news for it.
		return 0
	}
	p.noteRestoreChange(restores)
	if records, _, ok := p.coord().CachedRecords(p.key); ok {
		p.recheckRecord(records)
	}
	p.synced()
	return 0
}

// watch is the backup's watch on its instance's lists.
func (p *backupPass) watch() instance.Watch {
	connect, connectKey := watchConnect(p.r.deps.Connector, p.b.Namespace, p.b.Spec.Connection)
	return instance.Watch{
		Object: p.obj, UID: p.b.UID, Key: p.key, Connect: connect, ConnectKey: connectKey,
		Digest: backupDigest(p.b.Status.BackupID),
		Shown:  shownDigest(p.b.Status.Restores),
	}
}

// backupDigest summarises what a finished DCSBackup shows of its
// instance's lists: the newest restores of its backup (as status.restores
// lists them) and whether its record expired or was deleted in DCS.
func backupDigest(backupID string) func([]dcs.Restore, []dcs.Backup) uint64 {
	return func(restores []dcs.Restore, records []dcs.Backup) uint64 {
		b := &backupv1alpha1.DCSBackup{}
		b.Status.BackupID = backupID
		applyRestores(b, restores, time.Time{})
		d := restoreDigest(b.Status.Restores)
		if rec, ok := findByID(records, backupID); ok && (rec.Status == dcs.BackupExpired || rec.Status == dcs.BackupDeleted) {
			d = hashStrings(d, string(rec.Status))
		}
		return d
	}
}

// shownDigest is backupDigest of what a succeeded backup's status shows.
func shownDigest(restores []backupv1alpha1.RestoreRecord) uint64 { return restoreDigest(restores) }

func restoreDigest(restores []backupv1alpha1.RestoreRecord) uint64 {
	var d uint64
	for _, r := range restores {
		d = hashStrings(d, r.RestoreID, r.Status, r.Progress, r.ErrorCode)
	}
	return d
}

// hashStrings folds strings into a running FNV-1a hash.
func hashStrings(seed uint64, parts ...string) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], seed)
	_, _ = h.Write(buf[:])
	for _, s := range parts {
		_, _ = h.Write([]byte(s))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// noteRestoreChange applies the restore records and emits an event when the
// Restored condition moves.
func (p *backupPass) noteRestoreChange(restores []dcs.Restore) {
	before := restoredState(p.b)
	applyRestores(p.b, restores, p.now)
	after := restoredState(p.b)
	if after == nil || (before != nil && before.Status == after.Status && before.Message == after.Message) {
		return
	}
	p.out.event(after.Status == metav1.ConditionFalse, after.Reason, after.Message)
}

// restoredState is a copy of the Restored condition, to compare before and
// after the restore records are applied.
func restoredState(b *backupv1alpha1.DCSBackup) *metav1.Condition {
	if c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionRestored); c != nil {
		cp := *c
		return &cp
	}
	return nil
}

// recheckRecord applies the backup's own record from the instance's list,
// which the coordinator re-reads rarely, to see it expire or be deleted in
// DCS (also by DCS's own eviction of the oldest of 24 backups).
func (p *backupPass) recheckRecord(records []dcs.Backup) {
	b := p.b
	rec, ok := findByID(records, b.Status.BackupID)
	if !ok || (rec.Status != dcs.BackupExpired && rec.Status != dcs.BackupDeleted) {
		// The list may have been read before this backup finished: only
		// the ways a succeeded backup can end count as news.
		return
	}
	before := b.Status.Phase
	applyRecord(b, rec, p.now)
	if before != b.Status.Phase {
		p.finished(before, rec)
	}
}

// finalize deletes the cloud backup of a DCSBackup with deletionPolicy
// Delete, then lets the resource go.
func (r *DCSBackupReconciler) finalize(ctx context.Context, b *backupv1alpha1.DCSBackup) (ctrl.Result, error) {
	p := r.newPass(b)
	if controllerutil.ContainsFinalizer(b, backupv1alpha1.Finalizer) {
		p.initConditions()
		if wait, done := p.deleteCloudBackup(ctx); !done {
			return p.commit(ctx, wait)
		}
		p.coord().InvalidateRecords(p.key)
		if err := r.removeFinalizer(ctx, b); err != nil {
			return ctrl.Result{}, err
		}
	}
	// The object goes now; the watch on DCSBackups wakes the next object
	// waiting for the instance if this one held it.
	p.coord().Release(p.key, b.UID)
	p.coord().Forget(p.obj)
	return ctrl.Result{}, nil
}

// deleteCloudBackup deletes the DCS backup if the policy says so. It reports
// whether the finalizer can go.
//
// A schedule's children carry no owner reference, so deleting a schedule
// never deletes them (nor their cloud backups): only the user, or the
// schedule's retention, which sets deletionPolicy Delete first, deletes a
// child.
func (p *backupPass) deleteCloudBackup(ctx context.Context) (time.Duration, bool) {
	b := p.b
	if b.Spec.DeletionPolicy != backupv1alpha1.DeletionPolicyDelete {
		return 0, true
	}
	api, err := p.r.deps.Connector.Connect(ctx, b.Namespace, b.Spec.Connection)
	if err != nil {
		return p.connectFailed(ctx, err), false
	}
	p.api = api
	if b.Status.BackupID == "" && b.Spec.BackupID == "" && b.Status.CreateRequestedAt != nil {
		if _, wait, err := p.recover(ctx); err != nil {
			return wait, false
		}
	}
	id := b.Status.BackupID
	if id == "" {
		id = b.Spec.BackupID
	}
	if id == "" {
		return 0, true
	}
	err = p.api.DeleteBackup(ctx, b.Spec.InstanceID, id)
	if err != nil && !dcs.IsBackupGone(err) {
		// A running backup cannot be deleted: DCS answers busy, and the
		// deletion waits for it to finish.
		return p.dcsFailed(ctx, "deleting DCS backup "+id, err), false
	}
	// The event goes out now: the object is about to go, and no status
	// write of it will record the deletion.
	p.r.deps.Recorder.Eventf(b, nil, "Normal", "CloudBackupDeleted", "Finalize",
		"deleted DCS backup %s of instance %s (deletionPolicy Delete)", id, b.Spec.InstanceID)
	return 0, true
}

func (r *DCSBackupReconciler) removeFinalizer(ctx context.Context, b *backupv1alpha1.DCSBackup) error {
	orig := b.DeepCopy()
	controllerutil.RemoveFinalizer(b, backupv1alpha1.Finalizer)
	return client.IgnoreNotFound(r.deps.Client.Patch(ctx, b, client.MergeFrom(orig)))
}
