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
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// stateCollector reports, at scrape time, figures read from the resources'
// status: they hold after a restart from the first scrape on (a gauge set
// when a backup succeeds would be empty until the next success). The
// informers' event handlers keep a small record per resource (its instance,
// last success and False condition), so a scrape reads that table instead
// of listing, and copying, tens of thousands of DCSBackups from the cache.
// Only the leader reports, so that a standby replica adds no second, stale
// series. The last manager set up in the process is reported (tests run
// several).
type stateCollector struct {
	src atomic.Pointer[stateSource]
}

type stateSource struct {
	table   *stateTable
	elected <-chan struct{}
}

var stateMetrics = &stateCollector{}

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

// use reports from table while elected is closed.
func (s *stateCollector) use(table *stateTable, elected <-chan struct{}) {
	s.src.Store(&stateSource{table: table, elected: elected})
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
	src.table.collect(ch)
}

// stateRecord is what the metrics need of one resource.
type stateRecord struct {
	namespace, kind string
	// instanceID and succeededAt are set for a succeeded DCSBackup.
	instanceID  string
	succeededAt time.Time
	// falseCond is the resource's Synced or Ready condition when False.
	falseCond *metav1.Condition
}

// stateTable holds a stateRecord per resource, fed by informer events.
type stateTable struct {
	mu      sync.RWMutex
	records map[types.UID]stateRecord
}

func newStateTable() *stateTable {
	return &stateTable{records: map[types.UID]stateRecord{}}
}

// stateKinds are the kinds the table follows.
var stateKinds = []client.Object{
	&backupv1alpha1.DCSBackup{}, &backupv1alpha1.DCSRestore{},
	&backupv1alpha1.DCSBackupSchedule{}, &backupv1alpha1.DCSBackupStorage{},
}

// follow registers the table's event handlers on the informers of c.
func (t *stateTable) follow(ctx context.Context, c cache.Cache) error {
	for _, obj := range stateKinds {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { t.set(o) },
			UpdateFunc: func(_, o any) { t.set(o) },
			DeleteFunc: t.remove,
		}); err != nil {
			return err
		}
	}
	return nil
}

// set records the resource o as its informer shows it now.
func (t *stateTable) set(o any) {
	r, uid, ok := recordOf(o)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.records[uid] = r
}

// remove forgets a deleted resource (also when the informer only has its
// last known state).
func (t *stateTable) remove(o any) {
	if tomb, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = tomb.Obj
	}
	obj, ok := o.(client.Object)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.records, obj.GetUID())
}

// recordOf reads the stateRecord of a resource of one of the stateKinds.
func recordOf(o any) (stateRecord, types.UID, bool) {
	var r stateRecord
	var conds []metav1.Condition
	var typ string
	var obj client.Object
	switch v := o.(type) {
	case *backupv1alpha1.DCSBackup:
		obj, conds, typ = v, v.Status.Conditions, backupv1alpha1.ConditionSynced
		r.kind = "DCSBackup"
		if v.Status.Phase == backupv1alpha1.PhaseSucceeded && v.Status.CompletedAt != nil && v.Spec.InstanceID != "" {
			r.instanceID, r.succeededAt = v.Spec.InstanceID, v.Status.CompletedAt.Time
		}
	case *backupv1alpha1.DCSRestore:
		obj, conds, typ, r.kind = v, v.Status.Conditions, backupv1alpha1.ConditionSynced, "DCSRestore"
	case *backupv1alpha1.DCSBackupSchedule:
		obj, conds, typ, r.kind = v, v.Status.Conditions, backupv1alpha1.ConditionReady, "DCSBackupSchedule"
	case *backupv1alpha1.DCSBackupStorage:
		obj, conds, typ, r.kind = v, v.Status.Conditions, backupv1alpha1.ConditionReady, "DCSBackupStorage"
	default:
		return r, "", false
	}
	r.namespace = obj.GetNamespace()
	if c := meta.FindStatusCondition(conds, typ); c != nil && c.Status == metav1.ConditionFalse {
		r.falseCond = &metav1.Condition{Type: c.Type, Reason: c.Reason, LastTransitionTime: c.LastTransitionTime}
	}
	return r, obj.GetUID(), true
}

// collect reports the latest success per instance and the resources whose
// condition is False.
func (t *stateTable) collect(ch chan<- prometheus.Metric) {
	latest := map[string]time.Time{}
	falses := conditionCounts{}
	t.mu.RLock()
	for _, r := range t.records {
		if r.instanceID != "" && r.succeededAt.After(latest[r.instanceID]) {
			latest[r.instanceID] = r.succeededAt
		}
		if r.falseCond != nil {
			falses.add(r.namespace, r.kind, r.falseCond)
		}
	}
	t.mu.RUnlock()
	for id, at := range latest {
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(at.Unix()), id)
	}
	falses.emit(ch)
}

type conditionKey struct{ namespace, kind, condition, reason string }

type conditionCount struct {
	n     int
	since time.Time
}

// conditionCounts counts the resources with a condition False per key,
// with the earliest transition among them.
type conditionCounts map[conditionKey]*conditionCount

func (c conditionCounts) add(namespace, kind string, cond *metav1.Condition) {
	k := conditionKey{namespace, kind, cond.Type, cond.Reason}
	e := c[k]
	if e == nil {
		e = &conditionCount{since: cond.LastTransitionTime.Time}
		c[k] = e
	}
	e.n++
	if cond.LastTransitionTime.Time.Before(e.since) {
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
