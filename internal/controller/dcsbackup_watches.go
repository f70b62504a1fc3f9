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
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// SetupWithManager wires the DCSBackup controller's watches.
func (r *DCSBackupReconciler) SetupWithManager(mgr ctrl.Manager, workers int, woken wakeups) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("dcsbackup").
		// The controller's own status writes must not trigger a pass: polls
		// are timed by RequeueAfter, and an extra pass is an extra DCS call.
		For(&backupv1alpha1.DCSBackup{}, builder.WithPredicates(specOrMetadataChanged())).
		Watches(&backupv1alpha1.DCSBackup{}, freedOnChange(r.deps.Coordinator, backupOccupancy)).
		Watches(secretMetadata(), handler.EnqueueRequestsFromMapFunc(r.backupsUsingSecret), builder.OnlyMetadata).
		// A DCSRestore of the backup started or ended: show it in Restored
		// now, from the instance's restore list its poll keeps fresh.
		Watches(&backupv1alpha1.DCSRestore{}, handler.EnqueueRequestsFromMapFunc(r.backupsOfRestore),
			builder.WithPredicates(restorePhaseChanged())).
		WatchesRawSource(woken.source()).
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
				!slices.Equal(o.GetFinalizers(), n.GetFinalizers())
		}},
	)
}

// backupsUsingSecret maps a Secret to the backups that use it, so a backup
// waiting for its credentials starts as soon as they appear or change. The
// index leaves finished backups out (backupSecretIndex).
func (r *DCSBackupReconciler) backupsUsingSecret(ctx context.Context, o client.Object) []reconcile.Request {
	list := &backupv1alpha1.DCSBackupList{}
	if err := r.deps.Client.List(ctx, list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{indexSecret: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the DCSBackups that use a Secret", "secret", o.GetName())
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

// backupsOfRestore maps an in-place DCSRestore to the DCSBackups of the
// backup it restores.
func (r *DCSBackupReconciler) backupsOfRestore(ctx context.Context, o client.Object) []reconcile.Request {
	rs, ok := o.(*backupv1alpha1.DCSRestore)
	if !ok || rs.Status.BackupID == "" || rs.Status.Kind != backupv1alpha1.RestoreKindInPlace {
		return nil
	}
	key, ok := restoreTargetKey(ctx, r.deps.Client, rs)
	if !ok {
		return nil
	}
	// The backups of the restored instance (a few dozen at most), whatever
	// their namespace, that hold the restored backup.
	list := &backupv1alpha1.DCSBackupList{}
	if err := r.deps.Client.List(ctx, list, client.MatchingFields{indexInstance: key.String()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the DCSBackups of a restored backup", "backupID", rs.Status.BackupID)
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if list.Items[i].Status.BackupID == rs.Status.BackupID {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// restorePhaseChanged passes creations, deletions and phase changes of
// restores.
func restorePhaseChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*backupv1alpha1.DCSRestore)
		n, okNew := e.ObjectNew.(*backupv1alpha1.DCSRestore)
		return !okOld || !okNew || o.Status.Phase != n.Status.Phase
	}}
}

// occupancy says whether an object occupies its instance, and which.
type occupancy[T client.Object] func(T) (instance.Key, bool)

// backupOccupancy: a backup occupies its instance from its create intent
// (or adoption) until it ends.
func backupOccupancy(b *backupv1alpha1.DCSBackup) (instance.Key, bool) {
	return instanceKeyOf(b), holdsInstance(b)
}

// freedOnChange tells the coordinator when an object of one kind stopped
// occupying its instance (it finished, or is gone), once the informer cache
// shows it, so that the coordinator wakes the next object in line, of any
// kind.
func freedOnChange[T client.Object](coord *instance.Coordinator, occupies occupancy[T]) handler.EventHandler {
	freed := func(ctx context.Context, key instance.Key) {
		if err := coord.Freed(ctx, key); err != nil {
			// The objects waiting fall back on their safety-net requeue.
			log.FromContext(ctx).Error(err, "waking the next object waiting for an instance", "instance", key.ID)
		}
	}
	return handler.Funcs{
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			o, okOld := e.ObjectOld.(T)
			n, okNew := e.ObjectNew.(T)
			if !okOld || !okNew {
				return
			}
			if key, was := occupies(o); was {
				if _, is := occupies(n); !is {
					freed(ctx, key)
				}
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if o, ok := e.Object.(T); ok {
				key, _ := occupies(o)
				freed(ctx, key)
			}
		},
	}
}

// backupOccupants answers the coordinator's turn questions for DCSBackups,
// from the cache.
type backupOccupants struct {
	c client.Reader
}

var _ instance.Occupants = backupOccupants{}

func (s backupOccupants) list(ctx context.Context, key instance.Key) ([]backupv1alpha1.DCSBackup, error) {
	list := &backupv1alpha1.DCSBackupList{}
	if err := s.c.List(ctx, list, client.MatchingFields{indexInstance: key.String()}); err != nil {
		return nil, err
	}
	return list.Items, nil
}

func (s backupOccupants) Occupying(ctx context.Context, key instance.Key) ([]instance.Holder, error) {
	items, err := s.list(ctx, key)
	if err != nil {
		return nil, err
	}
	var out []instance.Holder
	for i := range items {
		if holdsInstance(&items[i]) {
			out = append(out, backupHolder(&items[i]))
		}
	}
	return out, nil
}

func (s backupOccupants) Waiting(ctx context.Context, key instance.Key) ([]instance.Holder, error) {
	items, err := s.list(ctx, key)
	if err != nil {
		return nil, err
	}
	var out []instance.Holder
	for i := range items {
		if waitingForTurn(&items[i]) {
			out = append(out, backupHolder(&items[i]))
		}
	}
	return out, nil
}

// StillOccupies trusts the holder until it finishes or is gone: right after
// it recorded its intent the cache may not show it yet.
func (s backupOccupants) StillOccupies(ctx context.Context, h instance.Holder) (bool, error) {
	b := &backupv1alpha1.DCSBackup{}
	if err := s.c.Get(ctx, h.Name, b); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return b.UID == h.UID && !isTerminalPhase(b.Status.Phase), nil
}

// waitingForTurn says whether a backup was turned away waiting for its
// instance and can take the turn when woken: not being deleted, not blocked
// on its user (a missing Secret, a refused endpoint), and not started yet.
func waitingForTurn(b *backupv1alpha1.DCSBackup) bool {
	c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSucceeded)
	if c == nil || c.Reason != backupv1alpha1.ReasonWaitingForInstance || !b.DeletionTimestamp.IsZero() ||
		b.Status.BackupID != "" || b.Status.CreateRequestedAt != nil || isTerminalPhase(b.Status.Phase) {
		return false
	}
	synced := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSynced)
	return synced == nil || synced.Status != metav1.ConditionFalse ||
		(synced.Reason != backupv1alpha1.ReasonCredentialsNotFound && synced.Reason != backupv1alpha1.ReasonInvalidEndpoint)
}
