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

// Package controller holds the reconcilers of the operator's kinds.
package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// Field indexes.
const (
	// indexInstance is the instance key of a backup (endpoint, project,
	// instance ID): the backups that share a DCS instance.
	indexInstance = "dcs.instanceKey"
	// indexSecret is the name of the credentials Secret a resource uses
	// (for DCSBackups, only while the Secret matters to them: see
	// backupSecretIndex).
	indexSecret = "spec.connection.credentialsSecretRef.name"
	// indexScheduleUID is the UID of the schedule that made a DCSBackup.
	indexScheduleUID = "dcs.scheduleUID"
	// indexRestoreBackupID is the DCS backup ID a DCSRestore restores.
	indexRestoreBackupID = "status.backupID"
)

// SetupWithManager builds the coordinator and every controller of the
// operator, and registers them with mgr.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	opts.defaults()
	coord := instance.New(instance.Options{
		Clock:  opts.Clock,
		Budget: dcs.NewLimiter(opts.DCSRequestsPerSecond, opts.DCSBurst).WithBackgroundShare(opts.DCSBackgroundShare),
		Observe: instance.ObserveOptions{
			Interval:        opts.RestorePollInterval,
			RunningInterval: fastRestorePoll,
			RecordsEvery:    max(recordRecheck, opts.RestorePollInterval),
		},
	})
	// The coordinator reads the lists of idle instances in the background,
	// on the leader only.
	if err := mgr.Add(coord); err != nil {
		return err
	}
	budgetMetrics.use(coord)
	states := newStateTable()
	if err := states.follow(context.Background(), mgr.GetCache()); err != nil {
		return err
	}
	stateMetrics.use(states, mgr.Elected())
	connector := opts.Connector
	if connector == nil {
		connector = &SecretConnector{
			Metadata:      mgr.GetClient(),
			APIReader:     mgr.GetAPIReader(),
			AllowInsecure: opts.InsecureEndpoints,
			Timeout:       opts.DCSTimeout,
			Limiter:       coord.Budget(),
			Clock:         opts.Clock,
			Observe:       observeDCS,
		}
	}
	if err := indexFields(context.Background(), mgr); err != nil {
		return err
	}
	stores := opts.Stores
	if stores == nil {
		stores = &SecretStorageConnector{Metadata: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
			AllowInsecure: opts.InsecureEndpoints}
	}
	deps := func(name string) Dependencies {
		return Dependencies{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder(name), Connector: connector,
			Coordinator: coord, Clock: opts.Clock, Stores: stores}
	}

	backupWakeups := newWakeups()
	coord.Register(kindBackup, backupOccupants{c: mgr.GetClient()}, backupWakeups.wake)
	backups := NewDCSBackupReconciler(deps("dcsbackup-controller"))
	if err := backups.SetupWithManager(mgr, opts.MaxConcurrentReconciles, backupWakeups); err != nil {
		return err
	}
	scheduleWakeups := newWakeups()
	coord.Register(kindSchedule, nil, scheduleWakeups.wake)
	schedules := NewDCSBackupScheduleReconciler(deps("dcsbackupschedule-controller"))
	if err := schedules.SetupWithManager(mgr, opts.MaxConcurrentReconciles, scheduleWakeups); err != nil {
		return err
	}

	restoreWakeups := newWakeups()
	coord.Register(kindRestore, restoreOccupants{c: mgr.GetClient()}, restoreWakeups.wake)
	restores := NewDCSRestoreReconciler(deps("dcsrestore-controller"), mgr.GetAPIReader())
	if err := restores.SetupWithManager(mgr, opts.MaxConcurrentReconciles, restoreWakeups); err != nil {
		return err
	}
	return setupExports(mgr, opts, deps)
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.RestorePollInterval <= 0 {
		o.RestorePollInterval = defaultRestorePollInterval
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = defaultMaxConcurrentReconciles
	}
	if o.DCSTimeout <= 0 {
		o.DCSTimeout = dcs.DefaultTimeout
	}
	if o.DCSRequestsPerSecond == 0 {
		o.DCSRequestsPerSecond = dcs.DefaultRateLimit
	}
	if o.DCSBackgroundShare <= 0 || o.DCSBackgroundShare > 1 {
		o.DCSBackgroundShare = dcs.DefaultBackgroundShare
	}
	if o.DCSBurst <= 0 {
		o.DCSBurst = dcs.DefaultRateBurst
	}
}

func indexFields(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &backupv1alpha1.DCSBackup{}, indexInstance, func(o client.Object) []string {
		return []string{instanceKeyOf(o.(*backupv1alpha1.DCSBackup)).String()}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &backupv1alpha1.DCSBackup{}, indexSecret, backupSecretIndex); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &backupv1alpha1.DCSBackup{}, indexScheduleUID, func(o client.Object) []string {
		if uid := o.GetLabels()[backupv1alpha1.LabelScheduleUID]; uid != "" {
			return []string{uid}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &backupv1alpha1.DCSBackupSchedule{}, indexSecret, func(o client.Object) []string {
		return []string{o.(*backupv1alpha1.DCSBackupSchedule).Spec.Template.Spec.Connection.CredentialsSecretRef.Name}
	}); err != nil {
		return err
	}
	if err := indexExports(ctx, idx); err != nil {
		return err
	}
	return indexRestores(ctx, idx)
}

// backupSecretIndex indexes a DCSBackup by its Secret only while a change of
// the Secret concerns it (backupsUsingSecret): until it ends, and while it
// is deleted. A finished backup reads its instance through the
// coordinator, which reads a changed Secret by itself; leaving the tens of
// thousands of finished backups of a fleet out keeps the index small.
func backupSecretIndex(o client.Object) []string {
	b := o.(*backupv1alpha1.DCSBackup)
	if isTerminalPhase(b.Status.Phase) && b.DeletionTimestamp.IsZero() {
		return nil
	}
	return []string{b.Spec.Connection.CredentialsSecretRef.Name}
}

func indexRestores(ctx context.Context, idx client.FieldIndexer) error {
	if err := idx.IndexField(ctx, &backupv1alpha1.DCSRestore{}, indexSecret, func(o client.Object) []string {
		return restoreSecrets(o.(*backupv1alpha1.DCSRestore))
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &backupv1alpha1.DCSRestore{}, indexRestoreBackupRef, func(o client.Object) []string {
		if ref := o.(*backupv1alpha1.DCSRestore).Spec.BackupRef; ref != nil {
			return []string{ref.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &backupv1alpha1.DCSRestore{}, indexRestoreTarget, func(o client.Object) []string {
		if id := o.(*backupv1alpha1.DCSRestore).Status.InstanceID; id != "" {
			return []string{id}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &backupv1alpha1.DCSRestore{}, indexRestoreStorage, restoreStorage); err != nil {
		return err
	}
	return idx.IndexField(ctx, &backupv1alpha1.DCSRestore{}, indexRestoreBackupID, func(o client.Object) []string {
		if id := o.(*backupv1alpha1.DCSRestore).Status.BackupID; id != "" {
			return []string{id}
		}
		return nil
	})
}

// secretMetadata is the metadata-only object of the Secret watches: the
// operator watches Secrets' names and versions, never their data.
func secretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}
