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
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// restoreToken identifies a restore in DCS: it is derived from the
// DCSRestore's namespace and name, the backup and the target, and written
// into the restore's remark (in place) or the import task's name. A restore
// is not idempotent in DCS; with the token the operator finds its restore
// after a lost answer or a crash, and a DCSRestore re-created under the
// same name for the same backup and target (a GitOps tool re-syncing after
// a prune) finds the earlier one and adopts its outcome instead of restoring
// a second time.
func restoreToken(rs *backupv1alpha1.DCSRestore) string {
	st := rs.Status
	sum := sha256.Sum256([]byte(rs.Namespace + "/" + rs.Name + "|" + st.SourceInstanceID + "/" + st.BackupID + "|" +
		st.InstanceID))
	return "dcsr-" + hex.EncodeToString(sum[:])[:16]
}

// restoreRemark is the remark given to DCS: the user's remark and the token.
func restoreRemark(rs *backupv1alpha1.DCSRestore) string {
	return strings.TrimSpace(rs.Spec.Remark + " " + restoreToken(rs))
}

// resolve finds the backup to restore, the connection to DCS and the
// target instance. It reports false, with the wait, while a DCSBackup of
// spec.backupRef does not exist.
func (p *restorePass) resolve(ctx context.Context) (time.Duration, bool) {
	rs, st := p.rs, &p.rs.Status
	switch {
	case rs.Spec.BackupRef != nil:
		if wait, ok := p.resolveBackupRef(ctx); !ok {
			return wait, false
		}
	case rs.Spec.Source.Export != nil:
		if wait, ok := p.resolveExport(ctx); !ok {
			return wait, false
		}
	default:
		p.conn = rs.Spec.Source.Connection
		st.SourceInstanceID = rs.Spec.Source.InstanceID
		st.BackupID = rs.Spec.Source.BackupID
	}
	st.Kind, st.InstanceID = backupv1alpha1.RestoreKindInPlace, st.SourceInstanceID
	if p.export != nil {
		// Files in a bucket go in with an import task, whatever the target.
		st.Kind = backupv1alpha1.RestoreKindImport
	}
	if t := rs.Spec.Target; t != nil && t.InstanceID != st.SourceInstanceID {
		st.Kind, st.InstanceID = backupv1alpha1.RestoreKindImport, t.InstanceID
	}
	p.key = instanceKey(p.conn, st.InstanceID)
	p.coord().Track(p.obj, rs.UID, p.key)
	return 0, true
}

// resolveBackupRef reads the DCSBackup of spec.backupRef.
func (p *restorePass) resolveBackupRef(ctx context.Context) (time.Duration, bool) {
	rs, st := p.rs, &p.rs.Status
	ref := rs.Spec.BackupRef
	b := &backupv1alpha1.DCSBackup{}
	err := p.r.deps.Client.Get(ctx, types.NamespacedName{Namespace: rs.Namespace, Name: ref.Name}, b)
	switch {
	case apierrors.IsNotFound(err):
		// Not final: the DCSBackup may be applied after the restore (one
		// GitOps sync); the watch on DCSBackups wakes the restore.
		msg := fmt.Sprintf("DCSBackup %q (spec.backupRef.name) does not exist in namespace %s", ref.Name, rs.Namespace)
		if c := meta.FindStatusCondition(p.orig.Status.Conditions, backupv1alpha1.ConditionSucceeded); c == nil ||
			c.Reason != backupv1alpha1.ReasonBackupNotFound {
			p.out.event(true, backupv1alpha1.ReasonBackupNotFound, msg)
		}
		p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionFalse, backupv1alpha1.ReasonBackupNotFound, msg)
		return inputRequeue, false
	case err != nil:
		log.FromContext(ctx).Error(err, "reading the DCSBackup to restore")
		return errorBackoff(p.coord().Failed(p.obj, rs.UID), errorBackoffBase, errorBackoffLimit), false
	}
	p.source = b
	p.conn = b.Spec.Connection
	st.SourceInstanceID = b.Spec.InstanceID
	if st.BackupID == "" {
		st.BackupID = b.Status.BackupID
	}
	if st.BackupName == "" {
		st.BackupName = b.Status.BackupName
	}
	return 0, true
}

