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

// DCSBackupStorageSpec is an S3-compatible bucket that backups are exported
// to.
type DCSBackupStorageSpec struct {
	// endpoint is the object store's URL: a scheme and host with an optional
	// port, no path, for example https://obs.eu-de.otc.t-systems.com or
	// https://s3.eu-central-1.amazonaws.com. Buckets are addressed by path
	// (https://host/bucket/key). Plain http is only accepted when the
	// operator runs with --insecure-endpoints.
	// +required
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^https?://([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?$`
	Endpoint string `json:"endpoint"`

	// region the requests are signed for, for example eu-de. Defaults to
	// us-east-1, which stores without regions accept.
	// +optional
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`
	Region string `json:"region,omitempty"`

	// bucket is the name of an existing bucket. The operator never creates
	// or deletes buckets.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	Bucket string `json:"bucket"`

	// prefix is the folder of every export in the bucket, for example
	// prod/. An export of DCSBackup NAME in namespace NS is the folder
	// <prefix><NS>/<NAME>/. Empty, or ending in "/" and not starting with
	// "/".
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self == '' || (self.endsWith('/') && !self.startsWith('/') && !self.contains('//'))",message="prefix: empty, or ending in '/' without a leading '/' or empty segments, e.g. prod/"
	Prefix string `json:"prefix,omitempty"`

	// credentialsSecretRef names a Secret in the same namespace with the
	// bucket's access key pair: keys accessKey and secretKey. See the
	// README's Exports section for the permissions they need.
	// +required
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`
}

