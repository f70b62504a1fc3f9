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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Retention says which succeeded backups of a schedule to keep.
type Retention struct {
	// keepLast is how many succeeded backups to keep, newest first.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	KeepLast *int32 `json:"keepLast,omitempty"`

	// maxAge deletes succeeded backups older than this (a Go duration such
	// as 720h). The newest succeeded, restorable backup is always kept.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// BackupTemplateMetadata is the metadata given to the DCSBackups a schedule
// creates.
type BackupTemplateMetadata struct {
	// labels added to each backup.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// annotations added to each backup.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// DCSBackupTemplate describes the DCSBackups a schedule creates.
type DCSBackupTemplate struct {
	// metadata given to each backup.
	// +optional
	Metadata BackupTemplateMetadata `json:"metadata,omitempty"`

	// spec of each backup.
	// +required
	Spec DCSBackupTemplateSpec `json:"spec"`
}

// DCSBackupScheduleSpec is the desired schedule.
// +kubebuilder:validation:XValidation:rule="has(self.instanceSelector) != has(self.template.spec.instanceID)",message="set exactly one of spec.instanceSelector (a fleet of instances by their tags) and spec.template.spec.instanceID (one instance)"
// +kubebuilder:validation:XValidation:rule="!has(self.startWindow) || has(self.instanceSelector)",message="spec.startWindow spreads the backups of a fleet: it needs spec.instanceSelector",fieldPath=".startWindow"
// +kubebuilder:validation:XValidation:rule="!has(self.exportRetention) || has(self.template.spec.export)",message="exportRetention needs template.spec.export: it prunes the exports of the schedule's backups",fieldPath=".exportRetention"
type DCSBackupScheduleSpec struct {
	// schedule in cron format: five fields (minute hour day-of-month month
	// day-of-week) or a macro such as @daily or @hourly. Set the time zone
	// in timeZone, not with a CRON_TZ= or TZ= prefix.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('CRON_TZ=') && !self.startsWith('TZ=')",message="schedule: CRON_TZ= and TZ= prefixes are not supported; set spec.timeZone instead"
	Schedule string `json:"schedule"`

	// timeZone is the IANA time zone the schedule is read in, for example
	// Europe/Berlin. Defaults to UTC.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+/-]*$`
	TimeZone *string `json:"timeZone,omitempty"`

	// suspend stops new runs; runs already started go on.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`

	// startingDeadlineSeconds: a run missed by more than this many seconds
	// (operator down, schedule suspended) is skipped. Whatever the deadline,
	// at most one missed run is caught up: the latest. Unset means no
	// deadline: after an outage the latest missed run is made once, however
	// late.
	// +optional
	// +kubebuilder:validation:Minimum=0
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// retention of succeeded backups in DCS. Without it every backup is
	// kept, up to DCS's cap of 24 backups per instance (automatic and
	// manual together): beyond it DCS deletes the oldest. For more, export
	// the backups (template.spec.export) and set exportRetention.
	// +optional
	Retention *Retention `json:"retention,omitempty"`

	// exportRetention says which exports of this schedule's backups to
	// keep in the bucket (the template's spec.export), independent of
	// retention, which counts the backups in DCS: DCS keeps at most 24
	// backups per instance, the bucket as many as this says. The exports
	// are read from the bucket, which is their catalogue. Without it every
	// export is kept.
	// +optional
	ExportRetention *ExportRetention `json:"exportRetention,omitempty"`

	// failedBackupsHistoryLimit is how many failed backups to keep (the
	// latest run is always kept, whatever its result, so its error stays
	// visible). Pruned failed backups lose their DCS records too.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	FailedBackupsHistoryLimit *int32 `json:"failedBackupsHistoryLimit,omitempty"`

	// template of the DCSBackups this schedule creates.
	// +required
	Template DCSBackupTemplate `json:"template"`

	// instanceSelector backs up every instance of the template's project
	// that carries the given DCS tags, instead of the one instance of
	// template.spec.instanceID: a fleet. Each run makes one DCSBackup per
	// selected instance that can be backed up; instances tagged later are
	// picked up at the next run.
	// +optional
	InstanceSelector *InstanceSelector `json:"instanceSelector,omitempty"`

	// startWindow spreads the backups of one run of a fleet over this long
	// after the slot (a Go duration such as 30m), each instance at a stable
	// offset, instead of starting them all at the slot.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	StartWindow *metav1.Duration `json:"startWindow,omitempty"`
}

// InstanceSelector selects DCS instances by their tags.
type InstanceSelector struct {
	// tags an instance must all carry, as key: value (DCS instance tags,
	// the list's tags=key=value filter).
	// +required
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=10
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.contains(',') && !k.contains('=') && !self[k].contains(','))",message="instanceSelector.tags: keys cannot contain ',' or '=' and values cannot contain ','"
	Tags map[string]string `json:"tags"`
}

// ScheduleInstance is what a fleet schedule knows of one selected instance.
type ScheduleInstance struct {
	// instanceID is the DCS instance.
	InstanceID string `json:"instanceID"`
	// name is the instance's name in DCS.
	// +optional
	Name string `json:"name,omitempty"`
	// since is when the schedule first selected the instance: it is not
	// overdue before two scheduled intervals have passed since.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
	// lastSuccessfulTime is when the latest successful backup of the
	// instance by this schedule completed.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`
	// lastSuccessfulBackup is the name of that DCSBackup.
	// +optional
	LastSuccessfulBackup string `json:"lastSuccessfulBackup,omitempty"`
	// fresh is false when no successful backup of the instance came within
	// the last two scheduled intervals.
	Fresh bool `json:"fresh"`
	// skipped says why the schedule makes no backups of the instance: it
	// is not RUNNING, it is single-node, or it no longer carries the tags
	// (or was deleted); its backups are kept.
	// +optional
	Skipped string `json:"skipped,omitempty"`
}

// DCSBackupScheduleStatus is the observed state of a schedule.
type DCSBackupScheduleStatus struct {
	// lastScheduleTime is the slot of the latest run.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// nextScheduleTime is the next slot.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// lastSkippedTime is the slot of the latest run that was skipped: missed
	// by more than startingDeadlineSeconds, older than the one catch-up run,
	// or due while the previous backup still ran.
	// +optional
	LastSkippedTime *metav1.Time `json:"lastSkippedTime,omitempty"`

	// lastSuccessfulTime is when the latest successful backup completed.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// lastSuccessfulBackup is the name of the latest successful DCSBackup.
	// +optional
	LastSuccessfulBackup string `json:"lastSuccessfulBackup,omitempty"`

	// active lists the backups of this schedule still running.
	// +optional
	// +listType=atomic
	Active []corev1.LocalObjectReference `json:"active,omitempty"`

	// instances are the instances a fleet schedule (instanceSelector)
	// selected, with their latest success and freshness, and the reason
	// for those it skips.
	// +optional
	// +listType=map
	// +listMapKey=instanceID
	// +kubebuilder:validation:MaxItems=10000
	Instances []ScheduleInstance `json:"instances,omitempty"`

	// instancesListedAt is when the fleet's instances were last listed.
	// +optional
	InstancesListedAt *metav1.Time `json:"instancesListedAt,omitempty"`

	// lastRestore is the latest restore on the instance, whoever started it.
	// +optional
	LastRestore *RestoreRecord `json:"lastRestore,omitempty"`

	// exportsKept is how many complete exports of this schedule's backups
	// export retention found in the bucket and kept, as of
	// lastExportPruneTime.
	// +optional
	ExportsKept *int32 `json:"exportsKept,omitempty"`

	// lastExportPruneTime is when export retention last read the bucket.
	// +optional
	LastExportPruneTime *metav1.Time `json:"lastExportPruneTime,omitempty"`

	// lastRunNowToken is the run-now annotation value already acted on.
	// +optional
	LastRunNowToken string `json:"lastRunNowToken,omitempty"`

	// observedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, LastBackupSucceeded, Fresh and, once the instance
	// was restored, Restored.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dcsbs,categories=dcs
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Time Zone",type=string,JSONPath=`.spec.timeZone`,priority=1
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Fresh",type=string,JSONPath=`.status.conditions[?(@.type=="Fresh")].status`
// +kubebuilder:printcolumn:name="Last Success",type=date,JSONPath=`.status.lastSuccessfulTime`
// +kubebuilder:printcolumn:name="Next",type=string,JSONPath=`.status.nextScheduleTime`,description="The next run (UTC): a future time, which a date column would print as <invalid>"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DCSBackupSchedule makes DCSBackups of one instance on a cron schedule,
// prunes them by a retention policy and raises an alarm when backups stop
// coming in.
type DCSBackupSchedule struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired schedule.
	// +required
	Spec DCSBackupScheduleSpec `json:"spec"`

	// status is the observed state of the schedule.
	// +optional
	Status DCSBackupScheduleStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DCSBackupScheduleList is a list of DCSBackupSchedules.
type DCSBackupScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DCSBackupSchedule `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &DCSBackupSchedule{}, &DCSBackupScheduleList{})
}