// adopt looks for a restore already started for this DCSRestore: after a
// lost answer or a crash (the intent is recorded), or by an earlier
// DCSRestore of the same namespace and name for the same backup and target.
// It reports whether it found one, or a wait when the lookup failed.
func (p *restorePass) adopt(ctx context.Context) (time.Duration, bool) {
	if p.rs.Status.BackupID == "" {
		// The DCSBackup has no backup yet: nothing was restored from it.
		return 0, false
	}
	if p.rs.Status.Kind == backupv1alpha1.RestoreKindImport {
		return p.adoptImport(ctx)
	}
	restores, _, err := p.coord().Restores(ctx, p.key, restorePoll, func(ctx context.Context) ([]dcs.Restore, error) {
		return p.api.ListRestores(ctx, p.rs.Status.InstanceID, dcs.ListOptions{})
	})
	if err != nil {
		return p.dcsFailed(ctx, "looking for an earlier restore of this DCSRestore", err), false
	}
	p.synced()
	rec, ok := findRestoreByToken(restores, restoreToken(p.rs))
	if !ok {
		return 0, false
	}
	p.rs.Status.RestoreID = rec.ID
	p.adopted(rec.ID)
	return p.applyRestoreRecord(rec), true
}

// adopted records that the restore started earlier was found.
func (p *restorePass) adopted(id string) {
	p.rs.Status.Phase = backupv1alpha1.RestorePhaseRestoring
	if p.rs.Status.StartedAt == nil {
		p.rs.Status.StartedAt = timeOrNil(p.now)
	}
	p.out.event(false, "RestoreAdopted", fmt.Sprintf("found restore %s of backup %s into instance %s, started earlier "+
		"for this DCSRestore (a lost answer, a restart or a re-creation): it is not started again", id,
		p.rs.Status.BackupID, p.rs.Status.InstanceID))
}

// findRestoreByToken returns the restore whose remark carries the token,
// the oldest if several do.
func findRestoreByToken(records []dcs.Restore, token string) (dcs.Restore, bool) {
	var found dcs.Restore
	ok := false
	for _, r := range records {
		if strings.Contains(r.Remark, token) && (!ok || r.CreatedAt.Before(found.CreatedAt)) {
			found, ok = r, true
		}
	}
	return found, ok
}

// check verifies, before anything starts, that the backup can be restored
// and the target can take it. A failed check ends the restore with a
// reason naming it; a backup still running, or a target busy with
// something else, is waited for.
func (p *restorePass) check(ctx context.Context) (time.Duration, bool) {
	if wait, ok := p.checkBackup(ctx); !ok {
		return wait, false
	}
	return p.checkTarget(ctx)
}

func (p *restorePass) checkBackup(ctx context.Context) (time.Duration, bool) {
	if b := p.source; b != nil {
		return p.checkBackupResource(b)
	}
	if p.export != nil {
		return p.checkExport(ctx)
	}
	st := &p.rs.Status
	records, err := p.api.ListBackups(ctx, st.SourceInstanceID, dcs.ListOptions{})
	if err != nil {
		return p.dcsFailed(ctx, "reading the backup records of instance "+st.SourceInstanceID, err), false
	}
	p.synced()
	rec, ok := findByID(records, st.BackupID)
	switch {
	case !ok:
		return p.fail(backupv1alpha1.ReasonBackupNotFound, fmt.Sprintf("DCS lists no backup %s for instance %s "+
			"(spec.source.backupID, spec.source.instanceID)", st.BackupID, st.SourceInstanceID), ""), false
	case rec.Status == dcs.BackupWaiting || rec.Status == dcs.BackupRunning:
		p.waitForBackup(fmt.Sprintf("backup %s is still running in DCS (%s%%); the restore starts when it succeeded",
			rec.ID, orDefault(rec.Progress, "0")))
		return sourceBackupPoll, false
	case rec.Status != dcs.BackupSucceeded || !rec.Restorable:
		return p.fail(backupv1alpha1.ReasonBackupNotRestorable, recordMessage(rec), rec.ErrorCode), false
	}
	st.BackupName = rec.Name
	return 0, true
}

