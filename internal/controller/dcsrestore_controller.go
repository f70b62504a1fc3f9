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
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// kindRestore names DCSRestores in the coordinator.
const kindRestore = "DCSRestore"

// Requeue intervals of the DCSRestore controller.
const (
	// restorePoll is how often a running restore is looked at: restores
	// take 1 to 30 minutes (UMN) and are rare, so a short, fixed interval
	// costs little and shows progress.
	restorePoll = 5 * time.Second
	// restoreMissingGrace is how long a started restore may be missing
	// from DCS's records before the operator believes it is gone.
	restoreMissingGrace = 5 * time.Minute
	// sourceBackupPoll is how often a restore of a backup named by its
	// DCS ids looks at that backup while it still runs (no watch tells).
	sourceBackupPoll = 10 * time.Second
	// inputRequeue is the safety net of a restore waiting for its input (a
	// DCSBackup to exist or finish); the watch on DCSBackups normally
	// wakes it.
	inputRequeue = 5 * time.Minute
)

// DCSRestoreReconciler reconciles DCSRestore objects: one restore of one
// backup, in place or into another instance, at most once.
type DCSRestoreReconciler struct {
	deps Dependencies
	// secrets reads the target's password directly from the API server,
	// never through a cache.
	secrets client.Reader
}

// NewDCSRestoreReconciler returns the DCSRestore reconciler; secrets reads
// Secrets without a cache (the manager's API reader).
func NewDCSRestoreReconciler(d Dependencies, secrets client.Reader) *DCSRestoreReconciler {
	return &DCSRestoreReconciler{deps: d, secrets: secrets}
}

func restoreObject(n types.NamespacedName) instance.Object {
	return instance.Object{Kind: kindRestore, NamespacedName: n}
}

// Reconcile is a short dispatcher: finished restores and deletions return
// early (deleting a DCSRestore never cancels or undoes anything in DCS),
// everything else goes through the steps of a pass.
func (r *DCSRestoreReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rs := &backupv1alpha1.DCSRestore{}
	err := r.deps.Client.Get(ctx, req.NamespacedName, rs)
	if apierrors.IsNotFound(err) || (err == nil && !rs.DeletionTimestamp.IsZero()) {
		r.deps.Coordinator.Forget(restoreObject(req.NamespacedName))
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	p := r.newPass(rs)
	return p.commit(ctx, p.run(ctx))
}

// restorePass is one reconcile of one DCSRestore: it edits a copy of the
// object and writes the status once at the end.
type restorePass struct {
	r    *DCSRestoreReconciler
	orig *backupv1alpha1.DCSRestore
	rs   *backupv1alpha1.DCSRestore
	obj  instance.Object
	now  time.Time
	out  effects
	// What the pass resolved: the connection, the backup and the target.
	conn   backupv1alpha1.Connection
	key    instance.Key
	api    dcs.API
	source *backupv1alpha1.DCSBackup // the DCSBackup of spec.backupRef
	export *restoreExport            // the export of spec.source.export
	// timed is set when the next pass is due at a moment (a poll).
	timed bool
}

func (r *DCSRestoreReconciler) newPass(rs *backupv1alpha1.DCSRestore) *restorePass {
	return &restorePass{r: r, orig: rs.DeepCopy(), rs: rs, obj: restoreObject(client.ObjectKeyFromObject(rs)),
		now: r.deps.Clock.Now()}
}

func (p *restorePass) coord() *instance.Coordinator { return p.r.deps.Coordinator }

func restoreHolder(rs *backupv1alpha1.DCSRestore) instance.Holder {
	return instance.Holder{Kind: kindRestore, UID: rs.UID, Name: client.ObjectKeyFromObject(rs),
		Queued: rs.CreationTimestamp.Time}
}

// run takes the pass through its steps and returns when to look again.
func (p *restorePass) run(ctx context.Context) time.Duration {
	p.initConditions()
	if restoreFinished(p.rs.Status.Phase) {
		return 0
	}
	if wait, ok := p.resolve(ctx); !ok {
		return wait
	}
	api, err := p.r.deps.Connector.Connect(ctx, p.rs.Namespace, p.conn)
	if err != nil {
		return p.connectFailed(ctx, err)
	}
	p.api = api
	if p.started() {
		return p.poll(ctx)
	}
	if wait, found := p.adopt(ctx); found || wait > 0 {
		return wait
	}
	if wait, ok := p.check(ctx); !ok {
		return wait
	}
	if wait, ok := p.preRestoreBackup(ctx); !ok {
		return wait
	}
	return p.start(ctx)
}

// started reports whether DCS accepted the restore (its id is recorded).
func (p *restorePass) started() bool {
	return p.rs.Status.RestoreID != "" || p.rs.Status.MigrationTaskID != ""
}

func restoreFinished(ph backupv1alpha1.RestorePhase) bool {
	return ph == backupv1alpha1.RestorePhaseSucceeded || ph == backupv1alpha1.RestorePhaseFailed
}

// occupiesTarget says whether a restore occupies its target instance: it
// recorded the intent to start (or started) and has not finished.
func occupiesTarget(rs *backupv1alpha1.DCSRestore) bool {
	begun := rs.Status.RequestedAt != nil || rs.Status.RestoreID != "" || rs.Status.MigrationTaskID != ""
	return begun && !restoreFinished(rs.Status.Phase)
}

// initConditions makes Succeeded and Synced present from the first visit.
func (p *restorePass) initConditions() {
	st := &p.rs.Status
	st.ObservedGeneration = p.rs.Generation
	if st.Phase == "" {
		st.Phase = backupv1alpha1.RestorePhasePending
	}
	if meta.FindStatusCondition(st.Conditions, backupv1alpha1.ConditionSucceeded) == nil {
		p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonPending,
			"the restore has not been submitted to DCS yet")
	}
	if meta.FindStatusCondition(st.Conditions, backupv1alpha1.ConditionSynced) == nil {
		p.setCondition(backupv1alpha1.ConditionSynced, metav1.ConditionUnknown, backupv1alpha1.ReasonPending,
			"the operator has not talked to DCS about this restore yet")
	}
}

