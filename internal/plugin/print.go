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
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"
)

// none is what a table shows for an empty cell, as kubectl does.
const none = "<none>"

func (so *statusOptions) print(r *Report, ns string) error {
	switch so.output {
	case "json":
		data, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(so.streams.Out, string(data))
		return err
	case "yaml":
		data, err := yaml.Marshal(r)
		if err != nil {
			return err
		}
		_, err = so.streams.Out.Write(data)
		return err
	}
	now := so.now()
	if len(r.Instances) == 0 {
		so.printf("No DCSBackupSchedules found%s.\n", inNamespace(ns))
	} else {
		if err := writeInstances(so.streams.Out, r.Instances, now, so.allNamespaces); err != nil {
			return err
		}
	}
	if !so.loose {
		return nil
	}
	so.printf("\n")
	if len(r.Backups) == 0 {
		so.printf("No DCSBackups outside schedules%s.\n", inNamespace(ns))
		return nil
	}
	return writeLoose(so.streams.Out, r.Backups, now, so.allNamespaces)
}

func inNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	return " in namespace " + ns
}

// table writes tab-separated rows aligned as kubectl aligns its tables.
type table struct {
	w             *tabwriter.Writer
	allNamespaces bool
}

func newTable(out io.Writer, allNamespaces bool, header ...string) *table {
	t := &table{w: tabwriter.NewWriter(out, 6, 4, 3, ' ', 0), allNamespaces: allNamespaces}
	t.row("NAMESPACE", header...)
	return t
}

func (t *table) row(ns string, cells ...string) {
	if t.allNamespaces {
		cells = append([]string{ns}, cells...)
	}
	for i, c := range cells {
		if c == "" {
			cells[i] = none
		}
	}
	_, _ = fmt.Fprintln(t.w, strings.Join(cells, "\t"))
}

func writeInstances(out io.Writer, rows []InstanceStatus, now time.Time, allNamespaces bool) error {
	t := newTable(out, allNamespaces,
		"SCHEDULE", "INSTANCE", "NAME", "LAST SUCCESS", "FRESH", "NEXT RUN", "RUNNING", "LAST EXPORT", "READY")
	for _, r := range rows {
		t.row(r.Namespace, r.Schedule, r.InstanceID, r.InstanceName, lastSuccess(r, now), r.Fresh,
			nextRun(r, now), running(r.Running), exportCell(r.LastExport, now), readyCell(r))
	}
	return t.w.Flush()
}

func writeLoose(out io.Writer, rows []LooseBackup, now time.Time, allNamespaces bool) error {
	t := newTable(out, allNamespaces, "BACKUP", "INSTANCE", "PHASE", "COMPLETED", "EXPORT", "ORIGIN", "AGE")
	for _, b := range rows {
		t.row(b.Namespace, b.Name, b.InstanceID, phaseCell(b.Phase, b.Progress), ago(b.CompletedAt, now),
			exportCell(b.Export, now), b.Origin, duration.HumanDuration(now.Sub(b.CreationTimestamp.Time)))
	}
	return t.w.Flush()
}

func lastSuccess(r InstanceStatus, now time.Time) string {
	if r.LastSuccessfulTime == nil {
		if r.InstanceID == "" {
			return ""
		}
		return "never"
	}
	return ago(r.LastSuccessfulTime, now)
}

func nextRun(r InstanceStatus, now time.Time) string {
	switch {
	case r.Suspended:
		return "suspended"
	case r.NextScheduleTime == nil:
		return ""
	case !r.NextScheduleTime.After(now):
		return "due"
	}
	return "in " + duration.HumanDuration(r.NextScheduleTime.Sub(now))
}

func running(backups []BackupSummary) string {
	cells := make([]string, 0, len(backups))
	for _, b := range backups {
		cells = append(cells, b.Name+" ("+phaseCell(b.Phase, b.Progress)+")")
	}
	return strings.Join(cells, ", ")
}

// phaseCell is a phase with the progress while it runs.
func phaseCell[P ~string](phase P, progress string) string {
	p := string(phase)
	if p == "" {
		p = "New"
	}
	if progress != "" && p == "InProgress" {
		p += " " + progress + "%"
	}
	return p
}

func exportCell(e *ExportSummary, now time.Time) string {
	if e == nil {
		return ""
	}
	if e.CompletedAt != nil {
		return string(e.Phase) + " " + ago(e.CompletedAt, now)
	}
	return string(e.Phase)
}

func readyCell(r InstanceStatus) string {
	if r.Skipped != "" {
		return "Skipped: " + r.Skipped
	}
	if r.ReadyReason != "" {
		return r.ReadyReason
	}
	return r.Ready
}

// ago is the age of t as kubectl shows ages ("5m ago"), or "".
func ago(t *metav1.Time, now time.Time) string {
	if t == nil {
		return ""
	}
	return duration.HumanDuration(now.Sub(t.Time)) + " ago"
}