func (p *restorePass) checkBackupResource(b *backupv1alpha1.DCSBackup) (time.Duration, bool) {
	switch {
	case b.Status.Phase == backupv1alpha1.PhaseSucceeded && b.Status.Restorable:
		return 0, true
	case b.Status.Phase == backupv1alpha1.PhaseSucceeded:
		return p.fail(backupv1alpha1.ReasonBackupNotRestorable, fmt.Sprintf("DCS does not offer a restore from "+
			"backup %s of DCSBackup %s (is_support_restore is FALSE)", b.Status.BackupID, b.Name), ""), false
	case isTerminalPhase(b.Status.Phase):
		return p.fail(backupv1alpha1.ReasonBackupNotRestorable, fmt.Sprintf("DCSBackup %s ended %s: %s", b.Name,
			b.Status.Phase, succeededMessage(b)), b.Status.ErrorCode), false
	}
	p.waitForBackup(fmt.Sprintf("DCSBackup %s is %s; the restore starts when it succeeded", b.Name,
		orDefault(string(b.Status.Phase), string(backupv1alpha1.PhasePending))))
	return inputRequeue, false
}

// waitForBackup shows a restore waiting for its backup to succeed.
func (p *restorePass) waitForBackup(msg string) {
	p.rs.Status.Phase = backupv1alpha1.RestorePhasePending
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonWaitingForBackup, msg)
}

// checkTarget reads the target instance: it must be master/standby or a
// cluster (DCS restores no single-node instance) and RUNNING.
func (p *restorePass) checkTarget(ctx context.Context) (time.Duration, bool) {
	st := &p.rs.Status
	inst, err := p.api.ShowInstance(ctx, st.InstanceID)
	if err != nil {
		if dcs.Classify(err) == dcs.ClassNotFound {
			return p.fail(backupv1alpha1.ReasonInstanceNotFound, fmt.Sprintf("DCS has no instance %s (%s): %v",
				st.InstanceID, p.fieldPaths().instanceID, err), ""), false
		}
		return p.dcsFailed(ctx, "reading instance "+st.InstanceID, err), false
	}
	p.synced()
	switch {
	case inst.CacheMode == "single":
		return p.fail(backupv1alpha1.ReasonInstanceNotSupported, fmt.Sprintf("instance %s is a single-node "+
			"instance, which DCS cannot restore (%s)", st.InstanceID, p.fieldPaths().instanceID), ""), false
	case !strings.EqualFold(inst.Status, "RUNNING"):
		msg := fmt.Sprintf("instance %s is %s, not RUNNING; the restore starts when it runs", st.InstanceID, inst.Status)
		p.waitForInstance(msg, msg)
		return errorBackoff(p.coord().Failed(p.obj, p.rs.UID), busyBackoffBase, busyBackoffLimit), false
	}
	return 0, true
}

// waitForInstance shows a restore waiting for its target, with an event
// (note) when it starts waiting.
func (p *restorePass) waitForInstance(msg, note string) {
	if p.rs.Status.Phase != backupv1alpha1.RestorePhaseWaitingForInstance {
		p.out.event(false, backupv1alpha1.ReasonWaitingForInstance, note)
	}
	p.rs.Status.Phase = backupv1alpha1.RestorePhaseWaitingForInstance
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonWaitingForInstance, msg)
}

// preBackupName is the name of the pre-restore backup of a DCSRestore.
func preBackupName(restore string) string { return restore + "-pre" }

