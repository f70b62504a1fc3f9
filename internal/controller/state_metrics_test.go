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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

func stateBackup(ns, name, instanceID string, phase backupv1alpha1.BackupPhase, done time.Time, conds ...metav1.Condition) *backupv1alpha1.DCSBackup {
	b := &backupv1alpha1.DCSBackup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	b.Spec.InstanceID = instanceID
	b.Status.Phase = phase
	if !done.IsZero() {
		b.Status.CompletedAt = &metav1.Time{Time: done}
	}
	b.Status.Conditions = conds
	return b
}

func falseCond(typ, reason string, since time.Time) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionFalse, Reason: reason, Message: "m",
		LastTransitionTime: metav1.Time{Time: since}}
}

func TestStateMetricsComeFromTheResourcesStatus(t *testing.T) {
	t1 := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	t2 := t1.Add(24 * time.Hour)
	schedule := &backupv1alpha1.DCSBackupSchedule{ObjectMeta: metav1.ObjectMeta{Namespace: "pay", Name: "nightly"}}
	schedule.Status.Conditions = []metav1.Condition{falseCond(backupv1alpha1.ConditionReady, "Unauthorized", t1)}
	objs := []client.Object{
		stateBackup("shop", "a", "i1", backupv1alpha1.PhaseSucceeded, t1),
		stateBackup("shop", "b", "i1", backupv1alpha1.PhaseSucceeded, t2),
		// Failed and running backups are no success, whatever their times.
		stateBackup("shop", "c", "i1", backupv1alpha1.PhaseFailed, t2.Add(time.Hour)),
		stateBackup("pay", "d", "i2", backupv1alpha1.PhaseSucceeded, t1),
		stateBackup("pay", "e", "i3", backupv1alpha1.PhaseInProgress, time.Time{},
			falseCond(backupv1alpha1.ConditionSynced, backupv1alpha1.ReasonThrottled, t2)),
		stateBackup("pay", "f", "i3", backupv1alpha1.PhasePending, time.Time{},
			falseCond(backupv1alpha1.ConditionSynced, backupv1alpha1.ReasonThrottled, t1)),
		schedule,
	}
	// A backup that is gone no longer counts; an updated one counts as it
	// is now.
	gone := stateBackup("shop", "gone", "i1", backupv1alpha1.PhaseSucceeded, t2.Add(time.Hour))
	moved := stateBackup("pay", "moved", "i2", backupv1alpha1.PhasePending, time.Time{},
		falseCond(backupv1alpha1.ConditionSynced, backupv1alpha1.ReasonAPIError, t1))
	table := newStateTable()
	for i, o := range append(objs, gone, moved) {
		o.SetUID(types.UID(strconv.Itoa(i)))
		table.set(o)
	}
	table.remove(toolscache.DeletedFinalStateUnknown{Key: "shop/gone", Obj: gone})
	now := moved.DeepCopy()
	now.Status.Conditions = nil
	table.set(now)
	col := &stateCollector{}
	elected := make(chan struct{})
	col.use(table, elected)
	if n := testutil.CollectAndCount(col); n != 0 {
		t.Fatalf("a replica that is not the leader reported %d series, want none", n)
	}
	close(elected)
	want := `
# HELP dcs_backup_operator_last_success_timestamp_seconds Completion time (Unix seconds) of the latest successful backup per DCS instance, from the DCSBackups' status.
# TYPE dcs_backup_operator_last_success_timestamp_seconds gauge
dcs_backup_operator_last_success_timestamp_seconds{instance_id="i1"} ` + unixText(t2) + `
dcs_backup_operator_last_success_timestamp_seconds{instance_id="i2"} ` + unixText(t1) + `
# HELP dcs_backup_operator_condition_false_resources Resources whose Synced (DCSBackup, DCSRestore) or Ready (DCSBackupSchedule, DCSBackupStorage) condition is False, by namespace, kind, condition and reason.
# TYPE dcs_backup_operator_condition_false_resources gauge
dcs_backup_operator_condition_false_resources{condition="Ready",kind="DCSBackupSchedule",namespace="pay",reason="Unauthorized"} 1
dcs_backup_operator_condition_false_resources{condition="Synced",kind="DCSBackup",namespace="pay",reason="Throttled"} 2
# HELP dcs_backup_operator_condition_false_since_timestamp_seconds The earliest time (Unix seconds) one of the resources counted by dcs_backup_operator_condition_false_resources turned False: how long the oldest of these problems lasts.
# TYPE dcs_backup_operator_condition_false_since_timestamp_seconds gauge
dcs_backup_operator_condition_false_since_timestamp_seconds{condition="Ready",kind="DCSBackupSchedule",namespace="pay",reason="Unauthorized"} ` + unixText(t1) + `
dcs_backup_operator_condition_false_since_timestamp_seconds{condition="Synced",kind="DCSBackup",namespace="pay",reason="Throttled"} ` + unixText(t1) + `
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func unixText(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func TestMetricFamiliesListsEveryOperatorMetric(t *testing.T) {
	got := MetricFamilies()
	for _, want := range []string{
		"dcs_backup_operator_backups_total", "dcs_backup_operator_backup_duration_seconds",
		"dcs_backup_operator_last_success_timestamp_seconds", "dcs_backup_operator_condition_false_since_timestamp_seconds",
		"dcs_backup_operator_dcs_budget_requests_total", "dcs_backup_operator_exports_total",
		"dcs_backup_operator_restores_total", "dcs_backup_operator_schedule_instance_fresh",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("MetricFamilies() lacks %s: %v", want, got)
		}
	}
}

func TestMetricNamesOfPromQL(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (namespace, schedule) (increase(a_total{job=~"$job",result!~"ok|busy"}[1h])) > 0`: {"a_total"},
		`time() - max by (le) (b) and on (namespace, schedule) (max by (x) (c{y="z"}) == 0)`:      {"b", "c"},
		`histogram_quantile(0.95, sum by (le) (rate(d_bucket[$__rate_interval]))) or vector(0)`:   {"d_bucket"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%s) = %v, want %v", expr, got, want)
		}
	}
}

// Two DCS endpoints (regions) can hold projects with the same ID: the
// budget collector reports them as separate series, not as one series
// twice (which makes the whole scrape fail).
func TestBudgetMetricsSeparateEndpointsWithTheSameProject(t *testing.T) {
	coord := instance.New(instance.Options{Clock: clocktesting.NewFakeClock(time.Now()),
		Budget:  dcs.NewLimiter(10, 20).WithBackgroundShare(0.25),
		Observe: instance.ObserveOptions{Interval: time.Minute}})
	for _, endpoint := range []string{"https://dcs.eu-de.example", "https://dcs.eu-nl.example"} {
		key := instance.Key{Endpoint: endpoint, Project: "p1", ID: "i1"}
		obj := instance.Object{Kind: "DCSBackup", NamespacedName: types.NamespacedName{Namespace: "shop", Name: endpoint}}
		coord.Track(obj, types.UID(endpoint), key)
		coord.Watch(instance.Watch{Object: obj, UID: types.UID(endpoint), Key: key})
	}
	col := &budgetCollector{}
	col.use(coord)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() == "dcs_backup_operator_observation_interval_seconds" && len(f.GetMetric()) != 2 {
			t.Errorf("%s has %d series, want one per endpoint", f.GetName(), len(f.GetMetric()))
		}
	}
}
