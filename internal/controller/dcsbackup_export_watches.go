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

	"k8s.io/apimachinery/pkg/api/meta"
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
	"github.com/dcs-operator/dcs-backup-operator/internal/export"
)

// indexExportStorage is the DCSBackupStorage a DCSBackup exports to, while
// its export has not ended (backupsOfStorage wakes only those).
const indexExportStorage = "spec.export.storageRef.name"

// indexExports registers the field indexes of exports and storages.
func indexExports(ctx context.Context, idx client.FieldIndexer) error {
	if err := idx.IndexField(ctx, &backupv1alpha1.DCSBackup{}, indexExportStorage, func(o client.Object) []string {
		if b := o.(*backupv1alpha1.DCSBackup); b.Spec.Export != nil && !exportFinished(b) {
			return []string{b.Spec.Export.StorageRef.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &backupv1alpha1.DCSBackupStorage{}, indexSecret, func(o client.Object) []string {
		return []string{o.(*backupv1alpha1.DCSBackupStorage).Spec.CredentialsSecretRef.Name}
	})
}

// SetupWithManager wires the export controller: DCSBackups with
// spec.export, the storages they name, and the runner's wake-ups when a
// copy ends.
func (r *DCSBackupExportReconciler) SetupWithManager(mgr ctrl.Manager, workers int, woken wakeups) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("dcsbackup-export").
		For(&backupv1alpha1.DCSBackup{}, builder.WithPredicates(exportRelevant())).
		Watches(&backupv1alpha1.DCSBackupStorage{}, handler.EnqueueRequestsFromMapFunc(r.backupsOfStorage),
			builder.WithPredicates(storageReadyChanged())).
		WatchesRawSource(woken.source()).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// exportRelevant passes backups with spec.export when they appear, their
// spec changes (an export added) or their phase moves (a backup succeeded
// or was found deleted). The controller's own status writes do not pass.
func exportRelevant() predicate.Predicate {
	has := func(o client.Object) bool {
		b, ok := o.(*backupv1alpha1.DCSBackup)
		return ok && b.Spec.Export != nil
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return has(e.Object) },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(e event.GenericEvent) bool { return has(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, okOld := e.ObjectOld.(*backupv1alpha1.DCSBackup)
			n, okNew := e.ObjectNew.(*backupv1alpha1.DCSBackup)
			return okOld && okNew && n.Spec.Export != nil &&
				(o.Generation != n.Generation || o.Status.Phase != n.Status.Phase)
		},
	}
}

// storageReadyChanged passes storages that appear, change, or whose Ready
// condition changes.
func storageReadyChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*backupv1alpha1.DCSBackupStorage)
		n, okNew := e.ObjectNew.(*backupv1alpha1.DCSBackupStorage)
		if !okOld || !okNew || o.Generation != n.Generation {
			return true
		}
		oc := meta.FindStatusCondition(o.Status.Conditions, backupv1alpha1.ConditionReady)
		nc := meta.FindStatusCondition(n.Status.Conditions, backupv1alpha1.ConditionReady)
		return (oc == nil) != (nc == nil) || (oc != nil && nc != nil && oc.Status != nc.Status)
	}}
}

// backupsOfStorage maps a storage to the backups whose export waits for it.
func (r *DCSBackupExportReconciler) backupsOfStorage(ctx context.Context, o client.Object) []reconcile.Request {
	list := &backupv1alpha1.DCSBackupList{}
	if err := r.deps.Client.List(ctx, list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{indexExportStorage: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the DCSBackups that export to a storage", "storage", o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// exportFinished says whether a backup's export ended (either way).
func exportFinished(b *backupv1alpha1.DCSBackup) bool {
	e := b.Status.Export
	return e != nil && (e.Phase == backupv1alpha1.ExportPhaseSucceeded || e.Phase == backupv1alpha1.ExportPhaseFailed)
}

// setupExports registers the storage controller, the export runner and
// the export controller.
func setupExports(mgr ctrl.Manager, opts Options, deps func(string) Dependencies) error {
	storages := NewDCSBackupStorageReconciler(deps("dcsbackupstorage-controller"))
	if err := storages.SetupWithManager(mgr, opts.MaxConcurrentReconciles); err != nil {
		return err
	}
	woken := newWakeups()
	runner := export.NewRunner(opts.MaxConcurrentExports, woken.wake)
	if err := mgr.Add(runner); err != nil {
		return err
	}
	exports := NewDCSBackupExportReconciler(deps("dcsbackup-export-controller"), runner, opts.InsecureEndpoints)
	return exports.SetupWithManager(mgr, opts.MaxConcurrentReconciles, woken)
}
