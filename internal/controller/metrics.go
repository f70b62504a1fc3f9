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

import (
	"context"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// Metric label names shared by several metrics.
const (
	labelNamespace = "namespace"
	labelSchedule  = "schedule"
	labelResult    = "result"
	labelInstance  = "instance_id"
	labelKind      = "kind"
)

// Metrics on the manager's metrics endpoint. Names are part of the
// operator's interface: the Helm chart's PrometheusRule uses them.
var (
	backupsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dcs_backup_operator_backups_total",
		Help: "Backups that reached a final state, by result (succeeded, failed, expired, deleted).",
	}, []string{labelNamespace, labelResult})

	backupDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "dcs_backup_operator_backup_duration_seconds",
		Help: "Duration of successful backups as DCS reports it (created_at to updated_at).",
		// 1 s to about 4.5 h.
		Buckets: prometheus.ExponentialBuckets(1, 2.5, 12),
	})

	dcsRequestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dcs_backup_operator_dcs_requests_total",
		Help: "Requests to the DCS API by operation and result (ok, or the error class).",
	}, []string{"operation", labelResult})
)

// Restore metrics.
var (
	restoresTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dcs_backup_operator_restores_total",
		Help: "Restores that ended, by kind (in_place, import) and result: succeeded or failed (DCS ran them), " +
			"rejected (failed their checks before DCS was asked: no such backup, a wrong password, ...).",
	}, []string{labelNamespace, labelKind, labelResult})

	restoreDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dcs_backup_operator_restore_duration_seconds",
		Help: "Duration of successful restores, from DCS accepting them to their end, by kind.",
		// 1 s to about 4.5 h.
		Buckets: prometheus.ExponentialBuckets(1, 2.5, 12),
	}, []string{labelKind})
)

// Schedule metrics.
var (
	scheduleLastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dcs_backup_operator_schedule_last_success_timestamp_seconds",
		Help: "Completion time (Unix seconds) of the latest successful backup of a schedule.",
	}, []string{labelNamespace, labelSchedule})

	scheduleFresh = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dcs_backup_operator_schedule_fresh",
		Help: "1 when the schedule's Fresh condition is True (a successful backup within two scheduled intervals), else 0.",
	}, []string{labelNamespace, labelSchedule})

	scheduleRunsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dcs_backup_operator_schedule_runs_total",
		Help: "Finished runs of a schedule by result (succeeded, failed).",
	}, []string{labelNamespace, labelSchedule, labelResult})

	scheduleInstanceLastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dcs_backup_operator_schedule_instance_last_success_timestamp_seconds",
		Help: "Completion time (Unix seconds) of the latest successful backup of each instance of a fleet schedule.",
	}, []string{labelNamespace, labelSchedule, labelInstance})

	scheduleInstanceFresh = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dcs_backup_operator_schedule_instance_fresh",
		Help: "1 when an instance of a fleet schedule had a successful backup within two scheduled intervals, else 0.",
	}, []string{labelNamespace, labelSchedule, labelInstance})

	scheduleMissedRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dcs_backup_operator_schedule_missed_runs_total",
		Help: "Scheduled runs that were skipped: missed during an outage or suspension, past the deadline, or due while a backup ran.",
	}, []string{labelNamespace, labelSchedule})
)

// budgetCollector reports, at scrape time, the DCS request budget and the
// coordinator's background reads: the coordinator and the limiter keep the
// counts, so the figures are the live ones and cost nothing between
// scrapes. The last manager set up in the process is reported (tests run
// several).
type budgetCollector struct {
	coord atomic.Pointer[instance.Coordinator]
}

var budgetMetrics = &budgetCollector{}

