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
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// Requeue intervals of the DCSBackup controller.
const (
	// waitingRequeue is the shortest safety net of a backup waiting for
	// its turn on an instance, maxWaitingRequeue the longest (see
	// waitingDelay); normally the object ahead of it wakes it when it ends.
	waitingRequeue    = 30 * time.Second
	maxWaitingRequeue = 5 * time.Minute
	// blockedRequeue is the safety net of a backup blocked on user input
	// (missing Secret, bad endpoint); the Secret watch normally wakes it.
	blockedRequeue = 5 * time.Minute
	// recoveryWindow is how far before the recorded create intent the
	// operator looks for its backup: DCS's clock may differ from ours (the
	// API gateway rejects more than 15 minutes of skew).
	recoveryWindow = 15 * time.Minute
	// missingGrace is how long a new backup may be missing from the list
	// before the operator believes it is gone.
	missingGrace = time.Minute
	// fastRestorePoll is the read interval of an instance while a restore
	// runs on it.
	fastRestorePoll = 5 * time.Second
	// recordRecheck is how often an instance's backup records are
	// re-read, to see finished backups expire or be deleted in DCS: an
	// expired backup is no emergency, and each re-read is a list call on
	// top of the restore reads.
	recordRecheck = time.Hour
)

// priorityTimed is the work-queue priority of the passes that are due at a
// moment: the poll of a running backup at its expected end, and the next
// object of an instance when the one ahead ends. controller-runtime's
// priority queue serves higher priorities first; without it, a poll that
// comes due while a thousand new DCSBackups wait for their first pass
// queues behind all of them, and the backup is seen finished seconds late.
const priorityTimed = 10

// priorityYielded is the work-queue priority of a poll that gave its place
// in the DCS budget up to creates (dcs.WithYield): below new objects, whose
// first pass starts their backup, so that a fleet's creates are all sent
// before its polls, as the budget's classes intend; above the objects the
// cache lists at start-up (handler.LowPriority).
const priorityYielded = -10

// kindBackup names DCSBackups in the coordinator.
const kindBackup = "DCSBackup"

// Dependencies are what every reconciler is built with. Reconcilers keep
// no state of their own: what must outlive a pass is in the resources or in
// the Coordinator, and tests swap any of these.
type Dependencies struct {
	Client      client.Client
	Recorder    recorder.EventRecorder
	Connector   Connector
	Coordinator *instance.Coordinator
	Clock       clock.Clock
	// Stores turns a DCSBackupStorage into a client of its bucket.
	Stores StorageConnector
}

// DCSBackupReconciler reconciles DCSBackup objects: one backup of one DCS
// instance, from the create call to a restorable result.
type DCSBackupReconciler struct {
	deps Dependencies
}

// NewDCSBackupReconciler returns the DCSBackup reconciler.
func NewDCSBackupReconciler(d Dependencies) *DCSBackupReconciler {
	return &DCSBackupReconciler{deps: d}
}

func backupObject(n types.NamespacedName) instance.Object {
	return instance.Object{Kind: kindBackup, NamespacedName: n}
}

// Reconcile is a short dispatcher: finished work and deletions return early,
// everything else goes through the steps of a pass.
func (r *DCSBackupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &backupv1alpha1.DCSBackup{}
	if err := r.deps.Client.Get(ctx, req.NamespacedName, b); err != nil {
		if apierrors.IsNotFound(err) {
			r.deps.Coordinator.Forget(backupObject(req.NamespacedName))
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !b.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, b)
	}
	if changed, err := r.syncFinalizer(ctx, b); changed || err != nil {
		return ctrl.Result{}, err
	}
	p := r.newPass(b)
	return p.commit(ctx, p.run(ctx))
}

// syncFinalizer keeps the finalizer exactly on backups whose cloud backup is
// deleted with them.
func (r *DCSBackupReconciler) syncFinalizer(ctx context.Context, b *backupv1alpha1.DCSBackup) (bool, error) {
	want := b.Spec.DeletionPolicy == backupv1alpha1.DeletionPolicyDelete
	if want == controllerutil.ContainsFinalizer(b, backupv1alpha1.Finalizer) {
		return false, nil
	}
	orig := b.DeepCopy()
	if want {
		controllerutil.AddFinalizer(b, backupv1alpha1.Finalizer)
	} else {
		controllerutil.RemoveFinalizer(b, backupv1alpha1.Finalizer)
	}
	return true, client.IgnoreNotFound(r.deps.Client.Patch(ctx, b, client.MergeFrom(orig)))
}

// backupPass is one reconcile of one DCSBackup: it edits a copy of the
// object and writes the status once at the end.
type backupPass struct {
	r    *DCSBackupReconciler
	orig *backupv1alpha1.DCSBackup
	b    *backupv1alpha1.DCSBackup
	obj  instance.Object
	key  instance.Key
	api  dcs.API
	now  time.Time
	out  effects
	// timed is set when the next pass is due at a moment (a poll at the
	// expected end of a backup): it goes before other queued work.
	timed bool
	// yielded is set when the poll gave its place in the DCS budget up to
	// requests that start backups: it goes after other queued work.
	yielded bool
}

