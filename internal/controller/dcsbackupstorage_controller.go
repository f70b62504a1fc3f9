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
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// kindStorage names DCSBackupStorages in the coordinator (failure counts).
const kindStorage = "DCSBackupStorage"

// storageRecheck is how often a Ready storage is checked again: a bucket
// deleted or a key revoked shows within this long, and the exports waiting
// for a storage that is not ready are woken by the Ready transition.
const storageRecheck = 10 * time.Minute

// DCSBackupStorageReconciler checks that a storage's bucket is reachable
// with its credentials, and says so in Ready.
type DCSBackupStorageReconciler struct {
	deps Dependencies
}

// NewDCSBackupStorageReconciler returns the DCSBackupStorage reconciler.
func NewDCSBackupStorageReconciler(d Dependencies) *DCSBackupStorageReconciler {
	return &DCSBackupStorageReconciler{deps: d}
}

func storageObject(n types.NamespacedName) instance.Object {
	return instance.Object{Kind: kindStorage, NamespacedName: n}
}

// SetupWithManager wires the controller's watches.
func (r *DCSBackupStorageReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("dcsbackupstorage").
		For(&backupv1alpha1.DCSBackupStorage{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// A Secret that appears or changes (a rotated key) is checked at
		// once: the storage recovers without waiting for its recheck.
		Watches(secretMetadata(), handler.EnqueueRequestsFromMapFunc(r.storagesUsingSecret), builder.OnlyMetadata).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

func (r *DCSBackupStorageReconciler) storagesUsingSecret(ctx context.Context, o client.Object) []reconcile.Request {
	list := &backupv1alpha1.DCSBackupStorageList{}
	if err := r.deps.Client.List(ctx, list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{indexSecret: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the DCSBackupStorages that use a Secret", "secret", o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// Reconcile checks the bucket and writes Ready.
func (r *DCSBackupStorageReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	st := &backupv1alpha1.DCSBackupStorage{}
	if err := r.deps.Client.Get(ctx, req.NamespacedName, st); err != nil {
		if apierrors.IsNotFound(err) {
			r.deps.Coordinator.Forget(storageObject(req.NamespacedName))
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !st.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	orig := st.DeepCopy()
	now := r.deps.Clock.Now()
	obj := storageObject(req.NamespacedName)
	var out effects
	wait := r.check(ctx, st, now, obj, &out)
	if ok, res, err := writeStatus(ctx, r.deps.Client, orig, st, &orig.Status, &st.Status); !ok {
		return res, err
	}
	out.flush(r.deps.Recorder, st, "CheckBucket")
	return ctrl.Result{RequeueAfter: wait}, nil
}

// check connects and asks the bucket, sets Ready and returns when to check
// again.
func (r *DCSBackupStorageReconciler) check(ctx context.Context, st *backupv1alpha1.DCSBackupStorage, now time.Time,
	obj instance.Object, out *effects) time.Duration {
	st.Status.ObservedGeneration = st.Generation
	st.Status.LastCheckedTime = timeOrNil(now)
	store, err := r.deps.Stores.Connect(ctx, st.Namespace, st.Spec)
	if err == nil {
		err = store.CheckBucket(ctx)
	}
	if err == nil {
		r.deps.Coordinator.Succeeded(obj)
		setStorageReady(st, now, out, metav1.ConditionTrue, backupv1alpha1.ReasonBucketReachable,
			fmt.Sprintf("bucket %s at %s is reachable and accepts the credentials of Secret %s", st.Spec.Bucket,
				st.Spec.Endpoint, st.Spec.CredentialsSecretRef.Name))
		return jitter(storageRecheck, 0.1)
	}
	reason, userFix := storageReason(err)
	msg := "checking bucket " + st.Spec.Bucket + ": " + err.Error()
	if hint, ok := storageHints[reason]; ok {
		msg += "; " + fmt.Sprintf(hint, st.Spec.CredentialsSecretRef.Name)
	}
	log.FromContext(ctx).V(1).Info("bucket check failed", "reason", reason, "error", err.Error())
	setStorageReady(st, now, out, metav1.ConditionFalse, reason, msg)
	base := errorBackoffBase
	if userFix {
		base = userFixBackoffBase
	}
	return errorBackoff(r.deps.Coordinator.Failed(obj, st.UID), base, errorBackoffLimit)
}

// setStorageReady sets Ready, with an event when its status or reason
// changes.
func setStorageReady(st *backupv1alpha1.DCSBackupStorage, now time.Time, out *effects,
	status metav1.ConditionStatus, reason, msg string) {
	old := meta.FindStatusCondition(st.Status.Conditions, backupv1alpha1.ConditionReady)
	if old == nil || old.Status != status || old.Reason != reason {
		out.event(status != metav1.ConditionTrue, reason, msg)
	}
	setCondition(&st.Status.Conditions, st.Generation, now, backupv1alpha1.ConditionReady, status, reason, msg)
}

// storageReady returns the Ready condition of a storage, nil if unknown.
func storageReady(st *backupv1alpha1.DCSBackupStorage) *metav1.Condition {
	return meta.FindStatusCondition(st.Status.Conditions, backupv1alpha1.ConditionReady)
}
