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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIVersion selects the generation of the DCS backup API.
// +kubebuilder:validation:Enum=v2;v1
type APIVersion string

const (
	// APIVersionV2 is the recommended API (/v2/{project_id}/...).
	APIVersionV2 APIVersion = "v2"
	// APIVersionV1 is the legacy API (/v1.0/{project_id}/...). Its create
	// call takes no backup format, so only rdb backups can be made with it.
	APIVersionV1 APIVersion = "v1"
)

// Connection says how to reach the DCS API of one project.
// +kubebuilder:validation:XValidation:rule="has(self.region) || has(self.endpoint)",message="connection: set region or endpoint"
type Connection struct {
	// projectID is the IAM project ID of the region the instance lives in
	// (not the account or domain ID). It is filled into every request path.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9a-zA-Z][0-9a-zA-Z_-]*$`
	ProjectID string `json:"projectID"`

	// region is the cloud region, for example eu-west-0 (Huawei Cloud) or
	// eu-de (Open Telekom Cloud). Without an endpoint, the operator calls the
	// region's public DCS endpoint: https://dcs.eu-de.otc.t-systems.com and
	// https://dcs.eu-nl.otc.t-systems.com for Open Telekom Cloud's eu-de and
	// eu-nl, https://dcs.{region}.myhuaweicloud.com for every other region.
	// Set endpoint for any other cloud (Huawei Cloud Stack, Swiss Open
	// Telekom Cloud).
	// +optional
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`
	Region string `json:"region,omitempty"`

	// endpoint overrides the DCS endpoint, for example
	// https://dcs.eu-de.otc.t-systems.com for Open Telekom Cloud or a private
	// cloud. A scheme and host with an optional port, no path. Plain http is
	// only accepted when the operator runs with --insecure-endpoints.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^https?://([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?$`
	Endpoint string `json:"endpoint,omitempty"`

	// apiVersion is v2 (the default, recommended) or v1 (the legacy /v1.0
	// API). Use v1 only where v2 is not available.
	// +optional
	// +kubebuilder:default=v2
	APIVersion APIVersion `json:"apiVersion,omitempty"`

	// credentialsSecretRef names a Secret in the same namespace holding the
	// access key pair: keys accessKey and secretKey, and securityToken for
	// temporary credentials.
	// +required
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`
}

// SecretReference names a Secret in the namespace of the referring object.
type SecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// Keys of the credentials Secret.
const (
	SecretKeyAccessKey     = "accessKey"
	SecretKeySecretKey     = "secretKey"
	SecretKeySecurityToken = "securityToken"
)

// RestoreRecord is one restore of an instance from a backup, as DCS records it.
type RestoreRecord struct {
	// restoreID is the DCS id of the restore.
	RestoreID string `json:"restoreID"`
	// name is the DCS name of the restore, e.g. restore_20240101120000.
	// +optional
	Name string `json:"name,omitempty"`
	// backupID is the backup that was restored.
	// +optional
	BackupID string `json:"backupID,omitempty"`
	// backupName is the DCS name of that backup.
	// +optional
	BackupName string `json:"backupName,omitempty"`
	// status is the DCS status: waiting, restoring, succeed or failed.
	// +optional
	Status string `json:"status,omitempty"`
	// progress is the DCS progress in percent, e.g. "100.00".
	// +optional
	Progress string `json:"progress,omitempty"`
	// errorCode is the dcs.08.000x code of a failed restore.
	// +optional
	ErrorCode string `json:"errorCode,omitempty"`
	// remark is the description given to the restore.
	// +optional
	Remark string `json:"remark,omitempty"`
	// startedAt is when DCS created the restore task.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// completedAt is when the restore finished.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
}

// Condition types.
const (
	// ConditionSucceeded is the outcome of a backup: Unknown while it is
	// pending or running, True when DCS reports succeed, False when the
	// backup failed, expired or was deleted.
	ConditionSucceeded = "Succeeded"
	// ConditionSynced says whether the last conversation with DCS worked.
	ConditionSynced = "Synced"
	// ConditionRestored reflects the latest restore made from the backup
	// (on a schedule: on the instance). Present only once a restore exists.
	ConditionRestored = "Restored"
	// ConditionReady says whether a schedule can run: schedule, time zone,
	// credentials and instance check out.
	ConditionReady = "Ready"
	// ConditionLastBackupSucceeded is the result of a schedule's latest
	// finished run.
	ConditionLastBackupSucceeded = "LastBackupSucceeded"
	// ConditionFresh is the RPO alarm: False when no successful backup came
	// within the last two scheduled intervals.
	ConditionFresh = "Fresh"
)

// Condition reasons.
const (
	// Succeeded reasons.
	ReasonPending            = "Pending"
	ReasonWaitingForInstance = "WaitingForInstance"
	ReasonWaiting            = "Waiting"
	ReasonInProgress         = "InProgress"
	ReasonBackupSucceeded    = "BackupSucceeded"
	ReasonBackupFailed       = "BackupFailed"
	ReasonBackupExpired      = "BackupExpired"
	ReasonBackupDeleted      = "BackupDeleted"
	ReasonBackupNotFound     = "BackupNotFound"

	// Synced reasons.
	ReasonSynced               = "Synced"
	ReasonCredentialsNotFound  = "CredentialsNotFound"
	ReasonInvalidEndpoint      = "InvalidEndpoint"
	ReasonUnauthorized         = "Unauthorized"
	ReasonThrottled            = "Throttled"
	ReasonInstanceNotFound     = "InstanceNotFound"
	ReasonInstanceBusy         = "InstanceBusy"
	ReasonInstanceNotSupported = "InstanceNotSupported"
	ReasonAPIError             = "APIError"

	// Restored reasons (on DCSRestore also Succeeded reasons).
	ReasonRestoreSucceeded  = "RestoreSucceeded"
	ReasonRestoreInProgress = "RestoreInProgress"
	ReasonRestoreFailed     = "RestoreFailed"

	// DCSRestore Succeeded reasons.
	ReasonWaitingForBackup       = "WaitingForBackup"
	ReasonBackingUp              = "BackingUp"
	ReasonRestoring              = "Restoring"
	ReasonBackupNotRestorable    = "BackupNotRestorable"
	ReasonPreRestoreBackupFailed = "PreRestoreBackupFailed"
	ReasonWrongPassword          = "WrongPassword"
	ReasonRestoreRefused         = "RestoreRefused"
	ReasonRestoreNotFound        = "RestoreNotFound"

	// Ready reasons.
	ReasonReady           = "Ready"
	ReasonInvalidSchedule = "InvalidSchedule"
	ReasonInvalidTimeZone = "InvalidTimeZone"
	// ReasonCreateFailed: the API server refused a DCSBackup of the
	// schedule (a quota, an admission policy); the run is retried.
	ReasonCreateFailed = "CreateFailed"
	// ReasonNoInstancesSelected: no instance carries the tags of a fleet
	// schedule's instanceSelector.
	ReasonNoInstancesSelected = "NoInstancesSelected"

	// LastBackupSucceeded and Fresh reasons.
	ReasonNoBackupYet      = "NoBackupYet"
	ReasonNotDueYet        = "NotDueYet"
	ReasonRecentBackup     = "RecentBackup"
	ReasonBackupOverdue    = "BackupOverdue"
	ReasonLastRunFailed    = "LastRunFailed"
	ReasonLastRunSucceeded = "LastRunSucceeded"
)

// Labels and annotations the operator reads or sets.
const (
	// LabelSchedule is set on the DCSBackups a schedule creates; its value is
	// the schedule's name.
	LabelSchedule = "backup.dcs-operator.dev/schedule"
	// LabelScheduleUID is set beside LabelSchedule: the UID of the schedule
	// that made the DCSBackup. A schedule only counts (and prunes) children
	// with its own UID, so one re-created under the same name leaves the
	// backups of the one before alone.
	LabelScheduleUID = "backup.dcs-operator.dev/schedule-uid"
	// LabelInstance is set on the DCSBackups a schedule creates: the DCS
	// instance they back up (a fleet schedule's retention and freshness
	// are per instance).
	LabelInstance = "backup.dcs-operator.dev/instance"
	// LabelRestore is set on the pre-restore backup of a DCSRestore; its
	// value is the restore's name.
	LabelRestore = "backup.dcs-operator.dev/restore"
	// AnnotationRunNow on a schedule starts one run for each new value.
	AnnotationRunNow = "backup.dcs-operator.dev/run-now"
	// AnnotationScheduledTime on a child records the slot it was made for.
	AnnotationScheduledTime = "backup.dcs-operator.dev/scheduled-at"
	// AnnotationPrunedBy on a child says which schedule's retention deleted
	// it (and its cloud backup).
	AnnotationPrunedBy = "backup.dcs-operator.dev/pruned-by"
	// Finalizer guards cloud backups with deletionPolicy Delete.
	Finalizer = "backup.dcs-operator.dev/cloud-backup"
)