var (
	budgetRequestsDesc = prometheus.NewDesc("dcs_backup_operator_dcs_budget_requests_total",
		"DCS requests the client-side budget let through, by class: start (creates, restores, imports, "+
			"deletes), foreground (polls users wait for) and background (reads of idle instances).",
		[]string{"class"}, nil)
	budgetRateDesc = prometheus.NewDesc("dcs_backup_operator_dcs_budget_requests_per_second",
		"The DCS request budget per endpoint and project: all requests (class foreground) and the share "+
			"background reads may use (class background).", []string{"class"}, nil)
	observedDesc = prometheus.NewDesc("dcs_backup_operator_observed_instances",
		"DCS instances whose lists the operator reads in the background, by state: active (a backup or restore "+
			"in the last hour, read every --restore-poll-interval) or idle, per DCS endpoint and project.",
		[]string{"endpoint", "project", "state"}, nil)
	observationIntervalDesc = prometheus.NewDesc("dcs_backup_operator_observation_interval_seconds",
		"The current interval between two background reads of an idle instance's restores, per DCS endpoint and project.",
		[]string{"endpoint", "project"}, nil)
)

func (b *budgetCollector) use(c *instance.Coordinator) { b.coord.Store(c) }

func (b *budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- budgetRequestsDesc
	ch <- budgetRateDesc
	ch <- observedDesc
	ch <- observationIntervalDesc
}

func (b *budgetCollector) Collect(ch chan<- prometheus.Metric) {
	c := b.coord.Load()
	if c == nil {
		return
	}
	admitted := map[dcs.Priority]int64{}
	for _, u := range c.Budget().Usage() {
		for p, n := range u.Admitted {
			admitted[p] += n
		}
	}
	for _, p := range []dcs.Priority{dcs.Start, dcs.Foreground, dcs.Background} {
		ch <- prometheus.MustNewConstMetric(budgetRequestsDesc, prometheus.CounterValue, float64(admitted[p]), p.String())
	}
	if rate := c.Budget().Rate(); !math.IsInf(rate, 1) {
		ch <- prometheus.MustNewConstMetric(budgetRateDesc, prometheus.GaugeValue, rate, dcs.Foreground.String())
		ch <- prometheus.MustNewConstMetric(budgetRateDesc, prometheus.GaugeValue, c.Budget().BackgroundRate(),
			dcs.Background.String())
	}
	for _, g := range c.Observed() {
		ch <- prometheus.MustNewConstMetric(observedDesc, prometheus.GaugeValue, float64(g.Active), g.Endpoint, g.Project, "active")
		ch <- prometheus.MustNewConstMetric(observedDesc, prometheus.GaugeValue, float64(g.Idle), g.Endpoint, g.Project, "idle")
		ch <- prometheus.MustNewConstMetric(observationIntervalDesc, prometheus.GaugeValue, g.IdleInterval.Seconds(), g.Endpoint, g.Project)
	}
}

// operatorCollectors are the operator's own metrics (controller-runtime's
// are registered by controller-runtime).
var operatorCollectors = []prometheus.Collector{
	budgetMetrics, stateMetrics,
	backupsTotal, backupDuration, dcsRequestsTotal,
	scheduleLastSuccess, scheduleFresh, scheduleRunsTotal, scheduleMissedRuns,
	scheduleInstanceLastSuccess, scheduleInstanceFresh, restoresTotal, restoreDuration,
	exportsTotal, exportBytesTotal, exportDuration,
}

func init() {
	metrics.Registry.MustRegister(operatorCollectors...)
}

// fqNamePattern finds a metric's name in prometheus.Desc.String().
var fqNamePattern = regexp.MustCompile(`fqName: "([a-zA-Z_:][a-zA-Z0-9_:]*)"`)

