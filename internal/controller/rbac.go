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

// The manager's RBAC role (config/rbac/role.yaml, and the Helm chart's copy)
// is generated from these markers. Each rule is here because a controller
// uses it; rbac_test.go compares the generated role with this list.
//
// DCSBackup controller: reads backups, and writes their status and finalizer
// with patches.
// +kubebuilder:rbac:groups=backup.dcs-operator.dev,resources=dcsbackups,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=backup.dcs-operator.dev,resources=dcsbackups/status,verbs=patch
//
// DCSBackupSchedule controller: reads schedules, patches their status, and
// creates and prunes the DCSBackups it made (which carry no owner
// reference, so it needs no rights on the schedules' finalizers).
// +kubebuilder:rbac:groups=backup.dcs-operator.dev,resources=dcsbackupschedules,verbs=get;list;watch
// +kubebuilder:rbac:groups=backup.dcs-operator.dev,resources=dcsbackupschedules/status,verbs=patch
// +kubebuilder:rbac:groups=backup.dcs-operator.dev,resources=dcsbackups,verbs=create;delete
//
// DCSRestore controller: reads restores and patches their status; creates
// the pre-restore backup (create on dcsbackups, above).
// +kubebuilder:rbac:groups=backup.dcs-operator.dev,resources=dcsrestores,verbs=get;list;watch
// +kubebuilder:rbac:groups=backup.dcs-operator.dev,resources=dcsrestores/status,verbs=patch
//
// DCSBackupStorage controller: reads storages and patches their status;
// the export controller and the restores from exports read them too.
// Exports write DCSBackup status (above): they need nothing else.
// +kubebuilder:rbac:groups=backup.dcs-operator.dev,resources=dcsbackupstorages,verbs=get;list;watch
// +kubebuilder:rbac:groups=backup.dcs-operator.dev,resources=dcsbackupstorages/status,verbs=patch
//
// Credentials: the Secrets that DCS resources and storages reference. Their metadata is
// watched (so a fixed Secret is picked up at once); their data is read only
// when a resource needs it, and never cached.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
//
// Events on transitions (events.k8s.io/v1 recorder).
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