func (p *restorePass) setCondition(typ string, status metav1.ConditionStatus, reason, msg string) {
	setCondition(&p.rs.Status.Conditions, p.rs.Generation, p.now, typ, status, reason, msg)
}

// commit writes the status if it changed, then emits the pass's effects.
func (p *restorePass) commit(ctx context.Context, requeue time.Duration) (ctrl.Result, error) {
	return commitPass(ctx, p.r.deps, passEnd{obj: p.obj, orig: p.orig, cur: p.rs, origStatus: &p.orig.Status,
		status: &p.rs.Status, conditions: p.rs.Status.Conditions, out: &p.out, action: "Restore",
		phase: string(p.rs.Status.Phase), requeue: requeue, timed: p.timed})
}

// synced records a working conversation with DCS.
func (p *restorePass) synced() {
	p.setCondition(backupv1alpha1.ConditionSynced, metav1.ConditionTrue, backupv1alpha1.ReasonSynced,
		"the last request to DCS succeeded")
}

// syncFailed sets Synced False and emits a warning when the reason is new.
func (p *restorePass) syncFailed(reason, msg string) {
	old := meta.FindStatusCondition(p.orig.Status.Conditions, backupv1alpha1.ConditionSynced)
	if old == nil || old.Status != metav1.ConditionFalse || old.Reason != reason {
		p.out.event(true, reason, msg)
	}
	p.setCondition(backupv1alpha1.ConditionSynced, metav1.ConditionFalse, reason, msg)
}

// connectFailed reports a connection that cannot be made yet.
func (p *restorePass) connectFailed(ctx context.Context, err error) time.Duration {
	reason, isUser := connectReason(err)
	if !isUser {
		log.FromContext(ctx).Error(err, "connecting to DCS")
		p.syncFailed(backupv1alpha1.ReasonAPIError, err.Error())
		return errorBackoff(p.coord().Failed(p.obj, p.rs.UID), errorBackoffBase, errorBackoffLimit)
	}
	p.syncFailed(reason, err.Error())
	return blockedRequeue
}

// dcsFailed reports a failed DCS call (errorRules) and returns the backoff.
func (p *restorePass) dcsFailed(ctx context.Context, what string, err error) time.Duration {
	if dcs.Classify(err) == dcs.ClassCanceled {
		return conflictRequeue
	}
	f := classifyFailure(what, err, p.fieldPaths())
	log.FromContext(ctx).V(1).Info("DCS request failed", "class", dcs.Classify(err).String(), "error", err.Error())
	p.syncFailed(f.reason, f.message)
	return f.backoff(p.coord().Failed(p.obj, p.rs.UID))
}

// fieldPaths are the restore's fields for the hints of errorRules.
func (p *restorePass) fieldPaths() fieldPaths {
	f := fieldPaths{instanceID: "spec.target.instanceID", connection: "spec.source.connection",
		secret: p.conn.CredentialsSecretRef.Name}
	if p.rs.Spec.Target == nil {
		f.instanceID = "spec.source.instanceID"
	}
	if p.rs.Spec.BackupRef != nil {
		f.connection = "the connection of DCSBackup " + p.rs.Spec.BackupRef.Name
		if p.rs.Spec.Target == nil {
			f.instanceID = "the instance of DCSBackup " + p.rs.Spec.BackupRef.Name
		}
	}
	return f
}

// fail ends the restore: a check failed, or DCS refused or failed it. The
// reason names what went wrong; the message says what to do.
func (p *restorePass) fail(reason, msg, errorCode string) time.Duration {
	st := &p.rs.Status
	before := st.Phase
	st.Phase = backupv1alpha1.RestorePhaseFailed
	if errorCode != "" {
		st.ErrorCode = errorCode
	}
	if st.CompletedAt == nil {
		st.CompletedAt = timeOrNil(p.now)
	}
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionFalse, reason, msg)
	p.coord().Release(p.key, p.rs.UID)
	if before != backupv1alpha1.RestorePhaseFailed {
		p.out.event(true, reason, msg)
		if p.started() {
			p.countResult(resultFailed)
		} else {
			// Failed its checks (no such backup, a wrong password, ...):
			// nothing ran, but the restore asked for did not happen.
			p.countResult(resultRejected)
		}
	}
	return 0
}

// countResult counts a restore DCS ran, once the status records its end.
func (p *restorePass) countResult(result string) {
	ns, kind := p.rs.Namespace, metricKind(p.rs.Status.Kind)
	var took time.Duration
	if st := p.rs.Status.StartedAt; st != nil && p.rs.Status.CompletedAt != nil {
		took = p.rs.Status.CompletedAt.Sub(st.Time)
	}
	p.out.then(func() {
		restoresTotal.WithLabelValues(ns, kind, result).Inc()
		if result == resultSucceeded && took > 0 {
			restoreDuration.WithLabelValues(kind).Observe(took.Seconds())
		}
	})
}

func metricKind(k backupv1alpha1.RestoreKind) string {
	if k == backupv1alpha1.RestoreKindImport {
		return "import"
	}
	return "in_place"
}