// DCSBackupStorageStatus is the observed state of a storage.
type DCSBackupStorageStatus struct {
	// lastCheckedTime is when the operator last checked the bucket.
	// +optional
	LastCheckedTime *metav1.Time `json:"lastCheckedTime,omitempty"`

	// observedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready says whether the bucket is reachable and the
	// credentials are accepted.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dcsst,categories=dcs
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="Bucket",type=string,JSONPath=`.spec.bucket`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DCSBackupStorage is an S3-compatible bucket (OBS, S3, Ceph...) that
// backups are exported to: copies outside DCS, for long retention and to
// survive the deletion of an instance.
type DCSBackupStorage struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the bucket and how to reach it.
	// +required
	Spec DCSBackupStorageSpec `json:"spec"`

	// status is the observed state of the storage.
	// +optional
	Status DCSBackupStorageStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DCSBackupStorageList is a list of DCSBackupStorages.
type DCSBackupStorageList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DCSBackupStorage `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &DCSBackupStorage{}, &DCSBackupStorageList{})
}

// ExportSpec asks for a copy of a backup outside DCS.
type ExportSpec struct {
	// storageRef names the DCSBackupStorage, in this namespace, to copy
	// the backup's files into.
	// +required
	StorageRef LocalObjectReference `json:"storageRef"`
}

// ExportPhase is a one-word summary of an export for display. Automation
// should read the Exported condition instead.
// +kubebuilder:validation:Enum=Pending;Copying;Succeeded;Failed
type ExportPhase string

const (
	// ExportPhasePending waits for the backup to succeed or for its
	// storage.
	ExportPhasePending ExportPhase = "Pending"
	// ExportPhaseCopying means the files are being copied.
	ExportPhaseCopying ExportPhase = "Copying"
	// ExportPhaseSucceeded means every file and the manifest are in the
	// bucket.
	ExportPhaseSucceeded ExportPhase = "Succeeded"
	// ExportPhaseFailed means the export cannot complete.
	ExportPhaseFailed ExportPhase = "Failed"
)

// ExportedObject is one file of an export, as stored in the bucket.
type ExportedObject struct {
	// key of the object in the bucket, the storage's prefix included.
	Key string `json:"key"`
	// size in bytes.
	Size int64 `json:"size"`
	// sha256 is the hex SHA-256 of the object's content, computed while it
	// was copied.
	SHA256 string `json:"sha256"`
}

// ExportStatus is the state of a backup's export.
type ExportStatus struct {
	// phase is a one-word summary for display; read the Exported condition
	// in automation.
	// +optional
	Phase ExportPhase `json:"phase,omitempty"`

	// storage is the DCSBackupStorage the export goes to.
	// +optional
	Storage string `json:"storage,omitempty"`

	// bucket is the storage's bucket.
	// +optional
	Bucket string `json:"bucket,omitempty"`

	// path is the export's folder below the storage's prefix,
	// <namespace>/<backup name>/: what spec.source.export.path of a
	// DCSRestore takes.
	// +optional
	Path string `json:"path,omitempty"`

	// objects are the backup's files in the bucket (one per shard), without
	// the manifest.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	Objects []ExportedObject `json:"objects,omitempty"`

	// startedAt records the operator's intent to copy, written before the
	// copy starts. After a restart, a copy that was under way starts again:
	// multipart uploads of the folder begun before this time are aborted
	// first.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// completedAt is when the manifest was written (or an existing export
	// was adopted).
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// attempts counts the copies started.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// message says what the export does or why it stopped.
	// +optional
	Message string `json:"message,omitempty"`
}

// ExportRetention says which complete exports of a schedule to keep in the
// bucket, counted like restic's or borg's "forget": an export is kept when
// any rule keeps it.
// +kubebuilder:validation:XValidation:rule="has(self.keepLast) || has(self.keepDaily) || has(self.keepWeekly) || has(self.keepMonthly) || has(self.maxAge)",message="exportRetention: set at least one of keepLast, keepDaily, keepWeekly, keepMonthly and maxAge"
type ExportRetention struct {
	// keepLast keeps the newest this many exports.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	KeepLast *int32 `json:"keepLast,omitempty"`

	// keepDaily keeps the newest export of each of the last this many days
	// that have one, in the schedule's time zone.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	KeepDaily *int32 `json:"keepDaily,omitempty"`

	// keepWeekly keeps the newest export of each of the last this many ISO
	// weeks (Monday to Sunday) that have one, in the schedule's time zone.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	KeepWeekly *int32 `json:"keepWeekly,omitempty"`

	// keepMonthly keeps the newest export of each of the last this many
	// calendar months that have one, in the schedule's time zone.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	KeepMonthly *int32 `json:"keepMonthly,omitempty"`

	// maxAge deletes exports older than this (a Go duration such as
	// 8760h), whatever the keep rules say; without keep rules it alone
	// decides. The newest complete export is always kept.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// ExportSource is an export in a bucket to restore from.
type ExportSource struct {
	// storageRef names the DCSBackupStorage, in this namespace, that holds
	// the export.
	// +required
	StorageRef LocalObjectReference `json:"storageRef"`

	// path is the export's folder below the storage's prefix, as a
	// DCSBackup's status.export.path shows it: <namespace>/<backup name>/.
	// The folder must hold a manifest.json.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.contains('//') && !self.contains('..')",message="path: a folder below the storage's prefix, e.g. shop/orders-nightly-20260101-0300/, without a leading '/', empty segments or '..'"
	Path string `json:"path"`
}

// Condition type and reasons of exports and storages.
const (
	// ConditionExported is the outcome of a backup's export: Unknown while
	// it waits or copies, True when the export is complete, False when it
	// cannot complete (or waits for something only a person can fix).
	ConditionExported = "Exported"

	// Exported reasons.
	ReasonExportPending   = "Pending"
	ReasonExportCopying   = "Copying"
	ReasonExportSucceeded = "ExportSucceeded"
	ReasonExportAdopted   = "ExportAdopted"
	ReasonStorageNotFound = "StorageNotFound"
	ReasonStorageNotReady = "StorageNotReady"
	ReasonBackupGone      = "BackupGone"
	ReasonExportConflict  = "ExportConflict"
	ReasonSizeMismatch    = "SizeMismatch"
	ReasonExportFailed    = "ExportFailed"
	ReasonExportRetrying  = "Retrying"

	// DCSBackupStorage Ready reasons (with CredentialsNotFound,
	// Unauthorized and InvalidEndpoint).
	ReasonBucketReachable = "BucketReachable"
	ReasonBucketNotFound  = "BucketNotFound"
	ReasonUnreachable     = "Unreachable"
	ReasonStorageError    = "StorageError"

	// ReasonRetentionExceedsDCSCap is the Warning event of a schedule
	// whose retention cannot fit DCS's 24 backups per instance.
	ReasonRetentionExceedsDCSCap = "RetentionExceedsDCSCap"

	// ManifestName is the file that makes an export folder complete.
	ManifestName = "manifest.json"
)