// preRestoreBackup makes a backup of the target before the restore and
// waits for it to succeed, so that a wrong restore can be undone. The
// backup is a DCSBackup of its own: it takes its turn on the instance like
// any backup, and it outlives the DCSRestore.
func (p *restorePass) preRestoreBackup(ctx context.Context) (time.Duration, bool) {
	rs, st := p.rs, &p.rs.Status
	if !rs.Spec.PreRestoreBackup {
		return 0, true
	}
	name := preBackupName(rs.Name)
	b := &backupv1alpha1.DCSBackup{}
	err := p.r.deps.Client.Get(ctx, types.NamespacedName{Namespace: rs.Namespace, Name: name}, b)
	switch {
	case apierrors.IsNotFound(err):
		return p.createPreBackup(ctx, name), false
	case err != nil:
		log.FromContext(ctx).Error(err, "reading the pre-restore backup")
		return errorBackoff(p.coord().Failed(p.obj, rs.UID), errorBackoffBase, errorBackoffLimit), false
	case b.Labels[backupv1alpha1.LabelRestore] != rs.Name || b.Spec.InstanceID != st.InstanceID:
		return p.fail(backupv1alpha1.ReasonPreRestoreBackupFailed, fmt.Sprintf("DCSBackup %s exists and is not the "+
			"pre-restore backup of this restore (label %s, instance %s); rename one of them", name,
			backupv1alpha1.LabelRestore, b.Spec.InstanceID), ""), false
	}
	st.PreRestoreBackup = name
	switch {
	case b.Status.Phase == backupv1alpha1.PhaseSucceeded:
		return 0, true
	case isTerminalPhase(b.Status.Phase):
		return p.fail(backupv1alpha1.ReasonPreRestoreBackupFailed, fmt.Sprintf("the pre-restore backup %s ended %s, "+
			"so the restore does not start (it could not be undone): %s", name, b.Status.Phase, succeededMessage(b)),
			b.Status.ErrorCode), false
	}
	st.Phase = backupv1alpha1.RestorePhaseBackingUp
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonBackingUp,
		fmt.Sprintf("backing up instance %s first (DCSBackup %s is %s)", st.InstanceID, name,
			orDefault(string(b.Status.Phase), string(backupv1alpha1.PhasePending))))
	return inputRequeue, false
}

// createPreBackup creates the pre-restore backup of the target.
func (p *restorePass) createPreBackup(ctx context.Context, name string) time.Duration {
	rs, st := p.rs, &p.rs.Status
	b := &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: rs.Namespace,
			Labels: map[string]string{backupv1alpha1.LabelRestore: rs.Name}},
		Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
			InstanceID: st.InstanceID,
			Connection: p.conn,
			Remark:     truncate("before DCSRestore "+rs.Name, 87),
		}},
	}
	if err := p.r.deps.Client.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
		log.FromContext(ctx).Error(err, "creating the pre-restore backup", "name", name)
		return errorBackoff(p.coord().Failed(p.obj, rs.UID), errorBackoffBase, errorBackoffLimit)
	}
	st.PreRestoreBackup = name
	st.Phase = backupv1alpha1.RestorePhaseBackingUp
	msg := fmt.Sprintf("backing up instance %s first: DCSBackup %s", st.InstanceID, name)
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonBackingUp, msg)
	p.out.event(false, "PreRestoreBackupCreated", msg)
	return inputRequeue
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// start takes the target's turn, records the intent and asks DCS for the
// restore.
func (p *restorePass) start(ctx context.Context) time.Duration {
	if wait := p.coord().HeldOff(p.key); wait > 0 {
		p.waitForInstance(busyByOthersRestore, busyByOthersRestore)
		return jitter(wait, 0.1)
	}
	holder, ok, err := p.coord().Acquire(ctx, p.key, restoreHolder(p.rs))
	if err != nil {
		log.FromContext(ctx).Error(err, "checking other operations on the instance")
		return errorBackoffBase
	}
	if !ok {
		p.waitForInstance("waiting for its turn: another operation of the operator runs on the instance, and DCS "+
			"runs one operation per instance at a time", fmt.Sprintf("waiting for %s to finish: DCS runs one operation "+
			"per instance at a time", holder))
		return waitingDelay(p.now.Sub(p.rs.CreationTimestamp.Time))
	}
	if p.rs.Status.Kind == backupv1alpha1.RestoreKindImport {
		return p.startImport(ctx)
	}
	return p.startInPlace(ctx)
}

