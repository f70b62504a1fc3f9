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

// BackupFormat is the file format of a backup.
// +kubebuilder:validation:Enum=rdb;aof
type BackupFormat string

const (
	// BackupFormatRDB is a Redis RDB snapshot (the default).
	BackupFormatRDB BackupFormat = "rdb"
	// BackupFormatAOF is a Redis append-only file.
	BackupFormatAOF BackupFormat = "aof"
)

// DeletionPolicy says what happens to the cloud backup when its DCSBackup is
// deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionPolicyRetain keeps the cloud backup (the default).
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete deletes the cloud backup with the resource.
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// BackupPhase is a one-word summary of a backup for display. Automation
// should read the conditions instead.
// +kubebuilder:validation:Enum=Pending;Waiting;InProgress;Succeeded;Failed;Expired;Deleted
type BackupPhase string

const (
	// PhasePending is accepted, not yet submitted to DCS.
	PhasePending BackupPhase = "Pending"
	// PhaseWaiting waits for the instance to be free, or is queued in DCS.
	PhaseWaiting BackupPhase = "Waiting"
	// PhaseInProgress means DCS is writing the backup.
	PhaseInProgress BackupPhase = "InProgress"
	// PhaseSucceeded means the backup is complete.
	PhaseSucceeded BackupPhase = "Succeeded"
	// PhaseFailed means DCS reports the backup failed.
	PhaseFailed BackupPhase = "Failed"
	// PhaseExpired means the backup file expired in DCS.
	PhaseExpired BackupPhase = "Expired"
	// PhaseDeleted means the backup file was deleted in DCS.
	PhaseDeleted BackupPhase = "Deleted"
)

// DCSBackupTemplateSpec is what a DCSBackup and a DCSBackupSchedule's
// template have in common: which instance, how to reach it, and how to back
// it up.
// +kubebuilder:validation:XValidation:rule="!(has(self.connection.apiVersion) && self.connection.apiVersion == 'v1' && has(self.format) && self.format == 'aof')",message="format: aof needs connection.apiVersion v2 (the v1.0 API cannot choose the format)",fieldPath=".format"
type DCSBackupTemplateSpec struct {
	// instanceID is the ID of the DCS instance to back up. Required on a
	// DCSBackup; in a schedule's template, set it or the schedule's
	// instanceSelector.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9a-zA-Z][0-9a-zA-Z-]*$`
	InstanceID string `json:"instanceID,omitempty"`

	// connection says how to reach DCS: project, region or endpoint, API
	// version and credentials.
	// +required
	Connection Connection `json:"connection"`

	// format is the backup file format: rdb (default) or aof.
	// +optional
	// +kubebuilder:default=rdb
	Format BackupFormat `json:"format,omitempty"`

	// remark is a description stored with the backup in DCS. The operator
	// appends a token with the resource's UID (41 characters), which lets it
	// find its backup again after a crash; DCS takes at most 128 characters
	// in all (DCS.4098), hence at most 87 here.
	// +optional
	// +kubebuilder:validation:MaxLength=87
	Remark string `json:"remark,omitempty"`

	// deletionPolicy is Retain (default: the cloud backup outlives the
	// resource) or Delete (the cloud backup is deleted with the resource).
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// export copies the backup's files, once it succeeded, into a bucket
	// outside DCS (a DCSBackupStorage), where they outlive DCS's 24-backup
	// cap and the instance. Neither pruning nor deleting the DCSBackup
	// deletes the copy. It may be added to an existing backup, not changed
	// or removed.
	// +optional
	Export *ExportSpec `json:"export,omitempty"`
}