// MetricFamilies lists the names of the metric families the operator's
// controllers export, whether or not they have series yet: dashboards and
// alerts may use these (histograms with _bucket, _sum and _count).
func MetricFamilies() []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range operatorCollectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		if m := fqNamePattern.FindStringSubmatch(d.String()); m != nil {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// forgetScheduleMetrics drops the series of a deleted schedule.
func forgetScheduleMetrics(namespace, name string) {
	labels := prometheus.Labels{labelNamespace: namespace, labelSchedule: name}
	scheduleLastSuccess.DeletePartialMatch(labels)
	scheduleFresh.DeletePartialMatch(labels)
	scheduleRunsTotal.DeletePartialMatch(labels)
	scheduleMissedRuns.DeletePartialMatch(labels)
	scheduleInstanceLastSuccess.DeletePartialMatch(labels)
	scheduleInstanceFresh.DeletePartialMatch(labels)
}

// observeDCS counts one DCS call.
func observeDCS(operation string, err error) {
	result := "ok"
	if err != nil {
		result = strings.ToLower(dcs.Classify(err).String())
	}
	dcsRequestsTotal.WithLabelValues(operation, result).Inc()
}

// observedAPI counts every call of an API.
type observedAPI struct {
	api     dcs.API
	observe func(operation string, err error)
}

var _ dcs.API = (*observedAPI)(nil)

func (o *observedAPI) CreateBackup(ctx context.Context, instanceID string, req dcs.CreateBackupRequest) (string, error) {
	id, err := o.api.CreateBackup(ctx, instanceID, req)
	o.observe("create_backup", err)
	return id, err
}

func (o *observedAPI) ListBackups(ctx context.Context, instanceID string, opts dcs.ListOptions) ([]dcs.Backup, error) {
	items, err := o.api.ListBackups(ctx, instanceID, opts)
	o.observe("list_backups", err)
	return items, err
}

func (o *observedAPI) ListRestores(ctx context.Context, instanceID string, opts dcs.ListOptions) ([]dcs.Restore, error) {
	items, err := o.api.ListRestores(ctx, instanceID, opts)
	o.observe("list_restores", err)
	return items, err
}

func (o *observedAPI) DeleteBackup(ctx context.Context, instanceID, backupID string) error {
	err := o.api.DeleteBackup(ctx, instanceID, backupID)
	o.observe("delete_backup", err)
	return err
}

func (o *observedAPI) RestoreBackup(ctx context.Context, instanceID, backupID, remark string) (string, error) {
	id, err := o.api.RestoreBackup(ctx, instanceID, backupID, remark)
	o.observe("restore_backup", err)
	return id, err
}

func (o *observedAPI) ShowInstance(ctx context.Context, instanceID string) (dcs.Instance, error) {
	inst, err := o.api.ShowInstance(ctx, instanceID)
	o.observe("show_instance", err)
	return inst, err
}

func (o *observedAPI) ListInstances(ctx context.Context, opts dcs.ListInstancesOptions) ([]dcs.Instance, error) {
	items, err := o.api.ListInstances(ctx, opts)
	o.observe("list_instances", err)
	return items, err
}

func (o *observedAPI) ListBackupFileLinks(ctx context.Context, instanceID, backupID string,
	expiration time.Duration,
) (dcs.BackupFiles, error) {
	files, err := o.api.ListBackupFileLinks(ctx, instanceID, backupID, expiration)
	o.observe("list_backup_file_links", err)
	return files, err
}

func (o *observedAPI) CreateImportTask(ctx context.Context, req dcs.ImportTaskRequest) (dcs.ImportTask, error) {
	task, err := o.api.CreateImportTask(ctx, req)
	o.observe("create_import_task", err)
	return task, err
}

func (o *observedAPI) ShowImportTask(ctx context.Context, taskID string) (dcs.ImportTask, error) {
	task, err := o.api.ShowImportTask(ctx, taskID)
	o.observe("show_import_task", err)
	return task, err
}

func (o *observedAPI) ListImportTasks(ctx context.Context, opts dcs.ListImportTasksOptions) ([]dcs.ImportTask, error) {
	items, err := o.api.ListImportTasks(ctx, opts)
	o.observe("list_import_tasks", err)
	return items, err
}
