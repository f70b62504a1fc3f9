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

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// Field indexes on DCSRestores.
const (
	// indexRestoreBackupRef is spec.backupRef.name.
	indexRestoreBackupRef = "spec.backupRef.name"
	// indexRestoreTarget is the target instance ID (status.instanceID).
	indexRestoreTarget = "status.instanceID"
	// indexRestoreStorage is the DCSBackupStorage of a restore from an
	// export (spec.source.export.storageRef.name), until the restore ends.
	indexRestoreStorage = "spec.source.export.storageRef.name"
)

// SetupWithManager wires the DCSRestore controller's watches.
func (r *DCSRestoreReconciler) SetupWithManager(mgr ctrl.Manager, workers int, woken wakeups) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("dcsrestore").
		For(&backupv1alpha1.DCSRestore{}, builder.WithPredicates(specOrMetadataChanged())).
		Watches(&backupv1alpha1.DCSRestore{}, freedOnChange(r.deps.Coordinator, r.occupancy)).
		// The DCSBackup to restore, or the pre-restore backup, started,
		// finished or appeared.
		Watches(&backupv1alpha1.DCSBackup{}, handler.EnqueueRequestsFromMapFunc(r.restoresOfBackup),
			builder.WithPredicates(phaseChanged())).
		Watches(secretMetadata(), handler.EnqueueRequestsFromMapFunc(r.restoresUsingSecret), builder.OnlyMetadata).
		// The storage of an export to restore appeared or turned Ready.
		Watches(&backupv1alpha1.DCSBackupStorage{}, handler.EnqueueRequestsFromMapFunc(r.restoresOfStorage),
			builder.WithPredicates(storageReadyChanged())).
		WatchesRawSource(woken.source()).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// occupancy says whether a restore occupies its target, and which one.
func (r *DCSRestoreReconciler) occupancy(rs *backupv1alpha1.DCSRestore) (instance.Key, bool) {
	key, ok := restoreTargetKey(context.Background(), r.deps.Client, rs)
	return key, ok && occupiesTarget(rs)
}

// restoreTargetKey is the key of a restore's target instance, resolved
// like a pass resolves it (the connection of spec.source, or that of the
// DCSBackup of spec.backupRef, read from the cache).
func restoreTargetKey(ctx context.Context, c client.Reader, rs *backupv1alpha1.DCSRestore) (instance.Key, bool) {
	if rs.Status.InstanceID == "" {
		return instance.Key{}, false
	}
	if rs.Spec.Source != nil {
		return instanceKey(rs.Spec.Source.Connection, rs.Status.InstanceID), true
	}
	b := &backupv1alpha1.DCSBackup{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: rs.Namespace, Name: rs.Spec.BackupRef.Name}, b); err != nil {
		return instance.Key{}, false
	}
	return instanceKey(b.Spec.Connection, rs.Status.InstanceID), true
}

// restoresOfBackup maps a DCSBackup to the restores that wait for it: the
// ones that restore it, and the one it is the pre-restore backup of.
func (r *DCSRestoreReconciler) restoresOfBackup(ctx context.Context, o client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	if name := o.GetLabels()[backupv1alpha1.LabelRestore]; name != "" {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}})
	}
	list := &backupv1alpha1.DCSRestoreList{}
	if err := r.deps.Client.List(ctx, list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{indexRestoreBackupRef: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the DCSRestores of a DCSBackup", "backup", o.GetName())
		return reqs
	}
	for i := range list.Items {
		if !restoreFinished(list.Items[i].Status.Phase) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// restoresUsingSecret maps a Secret to the unfinished restores that use it
// (credentials of spec.source, or the target's password).
func (r *DCSRestoreReconciler) restoresUsingSecret(ctx context.Context, o client.Object) []reconcile.Request {
	list := &backupv1alpha1.DCSRestoreList{}
	if err := r.deps.Client.List(ctx, list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{indexSecret: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the DCSRestores that use a Secret", "secret", o.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if !restoreFinished(list.Items[i].Status.Phase) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// restoresOfStorage maps a DCSBackupStorage to the unfinished restores of
// exports it holds (the index leaves finished ones out).
func (r *DCSRestoreReconciler) restoresOfStorage(ctx context.Context, o client.Object) []reconcile.Request {
	list := &backupv1alpha1.DCSRestoreList{}
	if err := r.deps.Client.List(ctx, list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{indexRestoreStorage: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the DCSRestores of exports in a storage", "storage", o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// restoreStorage is the index value of indexRestoreStorage.
func restoreStorage(o client.Object) []string {
	rs := o.(*backupv1alpha1.DCSRestore)
	if src := rs.Spec.Source; src != nil && src.Export != nil && !restoreFinished(rs.Status.Phase) {
		return []string{src.Export.StorageRef.Name}
	}
	return nil
}

// restoreSecrets are the Secrets a restore names (index values).
func restoreSecrets(rs *backupv1alpha1.DCSRestore) []string {
	var out []string
	if rs.Spec.Source != nil {
		out = append(out, rs.Spec.Source.Connection.CredentialsSecretRef.Name)
	}
	if t := rs.Spec.Target; t != nil && t.PasswordSecretRef != nil {
		out = append(out, t.PasswordSecretRef.Name)
	}
	return out
}

// restoreOccupants answers the coordinator's turn questions for
// DCSRestores, from the cache.
type restoreOccupants struct {
	c client.Reader
}

var _ instance.Occupants = restoreOccupants{}

func (s restoreOccupants) matching(ctx context.Context, key instance.Key,
	keep func(*backupv1alpha1.DCSRestore) bool) ([]instance.Holder, error) {
	list := &backupv1alpha1.DCSRestoreList{}
	if err := s.c.List(ctx, list, client.MatchingFields{indexRestoreTarget: key.ID}); err != nil {
		return nil, err
	}
	var out []instance.Holder
	for i := range list.Items {
		rs := &list.Items[i]
		// Instance IDs are UUIDs; the full key still tells instances of
		// other endpoints or projects apart.
		if k, ok := restoreTargetKey(ctx, s.c, rs); ok && k == key && keep(rs) {
			out = append(out, restoreHolder(rs))
		}
	}
	return out, nil
}

func (s restoreOccupants) Occupying(ctx context.Context, key instance.Key) ([]instance.Holder, error) {
	return s.matching(ctx, key, occupiesTarget)
}

func (s restoreOccupants) Waiting(ctx context.Context, key instance.Key) ([]instance.Holder, error) {
	return s.matching(ctx, key, func(rs *backupv1alpha1.DCSRestore) bool {
		return rs.Status.Phase == backupv1alpha1.RestorePhaseWaitingForInstance && rs.DeletionTimestamp.IsZero()
	})
}

// StillOccupies trusts the holder until it finishes or is gone.
func (s restoreOccupants) StillOccupies(ctx context.Context, h instance.Holder) (bool, error) {
	rs := &backupv1alpha1.DCSRestore{}
	if err := s.c.Get(ctx, h.Name, rs); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return rs.UID == h.UID && !restoreFinished(rs.Status.Phase), nil
}