// busyByOthersRestore is the waiting message of a restore whose target DCS
// reports busy with an operation the operator did not start.
const busyByOthersRestore = "DCS reports the instance busy with another operation (a console, automatic or restore " +
	"operation); the restore starts when it is free"

// writeIntent records the intent to start before the call, with optimistic
// locking: a pass working from a stale cache cannot start a second restore,
// and a crash after the call leaves a trace to look for the restore by.
func (p *restorePass) writeIntent(ctx context.Context) error {
	p.rs.Status.RequestedAt = timeOrNil(p.now)
	patch := client.MergeFromWithOptions(p.orig, client.MergeFromWithOptimisticLock{})
	if err := p.r.deps.Client.Status().Patch(ctx, p.rs, patch); err != nil {
		return err
	}
	p.orig = p.rs.DeepCopy()
	return nil
}

// intentFailed handles a failed intent write: a conflict reruns the pass.
func (p *restorePass) intentFailed(ctx context.Context, err error) time.Duration {
	p.coord().Release(p.key, p.rs.UID)
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return conflictRequeue
	}
	log.FromContext(ctx).Error(err, "recording the restore intent")
	return errorBackoffBase
}

// startInPlace restores the backup into its own instance.
func (p *restorePass) startInPlace(ctx context.Context) time.Duration {
	st := &p.rs.Status
	if err := p.writeIntent(ctx); err != nil {
		return p.intentFailed(ctx, err)
	}
	id, err := p.api.RestoreBackup(ctx, st.InstanceID, st.BackupID, restoreRemark(p.rs))
	if err != nil {
		return p.startFailed(ctx, "restoring backup "+st.BackupID, err)
	}
	st.RestoreID = id
	p.accepted("restore " + id)
	return restorePoll
}

// accepted records that DCS accepted the restore (restore id or task id).
func (p *restorePass) accepted(what string) {
	st := &p.rs.Status
	p.synced()
	p.coord().ClearHoldOff(p.key)
	st.Phase = backupv1alpha1.RestorePhaseRestoring
	st.StartedAt = timeOrNil(p.now)
	msg := fmt.Sprintf("DCS accepted %s of backup %s into instance %s", what, st.BackupID, st.InstanceID)
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonRestoring, msg)
	p.out.event(false, "RestoreStarted", msg)
	p.timed = true
}

// startFailed handles a failed start call. A lost answer (timeout, reset
// connection) keeps the intent: the next pass looks for the restore by its
// token before it calls again. An answer from DCS means nothing started.
func (p *restorePass) startFailed(ctx context.Context, what string, err error) time.Duration {
	st := &p.rs.Status
	class := dcs.Classify(err)
	if class == dcs.ClassTransient || class == dcs.ClassCanceled {
		return p.dcsFailed(ctx, what, err)
	}
	st.RequestedAt = nil
	p.coord().Release(p.key, p.rs.UID)
	switch class {
	case dcs.ClassBusy:
		wait := p.dcsFailed(ctx, what, err)
		p.waitForInstance(busyByOthersRestore, busyByOthersRestore)
		p.coord().HoldOff(p.key, wait)
		return wait
	case dcs.ClassThrottled, dcs.ClassUnauthorized:
		return p.dcsFailed(ctx, what, err)
	}
	// Anything else is DCS refusing this restore (the backup is not
	// restorable, the instance cannot be restored, the password is wrong):
	// asking again would get the same answer.
	p.synced()
	return p.fail(refusalReason(err), fmt.Sprintf("DCS refused the restore: %s: %v", what, err), dcsCode(err))
}

// refusalReason names why DCS refused to start a restore.
func refusalReason(err error) string {
	switch {
	case dcs.IsWrongPassword(err):
		return backupv1alpha1.ReasonWrongPassword
	case dcs.Classify(err) == dcs.ClassUnsupported:
		return backupv1alpha1.ReasonInstanceNotSupported
	case dcs.Classify(err) == dcs.ClassNotFound:
		return backupv1alpha1.ReasonInstanceNotFound
	case dcsCode(err) == "DCS.4087":
		return backupv1alpha1.ReasonBackupNotRestorable
	}
	return backupv1alpha1.ReasonRestoreRefused
}