func (r *DCSBackupReconciler) newPass(b *backupv1alpha1.DCSBackup) *backupPass {
	p := &backupPass{r: r, orig: b.DeepCopy(), b: b, obj: backupObject(client.ObjectKeyFromObject(b)),
		key: instanceKeyOf(b), now: r.deps.Clock.Now()}
	r.deps.Coordinator.Track(p.obj, b.UID, p.key)
	return p
}

func (p *backupPass) coord() *instance.Coordinator { return p.r.deps.Coordinator }

// holder is the backup as the coordinator's turns know it.
func (p *backupPass) holder() instance.Holder {
	return backupHolder(p.b)
}

func backupHolder(b *backupv1alpha1.DCSBackup) instance.Holder {
	return instance.Holder{Kind: kindBackup, UID: b.UID, Name: client.ObjectKeyFromObject(b), Queued: b.CreationTimestamp.Time}
}

// run takes the pass through its steps and returns when to look again.
func (p *backupPass) run(ctx context.Context) time.Duration {
	p.initConditions()
	if isTerminalPhase(p.b.Status.Phase) && p.b.Status.Phase != backupv1alpha1.PhaseSucceeded {
		// Failed, expired and deleted backups never change again.
		return 0
	}
	api, err := p.r.deps.Connector.Connect(ctx, p.b.Namespace, p.b.Spec.Connection)
	if err != nil {
		return p.connectFailed(ctx, err)
	}
	p.api = api
	if p.b.Status.Phase == backupv1alpha1.PhaseSucceeded {
		return p.watchFinished(ctx)
	}
	if p.b.Status.BackupID == "" {
		if wait, pollNow := p.start(ctx); !pollNow {
			return wait
		}
	}
	return p.poll(ctx)
}

// initConditions makes Succeeded and Synced present from the first visit.
func (p *backupPass) initConditions() {
	b := p.b
	b.Status.ObservedGeneration = b.Generation
	if b.Status.Phase == "" {
		b.Status.Phase = backupv1alpha1.PhasePending
	}
	if meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSucceeded) == nil {
		p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonPending,
			"the backup has not been submitted to DCS yet")
	}
	if meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSynced) == nil {
		p.setCondition(backupv1alpha1.ConditionSynced, metav1.ConditionUnknown, backupv1alpha1.ReasonPending,
			"the operator has not talked to DCS about this backup yet")
	}
}

// setCondition sets a condition of the backup, with the transition time
// from the controller's clock.
func (p *backupPass) setCondition(typ string, status metav1.ConditionStatus, reason, msg string) {
	setCondition(&p.b.Status.Conditions, p.b.Generation, p.now, typ, status, reason, msg)
}

// commit writes the status if it changed, then emits the pass's effects.
func (p *backupPass) commit(ctx context.Context, requeue time.Duration) (ctrl.Result, error) {
	return commitPass(ctx, p.r.deps, passEnd{obj: p.obj, orig: p.orig, cur: p.b, origStatus: &p.orig.Status,
		status: &p.b.Status, conditions: p.b.Status.Conditions, out: &p.out, action: "Reconcile",
		phase: string(p.b.Status.Phase), requeue: requeue, timed: p.timed, yielded: p.yielded})
}

// synced records a working conversation with DCS.
//
// The error backoff is not reset here but when the pass ends synced (see
// commit): a pass whose first request works and whose second fails (the
// recovery list, then the create) must still back off.
func (p *backupPass) synced() {
	p.setCondition(backupv1alpha1.ConditionSynced, metav1.ConditionTrue, backupv1alpha1.ReasonSynced,
		"the last request to DCS succeeded")
}

// connectFailed reports a connection that cannot be made yet.
func (p *backupPass) connectFailed(ctx context.Context, err error) time.Duration {
	reason, isUser := connectReason(err)
	if !isUser {
		// The API server failed us reading the Secret: retry soon.
		log.FromContext(ctx).Error(err, "connecting to DCS")
		p.setSynced(metav1.ConditionFalse, backupv1alpha1.ReasonAPIError, err.Error())
		return errorBackoff(p.coord().Failed(p.obj, p.b.UID), errorBackoffBase, errorBackoffLimit)
	}
	p.setSynced(metav1.ConditionFalse, reason, err.Error())
	return blockedRequeue
}

// setSynced sets Synced and emits a warning on the transition to False.
func (p *backupPass) setSynced(status metav1.ConditionStatus, reason, msg string) {
	old := meta.FindStatusCondition(p.b.Status.Conditions, backupv1alpha1.ConditionSynced)
	if status == metav1.ConditionFalse && (old == nil || old.Status != status || old.Reason != reason) {
		p.out.event(true, reason, msg)
	}
	p.setCondition(backupv1alpha1.ConditionSynced, status, reason, msg)
}

// dcsFailed reports a failed DCS call with a reason a person can act on
// (errorRules) and returns the backoff before the next try.
func (p *backupPass) dcsFailed(ctx context.Context, what string, err error) time.Duration {
	if dcs.Classify(err) == dcs.ClassCanceled {
		return conflictRequeue
	}
	f := classifyFailure(what, err, fieldPaths{instanceID: "spec.instanceID", connection: "spec.connection",
		secret: p.b.Spec.Connection.CredentialsSecretRef.Name})
	log.FromContext(ctx).V(1).Info("DCS request failed", "class", dcs.Classify(err).String(), "error", err.Error())
	p.setSynced(metav1.ConditionFalse, f.reason, f.message)
	return f.backoff(p.coord().Failed(p.obj, p.b.UID))
}
