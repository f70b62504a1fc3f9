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
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// SetupWithManager wires the DCSBackupSchedule controller's watches.
func (r *DCSBackupScheduleReconciler) SetupWithManager(mgr ctrl.Manager, workers int, woken wakeups) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("dcsbackupschedule").
		// Own status writes do not trigger a pass; run-now annotations,
		// spec changes and deletion do.
		For(&backupv1alpha1.DCSBackupSchedule{}, builder.WithPredicates(specOrMetadataChanged())).
		// A child that starts, finishes or goes changes active, the latest
		// success, freshness and retention.
		Watches(&backupv1alpha1.DCSBackup{}, handler.EnqueueRequestsFromMapFunc(scheduleOfChild),
			builder.WithPredicates(phaseChanged())).
		Watches(secretMetadata(), handler.EnqueueRequestsFromMapFunc(r.schedulesUsingSecret), builder.OnlyMetadata).
		// The instance's latest restore changed (the coordinator's reads).
		WatchesRawSource(woken.source()).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// phaseChanged passes creations, deletions and phase changes of children,
// of the backup or of its export (export retention runs when one ends).
func phaseChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*backupv1alpha1.DCSBackup)
		n, okNew := e.ObjectNew.(*backupv1alpha1.DCSBackup)
		return !okOld || !okNew || o.Status.Phase != n.Status.Phase || !o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
			exportPhase(o) != exportPhase(n)
	}}
}

func exportPhase(b *backupv1alpha1.DCSBackup) backupv1alpha1.ExportPhase {
	if b.Status.Export == nil {
		return ""
	}
	return b.Status.Export.Phase
}

// scheduleOfChild maps a DCSBackup made by a schedule to that schedule.
func scheduleOfChild(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[backupv1alpha1.LabelSchedule]
	if name == "" || o.GetLabels()[backupv1alpha1.LabelScheduleUID] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}}}
}

// schedulesUsingSecret maps a Secret to the schedules whose template uses it.
func (r *DCSBackupScheduleReconciler) schedulesUsingSecret(ctx context.Context, o client.Object) []reconcile.Request {
	list := &backupv1alpha1.DCSBackupScheduleList{}
	if err := r.deps.Client.List(ctx, list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{indexSecret: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the DCSBackupSchedules that use a Secret", "secret", o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}
