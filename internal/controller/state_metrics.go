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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// stateCollector reports, at scrape time, figures read from the resources'
// status in the manager's cache: they hold after a restart from the first
// scrape on (a gauge set when a backup succeeds would be empty until the
// next success), and cost nothing between scrapes. Only the leader reports,
// so that a standby replica adds no second, stale series. The last manager
// set up in the process is reported (tests run several).
type stateCollector struct {
	src atomic.Pointer[stateSource]
}

type stateSource struct {
	reader  client.Reader
	elected <-chan struct{}
}

var stateMetrics = &stateCollector{}

// scrapeListTimeout bounds the cache reads of one scrape.
const scrapeListTimeout = 10 * time.Second

var (
	lastSuccessDesc = prometheus.NewDesc("dcs_backup_operator_last_success_timestamp_seconds",
		"Completion time (Unix seconds) of the latest successful backup per DCS instance, from the DCSBackups' status.",
		[]string{labelInstance}, nil)
	conditionFalseDesc = prometheus.NewDesc("dcs_backup_operator_condition_false_resources",
		"Resources whose Synced (DCSBackup, DCSRestore) or Ready (DCSBackupSchedule, DCSBackupStorage) condition "+
			"is False, by namespace, kind, condition and reason.",
		[]string{labelNamespace, labelKind, "condition", "reason"}, nil)
	conditionFalseSinceDesc = prometheus.NewDesc("dcs_backup_operator_condition_false_since_timestamp_seconds",
		"The earliest time (Unix seconds) one of the resources counted by dcs_backup_operator_condition_false_resources "+
			"turned False: how long the oldest of these problems lasts.",
		[]string{labelNamespace, labelKind, "condition", "reason"}, nil)
)

func (s *stateCollector) use(reader client.Reader, elected <-chan struct{}) {
	s.src.Store(&stateSource{reader: reader, elected: elected})
}

func (s *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lastSuccessDesc
	ch <- conditionFalseDesc
	ch <- conditionFalseSinceDesc
}

func (s *stateCollector) Collect(ch chan<- prometheus.Metric) {
	src := s.src.Load()
	if src == nil || !isClosed(src.elected) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeListTimeout)
	defer cancel()
	falses := conditionCounts{}
	if err := collectBackups(ctx, src.reader, ch, falses); err != nil {
		logf.Log.WithName("metrics").Error(err, "reading DCSBackups for the metrics")
	}
	restores := &backupv1alpha1.DCSRestoreList{}
	schedules := &backupv1alpha1.DCSBackupScheduleList{}
	storages := &backupv1alpha1.DCSBackupStorageList{}
	for _, l := range []client.ObjectList{restores, schedules, storages} {
		if err := src.reader.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			logf.Log.WithName("metrics").Error(err, "reading resources for the metrics")
		}
	}
	for i := range restores.Items {
		r := &restores.Items[i]
		falses.add(r.Namespace, "DCSRestore", backupv1alpha1.ConditionSynced, r.Status.Conditions)
	}
	for i := range schedules.Items {
		sc := &schedules.Items[i]
		falses.add(sc.Namespace, "DCSBackupSchedule", backupv1alpha1.ConditionReady, sc.Status.Conditions)
	}
	for i := range storages.Items {
		st := &storages.Items[i]
		falses.add(st.Namespace, "DCSBackupStorage", backupv1alpha1.ConditionReady, st.Status.Conditions)
	}
	falses.emit(ch)
}

// collectBackups reports the latest success per instance and counts the
// backups that are not Synced.
func collectBackups(ctx context.Context, r client.Reader, ch chan<- prometheus.Metric, falses conditionCounts) error {
	list := &backupv1alpha1.DCSBackupList{}
	if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	latest := map[string]time.Time{}
	for i := range list.Items {
		b := &list.Items[i]
		falses.add(b.Namespace, "DCSBackup", backupv1alpha1.ConditionSynced, b.Status.Conditions)
		if b.Status.Phase != backupv1alpha1.PhaseSucceeded || b.Status.CompletedAt == nil || b.Spec.InstanceID == "" {
			continue
		}
		if t := b.Status.CompletedAt.Time; t.After(latest[b.Spec.InstanceID]) {
			latest[b.Spec.InstanceID] = t
		}
	}
	for id, t := range latest {
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(t.Unix()), id)
	}
	return nil
}

type conditionKey struct{ namespace, kind, condition, reason string }

type conditionCount struct {
	n     int
	since time.Time
}

// conditionCounts counts the resources with a condition False per key,
// with the earliest transition among them.
type conditionCounts map[conditionKey]*conditionCount

func (c conditionCounts) add(namespace, kind, typ string, conds []metav1.Condition) {
	cond := meta.FindStatusCondition(conds, typ)
	if cond == nil || cond.Status != metav1.ConditionFalse {
		return
	}
	k := conditionKey{namespace, kind, typ, cond.Reason}
	e := c[k]
	if e == nil {
		e = &conditionCount{since: cond.LastTransitionTime.Time}
		c[k] = e
	}
	e.n++
	if cond.LastTransitionTime.Before(&metav1.Time{Time: e.since}) {
		e.since = cond.LastTransitionTime.Time
	}
}

func (c conditionCounts) emit(ch chan<- prometheus.Metric) {
	for k, e := range c {
		ch <- prometheus.MustNewConstMetric(conditionFalseDesc, prometheus.GaugeValue, float64(e.n),
			k.namespace, k.kind, k.condition, k.reason)
		ch <- prometheus.MustNewConstMetric(conditionFalseSinceDesc, prometheus.GaugeValue, float64(e.since.Unix()),
			k.namespace, k.kind, k.condition, k.reason)
	}
}

func isClosed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