// dcsCode is the DCS error code of err, if it has one.
func dcsCode(err error) string {
	var e *dcs.Error
	if errors.As(err, &e) {
		return dcs.NormalizeCode(e.Code)
	}
	return ""
}

// poll reads the running restore and reports its progress.
func (p *restorePass) poll(ctx context.Context) time.Duration {
	if p.rs.Status.Kind == backupv1alpha1.RestoreKindImport {
		return p.pollImport(ctx)
	}
	st := &p.rs.Status
	restores, _, err := p.coord().Restores(ctx, p.key, restorePoll, func(ctx context.Context) ([]dcs.Restore, error) {
		return p.api.ListRestores(ctx, st.InstanceID, dcs.ListOptions{})
	})
	if err != nil {
		return p.dcsFailed(ctx, "reading the restore records of instance "+st.InstanceID, err)
	}
	p.synced()
	for _, rec := range restores {
		if rec.ID == st.RestoreID {
			return p.applyRestoreRecord(rec)
		}
	}
	return p.missing("DCS lists no restore " + st.RestoreID + " for instance " + st.InstanceID)
}

// missing handles a started restore that DCS does not list (yet).
func (p *restorePass) missing(msg string) time.Duration {
	since := p.rs.CreationTimestamp.Time
	if t := p.rs.Status.StartedAt; t != nil {
		since = t.Time
	}
	if p.now.Sub(since) < restoreMissingGrace {
		p.timed = true
		return restorePoll
	}
	return p.fail(backupv1alpha1.ReasonRestoreNotFound, msg, "")
}

// applyRestoreRecord copies DCS's record of the restore into the status.
func (p *restorePass) applyRestoreRecord(rec dcs.Restore) time.Duration {
	st := &p.rs.Status
	st.Progress = rec.Progress
	if t := timeOrNil(rec.CreatedAt); t != nil {
		st.StartedAt = t
	}
	if rec.BackupName != "" {
		st.BackupName = rec.BackupName
	}
	switch rec.Status {
	case dcs.RestoreSucceeded:
		st.CompletedAt = timeOrNil(rec.UpdatedAt)
		return p.succeeded(fmt.Sprintf("restore %s (%s) of backup %s into instance %s succeeded", rec.ID, rec.Name,
			st.BackupID, st.InstanceID))
	case dcs.RestoreFailed:
		st.CompletedAt = timeOrNil(rec.UpdatedAt)
		return p.fail(backupv1alpha1.ReasonRestoreFailed, fmt.Sprintf("DCS reports restore %s of backup %s failed: %s",
			rec.ID, st.BackupID, describeErrorCode(rec.ErrorCode)), rec.ErrorCode)
	}
	st.Phase = backupv1alpha1.RestorePhaseRestoring
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonRestoring,
		fmt.Sprintf("DCS is restoring backup %s into instance %s: %s (%s%%)", st.BackupID, st.InstanceID,
			orDefault(string(rec.Status), "waiting"), orDefault(rec.Progress, "0")))
	p.timed = true
	return restorePoll
}

// succeeded ends the restore successfully.
func (p *restorePass) succeeded(msg string) time.Duration {
	st := &p.rs.Status
	before := st.Phase
	st.Phase = backupv1alpha1.RestorePhaseSucceeded
	if st.CompletedAt == nil {
		st.CompletedAt = timeOrNil(p.now)
	}
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue, backupv1alpha1.ReasonRestoreSucceeded, msg)
	p.coord().Release(p.key, p.rs.UID)
	if before != backupv1alpha1.RestorePhaseSucceeded {
		p.out.event(false, backupv1alpha1.ReasonRestoreSucceeded, msg)
		p.countResult(resultSucceeded)
	}
	return 0
}
