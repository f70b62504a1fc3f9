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

package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// Report is what kubectl dcs status shows: a row for each instance of each
// schedule, and optionally the DCSBackups that no schedule made. It is
// also the document of -o json and -o yaml.
type Report struct {
	// Instances has one entry per schedule and instance, by namespace,
	// schedule and instance.
	Instances []InstanceStatus `json:"instances"`
	// Backups are the DCSBackups no listed schedule made (one-off backups,
	// pre-restore backups, children of deleted schedules), with --loose.
	Backups []LooseBackup `json:"backups,omitempty"`
}

// InstanceStatus is one instance as one schedule sees it.
type InstanceStatus struct {
	Namespace string `json:"namespace"`
	Schedule  string `json:"schedule"`
	// InstanceID is empty for a fleet schedule that selected no instance.
	InstanceID string `json:"instanceID,omitempty"`
	// InstanceName is the DCS name; fleet schedules know it.
	InstanceName string `json:"instanceName,omitempty"`
	// Fleet is true for a schedule with an instanceSelector.
	Fleet bool `json:"fleet,omitempty"`

	LastSuccessfulTime   *metav1.Time `json:"lastSuccessfulTime,omitempty"`
	LastSuccessfulBackup string       `json:"lastSuccessfulBackup,omitempty"`
	// Fresh is True, False or Unknown: the RPO alarm, per instance.
	Fresh string `json:"fresh"`
	// FreshReason is the reason of the schedule's Fresh condition
	// (single-instance schedules), e.g. NotDueYet or BackupOverdue.
	FreshReason string `json:"freshReason,omitempty"`

	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
	Suspended        bool         `json:"suspended,omitempty"`

	// Running are the schedule's backups of the instance that have not
	// finished.
	Running []BackupSummary `json:"running,omitempty"`
	// LastExport is the export of the newest of the schedule's backups of
	// the instance that asked for one.
	LastExport *ExportSummary `json:"lastExport,omitempty"`

	// Ready is the status of the schedule's Ready condition, with its
	// reason and message when it is not True.
	Ready        string `json:"ready"`
	ReadyReason  string `json:"readyReason,omitempty"`
	ReadyMessage string `json:"readyMessage,omitempty"`
	// Skipped says why a fleet schedule makes no backups of the instance.
	Skipped string `json:"skipped,omitempty"`
}

// BackupSummary is a DCSBackup in a few words.
type BackupSummary struct {
	Name     string                     `json:"name"`
	Phase    backupv1alpha1.BackupPhase `json:"phase,omitempty"`
	Progress string                     `json:"progress,omitempty"`
}

// ExportSummary is the export of one DCSBackup.
type ExportSummary struct {
	Backup      string                     `json:"backup"`
	Phase       backupv1alpha1.ExportPhase `json:"phase,omitempty"`
	Path        string                     `json:"path,omitempty"`
	CompletedAt *metav1.Time               `json:"completedAt,omitempty"`
}

// LooseBackup is a DCSBackup that no listed schedule made.
type LooseBackup struct {
	Namespace   string                     `json:"namespace"`
	Name        string                     `json:"name"`
	InstanceID  string                     `json:"instanceID"`
	Phase       backupv1alpha1.BackupPhase `json:"phase,omitempty"`
	Progress    string                     `json:"progress,omitempty"`
	CompletedAt *metav1.Time               `json:"completedAt,omitempty"`
	// Origin says where it came from, when a label tells: a restore's
	// pre-restore backup, or a schedule that no longer exists.
	Origin            string         `json:"origin,omitempty"`
	Export            *ExportSummary `json:"export,omitempty"`
	CreationTimestamp metav1.Time    `json:"creationTimestamp"`
}

type statusOptions struct {
	*options
	allNamespaces bool
	loose         bool
	output        string
}

