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

// Package controller holds the reconcilers of DCSBackup and DCSBackupSchedule.
package controller

import (
	"context"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// Field indexes on DCSBackups.
const (
	// indexInstance is the instance key of a backup (endpoint, project,
	// instance ID): the backups that share a DCS instance.
	indexInstance = "dcs.instanceKey"
	// indexSecret is the name of the credentials Secret a backup uses.
	indexSecret = "spec.connection.credentialsSecretRef.name"
)

// SetupWithManager registers every controller of the operator with mgr.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	opts.defaults()
	connector := opts.Connector
	if connector == nil {
		connector = &SecretConnector{
			Metadata:      mgr.GetClient(),
			APIReader:     mgr.GetAPIReader(),
			AllowInsecure: opts.InsecureEndpoints,
			Timeout:       opts.DCSTimeout,
			Limiter:       dcs.NewLimiter(opts.DCSRequestsPerSecond, opts.DCSBurst),
			Clock:         opts.Clock,
			Observe:       observeDCS,
		}
	}
	if err := indexBackups(context.Background(), mgr); err != nil {
		return err
	}
	// Both controllers read an instance's restore records through one
	// cache, so a schedule and its backups cost one list per poll round.
	restores := newListCache[dcs.Restore]()
	backups := &DCSBackupReconciler{
		Client:              mgr.GetClient(),
		Recorder:            mgr.GetEventRecorder("dcsbackup-controller"),
		Connector:           connector,
		Clock:               opts.Clock,
		RestorePollInterval: opts.RestorePollInterval,
		restores:            restores,
	}
	if err := backups.SetupWithManager(mgr, opts.MaxConcurrentReconciles); err != nil {
		return err
	}
	schedules := &DCSBackupScheduleReconciler{
		Client:              mgr.GetClient(),
		Recorder:            mgr.GetEventRecorder("dcsbackupschedule-controller"),
		Connector:           connector,
		Clock:               opts.Clock,
		RestorePollInterval: opts.RestorePollInterval,
		restores:            restores,
	}
	return schedules.SetupWithManager(mgr, opts.MaxConcurrentReconciles)
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
	if o.DCSBurst <= 0 {
		o.DCSBurst = dcs.DefaultRateBurst
	}
}

func indexBackups(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &backupv1alpha1.DCSBackup{}, indexInstance, func(o client.Object) []string {
		return []string{string(instanceKeyOf(o.(*backupv1alpha1.DCSBackup)))}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &backupv1alpha1.DCSBackup{}, indexSecret, func(o client.Object) []string {
		return []string{o.(*backupv1alpha1.DCSBackup).Spec.Connection.CredentialsSecretRef.Name}
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &backupv1alpha1.DCSBackupSchedule{}, indexSecret, func(o client.Object) []string {
		return []string{o.(*backupv1alpha1.DCSBackupSchedule).Spec.Template.Spec.Connection.CredentialsSecretRef.Name}
	})
}
