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

// RestorePhase is a one-word summary of a restore for display. Automation
// should read the conditions instead.
// +kubebuilder:validation:Enum=Pending;WaitingForInstance;BackingUp;Restoring;Succeeded;Failed
type RestorePhase string

const (
	// RestorePhasePending is accepted; the checks have not all passed yet.
	RestorePhasePending RestorePhase = "Pending"
	// RestorePhaseWaitingForInstance waits for another operation on the
	// target instance to end.
	RestorePhaseWaitingForInstance RestorePhase = "WaitingForInstance"
	// RestorePhaseBackingUp waits for the pre-restore backup of the target.
	RestorePhaseBackingUp RestorePhase = "BackingUp"
	// RestorePhaseRestoring means DCS is restoring (or importing) the backup.
	RestorePhaseRestoring RestorePhase = "Restoring"
	// RestorePhaseSucceeded means the data is restored.
	RestorePhaseSucceeded RestorePhase = "Succeeded"
	// RestorePhaseFailed means a check failed or DCS reports the restore
	// failed.
	RestorePhaseFailed RestorePhase = "Failed"
)

// RestoreKind says how a backup is restored.
type RestoreKind string

const (
	// RestoreKindInPlace restores a backup into its own instance
	// (POST .../instances/{id}/restores).
	RestoreKindInPlace RestoreKind = "InPlace"
	// RestoreKindImport imports a backup into another instance (a backup
	// import task, POST .../migration-task).
	RestoreKindImport RestoreKind = "Import"
)