func (o *options) statusCommand() *cobra.Command {
	so := &statusOptions{options: o}
	cmd := &cobra.Command{
		Use:   "status [SCHEDULE]",
		Short: "Show each schedule's instances: last success, freshness, next run, running backup, last export",
		Long: `Show a row for each instance of each DCSBackupSchedule (fleet schedules: each selected
instance): the last successful backup, whether it is fresh (the RPO alarm), the next run,
the backup running now, the newest export, and why the schedule is not Ready.`,
		Example: `  kubectl dcs status
  kubectl dcs status orders-nightly -n shop
  kubectl dcs status -A --loose -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return so.run(cmd.Context(), args)
		},
	}
	cmd.Flags().BoolVarP(&so.allNamespaces, "all-namespaces", "A", false,
		"list the schedules of all namespaces")
	cmd.Flags().BoolVar(&so.loose, "loose", false,
		"also list the DCSBackups that no schedule made (one-off and pre-restore backups)")
	cmd.Flags().StringVarP(&so.output, "output", "o", "", "output format: json or yaml (default: a table)")
	return cmd
}

func (so *statusOptions) run(ctx context.Context, args []string) error {
	if so.output != "" && so.output != "json" && so.output != "yaml" {
		return fmt.Errorf("--output %q: use json or yaml, or leave it out for a table", so.output)
	}
	if so.allNamespaces && len(args) > 0 {
		return fmt.Errorf("a schedule name and --all-namespaces do not go together: name the schedule's namespace with -n")
	}
	c, err := so.newClient()
	if err != nil {
		return err
	}
	ns := ""
	if !so.allNamespaces {
		if ns, err = so.namespace(); err != nil {
			return err
		}
	}
	name := ""
	if len(args) > 0 {
		name = args[0]
	}
	report, err := collectStatus(ctx, c, ns, name, so.loose)
	if err != nil {
		return err
	}
	return so.print(report, ns)
}

// collectStatus reads the schedules (all of namespace ns, or the one named)
// and their DCSBackups, and builds the report. ns "" is all namespaces.
func collectStatus(ctx context.Context, c client.Client, ns, name string, loose bool) (*Report, error) {
	schedules, err := listSchedules(ctx, c, ns, name)
	if err != nil {
		return nil, err
	}
	var backupOpts []client.ListOption
	if ns != "" {
		backupOpts = append(backupOpts, client.InNamespace(ns))
	}
	switch {
	case loose:
	case name != "":
		backupOpts = append(backupOpts, client.MatchingLabels{backupv1alpha1.LabelSchedule: name})
	default:
		backupOpts = append(backupOpts, client.HasLabels{backupv1alpha1.LabelSchedule})
	}
	var backups backupv1alpha1.DCSBackupList
	if err := c.List(ctx, &backups, backupOpts...); err != nil {
		return nil, fmt.Errorf("list DCSBackups: %w", err)
	}
	children := map[types.UID][]*backupv1alpha1.DCSBackup{}
	owned := map[types.NamespacedName]bool{}
	for i := range backups.Items {
		b := &backups.Items[i]
		if s := parentSchedule(schedules, b); s != nil {
			children[s.UID] = append(children[s.UID], b)
			owned[client.ObjectKeyFromObject(b)] = true
		}
	}
	report := &Report{Instances: []InstanceStatus{}}
	for i := range schedules {
		report.Instances = append(report.Instances, scheduleRows(&schedules[i], children[schedules[i].UID])...)
	}
	if loose {
		for i := range backups.Items {
			if b := &backups.Items[i]; !owned[client.ObjectKeyFromObject(b)] {
				report.Backups = append(report.Backups, looseBackup(b))
			}
		}
	}
	return report, nil
}

// listSchedules lists the schedules of namespace ns, or gets the one named.
func listSchedules(ctx context.Context, c client.Client, ns, name string) ([]backupv1alpha1.DCSBackupSchedule, error) {
	if name != "" {
		var s backupv1alpha1.DCSBackupSchedule
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
			return nil, notFound(err, "DCSBackupSchedule", ns, name)
		}
		return []backupv1alpha1.DCSBackupSchedule{s}, nil
	}
	var list backupv1alpha1.DCSBackupScheduleList
	var opts []client.ListOption
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := c.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("list DCSBackupSchedules: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool {
		a, b := list.Items[i], list.Items[j]
		return a.Namespace < b.Namespace || a.Namespace == b.Namespace && a.Name < b.Name
	})
	return list.Items, nil
}

// parentSchedule is the schedule among schedules that made b: the one of
// its namespace named by its schedule label, with the UID of its UID label
// when it has one (a schedule re-created under the same name does not
// claim the backups of the one before, as in the operator).
func parentSchedule(schedules []backupv1alpha1.DCSBackupSchedule, b *backupv1alpha1.DCSBackup) *backupv1alpha1.DCSBackupSchedule {
	name, ok := b.Labels[backupv1alpha1.LabelSchedule]
	if !ok {
		return nil
	}
	for i := range schedules {
		s := &schedules[i]
		if s.Namespace != b.Namespace || s.Name != name {
			continue
		}
		if uid, ok := b.Labels[backupv1alpha1.LabelScheduleUID]; ok && uid != string(s.UID) {
			return nil
		}
		return s
	}
	return nil
}

// scheduleRows is one row per instance of s: the template's instance, or
// each instance a fleet schedule selected (one row without an instance
// when it selected none).
func scheduleRows(s *backupv1alpha1.DCSBackupSchedule, children []*backupv1alpha1.DCSBackup) []InstanceStatus {
	base := InstanceStatus{
		Namespace: s.Namespace, Schedule: s.Name, Fleet: s.Spec.InstanceSelector != nil,
		NextScheduleTime: s.Status.NextScheduleTime, Suspended: s.Spec.Suspend != nil && *s.Spec.Suspend,
		Ready: string(metav1.ConditionUnknown), Fresh: string(metav1.ConditionUnknown),
	}
	if c := meta.FindStatusCondition(s.Status.Conditions, backupv1alpha1.ConditionReady); c != nil {
		base.Ready = string(c.Status)
		if c.Status != metav1.ConditionTrue {
			base.ReadyReason, base.ReadyMessage = c.Reason, c.Message
		}
	}
	if !base.Fleet {
		row := base
		row.InstanceID = s.Spec.Template.Spec.InstanceID
		row.LastSuccessfulTime, row.LastSuccessfulBackup = s.Status.LastSuccessfulTime, s.Status.LastSuccessfulBackup
		if c := meta.FindStatusCondition(s.Status.Conditions, backupv1alpha1.ConditionFresh); c != nil {
			row.Fresh, row.FreshReason = string(c.Status), c.Reason
		}
		fillBackups(&row, children)
		return []InstanceStatus{row}
	}
	if len(s.Status.Instances) == 0 {
		return []InstanceStatus{base}
	}
	byInstance := map[string][]*backupv1alpha1.DCSBackup{}
	for _, b := range children {
		byInstance[b.Spec.InstanceID] = append(byInstance[b.Spec.InstanceID], b)
	}
	rows := make([]InstanceStatus, 0, len(s.Status.Instances))
	for _, e := range s.Status.Instances {
		row := base
		row.InstanceID, row.InstanceName, row.Skipped = e.InstanceID, e.Name, e.Skipped
		row.LastSuccessfulTime, row.LastSuccessfulBackup = e.LastSuccessfulTime, e.LastSuccessfulBackup
		row.Fresh = string(metav1.ConditionFalse)
		if e.Fresh {
			row.Fresh = string(metav1.ConditionTrue)
		}
		fillBackups(&row, byInstance[e.InstanceID])
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool { return instanceLabel(rows[i]) < instanceLabel(rows[j]) })
	return rows
}

func instanceLabel(r InstanceStatus) string {
	if r.InstanceName != "" {
		return r.InstanceName + "/" + r.InstanceID
	}
	return r.InstanceID
}

// fillBackups sets the running backups and the newest export of a row
// from the schedule's backups of its instance.
func fillBackups(row *InstanceStatus, backups []*backupv1alpha1.DCSBackup) {
	sort.Slice(backups, func(i, j int) bool { return newer(backups[i], backups[j]) })
	for _, b := range backups {
		if !finished(b.Status.Phase) {
			row.Running = append(row.Running, BackupSummary{Name: b.Name, Phase: b.Status.Phase, Progress: b.Status.Progress})
		}
		if row.LastExport == nil && b.Status.Export != nil {
			row.LastExport = exportSummary(b)
		}
	}
}

// newer orders backups newest first: by creation, then by name (children
// of one run-now token differ only in their instance).
func newer(a, b *backupv1alpha1.DCSBackup) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}

func exportSummary(b *backupv1alpha1.DCSBackup) *ExportSummary {
	e := b.Status.Export
	if e == nil {
		return nil
	}
	return &ExportSummary{Backup: b.Name, Phase: e.Phase, Path: e.Path, CompletedAt: e.CompletedAt}
}

func looseBackup(b *backupv1alpha1.DCSBackup) LooseBackup {
	lb := LooseBackup{
		Namespace: b.Namespace, Name: b.Name, InstanceID: b.Spec.InstanceID, Phase: b.Status.Phase,
		Progress: b.Status.Progress, CompletedAt: b.Status.CompletedAt, Export: exportSummary(b),
		CreationTimestamp: b.CreationTimestamp,
	}
	if r := b.Labels[backupv1alpha1.LabelRestore]; r != "" {
		lb.Origin = "pre-restore backup of dcsrestore/" + r
	} else if s := b.Labels[backupv1alpha1.LabelSchedule]; s != "" {
		lb.Origin = "dcsbackupschedule/" + s + " (deleted or re-created)"
	}
	return lb
}

// finished says whether a backup in this phase has ended; a backup the
// operator has not visited yet has no phase and has not.
func finished(p backupv1alpha1.BackupPhase) bool {
	switch p {
	case backupv1alpha1.PhaseSucceeded, backupv1alpha1.PhaseFailed, backupv1alpha1.PhaseExpired, backupv1alpha1.PhaseDeleted:
		return true
	}
	return false
}

// notFound turns the API server's NotFound into a message that names the
// object and its namespace; other errors keep theirs.
func notFound(err error, kind, ns, name string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %q not found in namespace %q", kind, name, ns)
	}
	return fmt.Errorf("get %s %s/%s: %w", kind, ns, name, err)
}

// join lists names for a message.
func join(names []string) string {
	return strings.Join(names, ", ")
}