// DCSBackupSpec is the desired backup.
// +kubebuilder:validation:XValidation:rule="has(self.instanceID)",message="spec.instanceID is required: the DCS instance to back up",fieldPath=".instanceID"
// +kubebuilder:validation:XValidation:rule="has(self.instanceID) == has(oldSelf.instanceID) && (!has(self.instanceID) || self.instanceID == oldSelf.instanceID)",message="instanceID is immutable",fieldPath=".instanceID"
// +kubebuilder:validation:XValidation:rule="self.connection == oldSelf.connection",message="connection is immutable",fieldPath=".connection"
// +kubebuilder:validation:XValidation:rule="(has(self.format) ? self.format : 'rdb') == (has(oldSelf.format) ? oldSelf.format : 'rdb')",message="format is immutable",fieldPath=".format"
// +kubebuilder:validation:XValidation:rule="has(self.remark) == has(oldSelf.remark) && (!has(self.remark) || self.remark == oldSelf.remark)",message="remark is immutable",fieldPath=".remark"
// +kubebuilder:validation:XValidation:rule="has(self.backupID) == has(oldSelf.backupID) && (!has(self.backupID) || self.backupID == oldSelf.backupID)",message="backupID is immutable",fieldPath=".backupID"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.export) || (has(self.export) && self.export == oldSelf.export)",message="export may be added, not changed or removed: an export in progress or done stays where it is",fieldPath=".export"
type DCSBackupSpec struct {
	DCSBackupTemplateSpec `json:",inline"`

	// backupID adopts an existing DCS backup record instead of creating a
	// new one. The operator then only tracks it (and deletes it according to
	// deletionPolicy).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9a-zA-Z][0-9a-zA-Z-]*$`
	BackupID string `json:"backupID,omitempty"`
}

// DCSBackupStatus is the observed state of a backup.
type DCSBackupStatus struct {
	// phase is a one-word summary for display; read conditions in automation.
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`

	// backupID is the DCS id of the backup.
	// +optional
	BackupID string `json:"backupID,omitempty"`

	// backupName is the DCS name of the backup, e.g. backup_20240101120000.
	// +optional
	BackupName string `json:"backupName,omitempty"`

	// progress is the DCS progress in percent, e.g. "42.50".
	// +optional
	Progress string `json:"progress,omitempty"`

	// size of the backup file in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`

	// format of the backup file as DCS reports it.
	// +optional
	Format BackupFormat `json:"format,omitempty"`

	// backupType is manual or auto.
	// +optional
	BackupType string `json:"backupType,omitempty"`

	// restorable is whether DCS can restore from this backup.
	// +optional
	Restorable bool `json:"restorable,omitempty"`

	// errorCode is the DCS error code (dcs.08.000x) of a failed backup.
	// +optional
	ErrorCode string `json:"errorCode,omitempty"`

	// startedAt is when DCS created the backup task.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// completedAt is when the backup finished.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// createRequestedAt records the operator's intent to create the backup,
	// written before the create call. After a crash between the call and
	// recording backupID, the operator looks for its backup (by the UID
	// token in the remark) in the records created since then and adopts it.
	// +optional
	CreateRequestedAt *metav1.Time `json:"createRequestedAt,omitempty"`

	// export is the state of the copy of the backup outside DCS, when
	// spec.export asks for one.
	// +optional
	Export *ExportStatus `json:"export,omitempty"`

	// restores made from this backup, newest first, at most 10.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	Restores []RestoreRecord `json:"restores,omitempty"`

	// observedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Succeeded, Synced, Exported (with spec.export) and, once
	// a restore exists, Restored.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dcsb,categories=dcs
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Instance",type=string,JSONPath=`.spec.instanceID`
// +kubebuilder:printcolumn:name="Backup ID",type=string,JSONPath=`.status.backupID`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Size",type=integer,JSONPath=`.status.size`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].reason`,description="Why the backup is where it is: the reason of its Succeeded condition"
// +kubebuilder:printcolumn:name="Export",type=string,JSONPath=`.status.export.phase`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DCSBackup is one backup of one DCS instance, from the API call to a
// restorable result, with the restores made from it.
type DCSBackup struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired backup.
	// +required
	Spec DCSBackupSpec `json:"spec"`

	// status is the observed state of the backup.
	// +optional
	Status DCSBackupStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DCSBackupList is a list of DCSBackups.
type DCSBackupList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DCSBackup `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &DCSBackup{}, &DCSBackupList{})
}
