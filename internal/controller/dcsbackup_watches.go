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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// SetupWithManager registers the DCSBackup controller.
func (r *DCSBackupReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	r.turns = newTurns()
	r.durations = newDurations()
	r.starts = newStartTimes()
	if r.restores == nil {
		r.restores = newListCache[dcs.Restore]()
	}
	r.records = newListCache[dcs.Backup]()
	r.failures = newFailureCounter()
	r.startedAt = r.Clock.Now()

	secretMeta := &metav1.PartialObjectMetadata{}
	secretMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))

	return ctrl.NewControllerManagedBy(mgr).
		Named("dcsbackup").
		// The controller's own status writes must not trigger a pass: polls
		// are timed by RequeueAfter, and an extra pass is an extra DCS call.
		For(&backupv1alpha1.DCSBackup{}, builder.WithPredicates(specOrMetadataChanged())).
		Watches(&backupv1alpha1.DCSBackup{}, siblingWaker{c: mgr.GetClient()}).
		Watches(secretMeta, handler.EnqueueRequestsFromMapFunc(r.backupsUsingSecret), builder.OnlyMetadata).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// specOrMetadataChanged passes creations, deletions, and updates of the spec
// (generation), labels, annotations, finalizers or deletion timestamp.
func specOrMetadataChanged() predicate.Predicate {
	return predicate.Or(
		predicate.GenerationChangedPredicate{},
		predicate.LabelChangedPredicate{},
		predicate.AnnotationChangedPredicate{},
		predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld, e.ObjectNew
			return !o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp()) ||
				len(o.GetFinalizers()) != len(n.GetFinalizers())
		}},
	)
}

// backupsUsingSecret maps a Secret to the backups that use it, so a backup
// waiting for its credentials starts as soon as they appear or change.
func (r *DCSBackupReconciler) backupsUsingSecret(ctx context.Context, o client.Object) []reconcile.Request {
	list := &backupv1alpha1.DCSBackupList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{indexSecret: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		b := &list.Items[i]
		if isTerminalPhase(b.Status.Phase) && b.DeletionTimestamp.IsZero() {
			continue
		}
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)})
	}
	return reqs
}

// siblingWaker wakes the backups waiting for an instance when the backup
// holding it finishes or goes away.
type siblingWaker struct {
	c client.Client
}

var _ handler.EventHandler = siblingWaker{}

func (w siblingWaker) Create(context.Context, event.CreateEvent, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
}

func (w siblingWaker) Generic(context.Context, event.GenericEvent, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
}

func (w siblingWaker) Update(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	o, okOld := e.ObjectOld.(*backupv1alpha1.DCSBackup)
	n, okNew := e.ObjectNew.(*backupv1alpha1.DCSBackup)
	if okOld && okNew && holdsInstance(o) && !holdsInstance(n) {
		w.wake(ctx, n, q)
	}
}

func (w siblingWaker) Delete(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if b, ok := e.Object.(*backupv1alpha1.DCSBackup); ok {
		w.wake(ctx, b, q)
	}
}

func (w siblingWaker) wake(ctx context.Context, b *backupv1alpha1.DCSBackup, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	list := &backupv1alpha1.DCSBackupList{}
	if err := w.c.List(ctx, list, client.MatchingFields{indexInstance: string(instanceKeyOf(b))}); err != nil {
		return
	}
	var candidates []*backupv1alpha1.DCSBackup
	for i := range list.Items {
		s := &list.Items[i]
		if s.UID != b.UID && s.Status.BackupID == "" && !isTerminalPhase(s.Status.Phase) {
			candidates = append(candidates, s)
		}
	}
	pq, _ := q.(priorityqueue.PriorityQueue[reconcile.Request])
	for _, s := range nextInLine(candidates) {
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(s)}
		if pq == nil {
			q.Add(req)
			continue
		}
		// The hand-over is due now: the instance idles until it happens.
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(priorityTimed)}, req)
	}
}

// nextInLine picks the backups to wake when an instance comes free: the
// oldest of those turned away waiting for it. Only one backup can take the
// turn, and waking all of a queue of d backups at every hand-over would
// cost d*d/2 reconciles per instance, which grows faster than the queue.
// Backups that never asked for the turn (just created), are being deleted
// or wait for their user (a missing Secret) are driven by their own events
// and would not take the turn; when no other backup is waiting for it,
// every candidate is woken, which is then cheap.
func nextInLine(candidates []*backupv1alpha1.DCSBackup) []*backupv1alpha1.DCSBackup {
	var next *backupv1alpha1.DCSBackup
	for _, s := range candidates {
		if waitingForTurn(s) && (next == nil || queuedBefore(s, next)) {
			next = s
		}
	}
	if next == nil {
		return candidates
	}
	return []*backupv1alpha1.DCSBackup{next}
}

// waitingForTurn says whether a backup was turned away waiting for its
// instance and can take the turn when woken.
func waitingForTurn(b *backupv1alpha1.DCSBackup) bool {
	c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSucceeded)
	if c == nil || c.Reason != backupv1alpha1.ReasonWaitingForInstance || !b.DeletionTimestamp.IsZero() {
		return false
	}
	synced := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSynced)
	return synced == nil || synced.Status != metav1.ConditionFalse ||
		(synced.Reason != backupv1alpha1.ReasonCredentialsNotFound && synced.Reason != backupv1alpha1.ReasonInvalidEndpoint)
}

// queuedBefore orders backups of an instance first come, first served.
func queuedBefore(a, b *backupv1alpha1.DCSBackup) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// backupSiblings answers turn questions from the cache.
type backupSiblings struct {
	c client.Client
}

func (s *backupSiblings) activeSibling(ctx context.Context, key instanceKey, self types.UID) (turnHolder, bool, error) {
	list := &backupv1alpha1.DCSBackupList{}
	if err := s.c.List(ctx, list, client.MatchingFields{indexInstance: string(key)}); err != nil {
		return turnHolder{}, false, err
	}
	for i := range list.Items {
		b := &list.Items[i]
		if b.UID != self && holdsInstance(b) {
			return turnHolder{uid: b.UID, name: client.ObjectKeyFromObject(b)}, true, nil
		}
	}
	return turnHolder{}, false, nil
}

// stillHolds trusts the holder until it finishes or is gone: right after it
// recorded its intent the cache may not show it yet.
func (s *backupSiblings) stillHolds(ctx context.Context, h turnHolder) (bool, error) {
	b := &backupv1alpha1.DCSBackup{}
	if err := s.c.Get(ctx, h.name, b); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return b.UID == h.uid && !isTerminalPhase(b.Status.Phase), nil
}