// LocalObjectReference names an object in the namespace of the referrer.
type LocalObjectReference struct {
	// name of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// SecretKeySelector names one key of a Secret in the namespace of the
// referrer.
type SecretKeySelector struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
	// key in the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// RestoreSource is a backup the operator did not make (an automatic
// backup, one made in the console or by another cluster), or an export in
// a bucket.
// +kubebuilder:validation:XValidation:rule="has(self.backupID) != has(self.export)",message="spec.source: set exactly one of backupID (a backup in DCS) and export (a copy in a bucket)"
// +kubebuilder:validation:XValidation:rule="!has(self.backupID) || has(self.instanceID)",message="spec.source.instanceID is required with spec.source.backupID",fieldPath=".instanceID"
// +kubebuilder:validation:XValidation:rule="!has(self.export) || !has(self.instanceID)",message="spec.source.instanceID is not used with spec.source.export: the export's manifest names the backup's instance (set spec.target.instanceID to restore elsewhere)",fieldPath=".instanceID"
type RestoreSource struct {
	// instanceID is the DCS instance the backup belongs to. Required with
	// backupID.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9a-zA-Z][0-9a-zA-Z-]*$`
	InstanceID string `json:"instanceID,omitempty"`

	// backupID is the DCS id of the backup.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9a-zA-Z][0-9a-zA-Z-]*$`
	BackupID string `json:"backupID,omitempty"`

	// export is a copy of a backup in a bucket (see DCSBackupStorage),
	// imported with a DCS backup import task from the bucket (file source
	// self_build_obs). DCS reads the files from an OBS bucket of the
	// target's account and region, so on the real cloud the storage must
	// be such a bucket. The target defaults to the instance the manifest
	// names.
	// +optional
	Export *ExportSource `json:"export,omitempty"`

	// connection says how to reach DCS: project, region or endpoint and
	// credentials. The restore talks to DCS through it, for the target too.
	// +required
	Connection Connection `json:"connection"`
}

// RestoreTarget is the instance a backup is restored into, when it is not
// the backup's own.
type RestoreTarget struct {
	// instanceID is the DCS instance to restore into, in the same project
	// and region as the backup: the operator imports the backup into it
	// with a backup import task. Data in the target is overwritten for the
	// keys the backup holds; other keys stay.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9a-zA-Z][0-9a-zA-Z-]*$`
	InstanceID string `json:"instanceID"`

	// passwordSecretRef names the key of a Secret in this namespace that
	// holds the target's Redis password, if it has one. The password is
	// read when the import starts and never written anywhere else.
	// +optional
	PasswordSecretRef *SecretKeySelector `json:"passwordSecretRef,omitempty"`
}

// DCSRestoreSpec is the desired restore. It is immutable as a whole: a
// restore runs at most once; restore again with a new DCSRestore.
// +kubebuilder:validation:XValidation:rule="has(self.backupRef) != has(self.source)",message="set exactly one of spec.backupRef (a DCSBackup in this namespace) and spec.source (a backup the operator did not make)"
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable: a restore runs at most once; create a new DCSRestore to restore again"
type DCSRestoreSpec struct {
	// backupRef names the DCSBackup, in this namespace, to restore.
	// +optional
	BackupRef *LocalObjectReference `json:"backupRef,omitempty"`

	// source is a backup the operator did not make, named by its DCS ids.
	// +optional
	Source *RestoreSource `json:"source,omitempty"`

	// target is the instance to restore into. Without it the backup is
	// restored into its own instance (in place), replacing its data.
	// +optional
	Target *RestoreTarget `json:"target,omitempty"`

	// preRestoreBackup makes a backup of the target first (a DCSBackup
	// named <restore name>-pre) and restores only once it succeeded, so a
	// wrong restore can be undone.
	// +optional
	PreRestoreBackup bool `json:"preRestoreBackup,omitempty"`

	// remark is a description passed to DCS with the restore. The operator
	// appends a token derived from the restore's namespace and name, which
	// lets it find its restore again after a crash or a re-creation.
	// +optional
	// +kubebuilder:validation:MaxLength=96
	Remark string `json:"remark,omitempty"`
}

// DCSRestoreStatus is the observed state of a restore.
type DCSRestoreStatus struct {
	// phase is a one-word summary for display; read conditions in automation.
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`

	// kind is InPlace (into the backup's own instance) or Import (into
	// another instance).
	// +optional
	Kind RestoreKind `json:"kind,omitempty"`

	// backupID is the DCS id of the backup restored.
	// +optional
	BackupID string `json:"backupID,omitempty"`

	// backupName is the DCS name of that backup.
	// +optional
	BackupName string `json:"backupName,omitempty"`

	// sourceInstanceID is the instance the backup belongs to.
	// +optional
	SourceInstanceID string `json:"sourceInstanceID,omitempty"`

	// instanceID is the instance restored into.
	// +optional
	InstanceID string `json:"instanceID,omitempty"`

	// restoreID is the DCS id of an in-place restore.
	// +optional
	RestoreID string `json:"restoreID,omitempty"`

	// migrationTaskID is the DCS id of the backup import task of a restore
	// into another instance.
	// +optional
	MigrationTaskID string `json:"migrationTaskID,omitempty"`

	// preRestoreBackup is the name of the DCSBackup of the target made
	// before the restore.
	// +optional
	PreRestoreBackup string `json:"preRestoreBackup,omitempty"`

	// progress is the DCS progress in percent, e.g. "42.50" (in-place
	// restores; import tasks report no progress).
	// +optional
	Progress string `json:"progress,omitempty"`

	// errorCode is the DCS error code of a failed restore (dcs.08.000x,
	// or the DCS.xxxx code of a refused one).
	// +optional
	ErrorCode string `json:"errorCode,omitempty"`

	// startedAt is when DCS accepted the restore.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// completedAt is when the restore finished.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// requestedAt records the operator's intent to start the restore,
	// written before the call. After a crash or a lost answer the operator
	// looks for its restore (by the token in the remark or task name)
	// instead of starting a second one.
	// +optional
	RequestedAt *metav1.Time `json:"requestedAt,omitempty"`

	// observedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Succeeded and Synced, as on DCSBackup.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dcsr,categories=dcs
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.status.backupID`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.status.instanceID`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DCSRestore restores one backup, into its own instance or into another
// one, exactly once.
type DCSRestore struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired restore.
	// +required
	Spec DCSRestoreSpec `json:"spec"`

	// status is the observed state of the restore.
	// +optional
	Status DCSRestoreStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DCSRestoreList is a list of DCSRestores.
type DCSRestoreList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DCSRestore `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &DCSRestore{}, &DCSRestoreList{})
}
