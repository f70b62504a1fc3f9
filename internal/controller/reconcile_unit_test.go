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

// Unit tests of Reconcile through the constructors, with controller-runtime's
// fake client and interceptors, for the paths the envtest suites cannot
// force: a status write that loses a conflict, a child that already exists,
// a create the API server refuses, and DCS answers that never change.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

var unitNow = time.Date(2027, 5, 10, 12, 0, 0, 0, time.UTC)

// stubAPI is a DCS that answers from functions; a call without one panics
// (the embedded nil API), so a test notices a call it did not expect.
type stubAPI struct {
	dcs.API
	createBackup func(string, dcs.CreateBackupRequest) (string, error)
	listBackups  func(string) ([]dcs.Backup, error)
	listRestores func(string) ([]dcs.Restore, error)
	showInstance func(string) (dcs.Instance, error)
}

func (s *stubAPI) CreateBackup(_ context.Context, id string, req dcs.CreateBackupRequest) (string, error) {
	return s.createBackup(id, req)
}

func (s *stubAPI) ListBackups(_ context.Context, id string, _ dcs.ListOptions) ([]dcs.Backup, error) {
	return s.listBackups(id)
}

func (s *stubAPI) ListRestores(_ context.Context, id string, _ dcs.ListOptions) ([]dcs.Restore, error) {
	return s.listRestores(id)
}

func (s *stubAPI) ShowInstance(_ context.Context, id string) (dcs.Instance, error) {
	return s.showInstance(id)
}

type stubConnector struct{ api dcs.API }

func (c stubConnector) Connect(context.Context, string, backupv1alpha1.Connection) (dcs.API, error) {
	return c.api, nil
}

// unitWorld is a reconciler's surroundings: a fake API server, a fake
// clock, a recorder whose events a test reads, and a stub DCS.
type unitWorld struct {
	c      client.WithWatch
	clock  *clocktesting.FakeClock
	events *events.FakeRecorder
	api    *stubAPI
	coord  *instance.Coordinator
}

func newUnitWorld(t *testing.T, funcs interceptor.Funcs, objs ...client.Object) *unitWorld {
	t.Helper()
	w := &unitWorld{clock: clocktesting.NewFakeClock(unitNow), events: events.NewFakeRecorder(100), api: &stubAPI{}}
	w.c = fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithStatusSubresource(&backupv1alpha1.DCSBackup{}, &backupv1alpha1.DCSBackupSchedule{}).
		WithIndex(&backupv1alpha1.DCSBackup{}, indexInstance, func(o client.Object) []string {
			return []string{instanceKeyOf(o.(*backupv1alpha1.DCSBackup)).String()}
		}).
		WithIndex(&backupv1alpha1.DCSBackup{}, indexScheduleUID, func(o client.Object) []string {
			return []string{o.GetLabels()[backupv1alpha1.LabelScheduleUID]}
		}).
		WithObjects(objs...).WithInterceptorFuncs(funcs).Build()
	w.coord = instance.New(instance.Options{Clock: w.clock, Budget: dcs.NewLimiter(0, 0)})
	w.coord.Register(kindBackup, backupOccupants{c: w.c}, func(types.NamespacedName) {})
	return w
}

func (w *unitWorld) deps() Dependencies {
	return Dependencies{Client: w.c, Recorder: w.events, Connector: stubConnector{api: w.api},
		Coordinator: w.coord, Clock: w.clock}
}

// drainEvents returns the events emitted so far ("Type Reason note").
func (w *unitWorld) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-w.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func countWithReason(emitted []string, reason string) int {
	n := 0
	for _, e := range emitted {
		if f := strings.Fields(e); len(f) > 1 && f[1] == reason {
			n++
		}
	}
	return n
}

// conflictOnce makes the first status write of the test lose a race.
func conflictOnce() interceptor.Funcs {
	lost := false
	return interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object,
		patch client.Patch, opts ...client.SubResourcePatchOption) error {
		if !lost {
			lost = true
			return apierrors.NewConflict(schema.GroupResource{Group: backupv1alpha1.GroupVersion.Group}, obj.GetName(),
				nil)
		}
		return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
	}}
}

func unitConnection() backupv1alpha1.Connection {
	return backupv1alpha1.Connection{ProjectID: "p1", Endpoint: "https://dcs.example",
		CredentialsSecretRef: backupv1alpha1.SecretReference{Name: "creds"}}
}

func unitBackup(mods ...func(*backupv1alpha1.DCSBackup)) *backupv1alpha1.DCSBackup {
	b := &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "shop", UID: "uid-b", Generation: 1,
			CreationTimestamp: metav1.NewTime(unitNow.Add(-time.Minute))},
		Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
			InstanceID: "i-1", Connection: unitConnection()}},
	}
	for _, m := range mods {
		m(b)
	}
	return b
}

func reconcileBackup(t *testing.T, w *unitWorld) ctrl.Result {
	t.Helper()
	res, err := NewDCSBackupReconciler(w.deps()).Reconcile(context.Background(),
		ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "shop", Name: "b"}})
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return res
}

func getBackup(t *testing.T, w *unitWorld) *backupv1alpha1.DCSBackup {
	t.Helper()
	b := &backupv1alpha1.DCSBackup{}
	if err := w.c.Get(context.Background(), types.NamespacedName{Namespace: "shop", Name: "b"}, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBackupLosingItsStatusWriteAnnouncesAndCountsTheResultOnce(t *testing.T) {
	running := unitBackup(func(b *backupv1alpha1.DCSBackup) {
		b.Status.Phase = backupv1alpha1.PhaseInProgress
		b.Status.BackupID = "bk-1"
		b.Status.CreateRequestedAt = ptr.To(metav1.NewTime(unitNow.Add(-30 * time.Second)))
	})
	w := newUnitWorld(t, conflictOnce(), running)
	w.api.listBackups = func(string) ([]dcs.Backup, error) {
		return []dcs.Backup{{ID: "bk-1", Status: dcs.BackupSucceeded, Progress: "100.00", Size: 42, Restorable: true,
			CreatedAt: unitNow.Add(-29 * time.Second), UpdatedAt: unitNow.Add(-2 * time.Second)}}, nil
	}
	succeeded := backupsTotal.WithLabelValues("shop", "succeeded")
	before := testutil.ToFloat64(succeeded)

	res := reconcileBackup(t, w)
	if res.RequeueAfter != conflictRequeue {
		t.Fatalf("after a lost status write: requeue %v, want a quick retry", res.RequeueAfter)
	}
	if evs := w.drainEvents(); len(evs) != 0 || testutil.ToFloat64(succeeded) != before {
		t.Fatalf("a pass whose status write was lost emitted %v and counted %v backups", evs,
			testutil.ToFloat64(succeeded)-before)
	}
	if w.coord.ExpectedDuration(instanceKeyOf(running)) != 0 {
		t.Fatal("a pass whose status write was lost must not teach the coordinator a duration")
	}

	reconcileBackup(t, w)
	if got := getBackup(t, w).Status.Phase; got != backupv1alpha1.PhaseSucceeded {
		t.Fatalf("phase %s, want Succeeded", got)
	}
	evs := w.drainEvents()
	if countWithReason(evs, "BackupSucceeded") != 1 || testutil.ToFloat64(succeeded) != before+1 {
		t.Fatalf("events %v, counted %v; want one BackupSucceeded and one count", evs, testutil.ToFloat64(succeeded)-before)
	}
	if got := w.coord.ExpectedDuration(instanceKeyOf(running)); got != 27*time.Second {
		t.Fatalf("learned duration %v, want 27s", got)
	}
}

func TestAPollThatGaveWayToCreatesComesBackAfterQueuedWorkWithoutAFailure(t *testing.T) {
	running := unitBackup(func(b *backupv1alpha1.DCSBackup) {
		b.Status.Phase = backupv1alpha1.PhaseInProgress
		b.Status.BackupID = "bk-1"
		b.Status.CreateRequestedAt = ptr.To(metav1.NewTime(unitNow.Add(-30 * time.Second)))
	})
	w := newUnitWorld(t, interceptor.Funcs{}, running)
	// What the client answers when the budget has creates waiting and the
	// poll was made with dcs.WithYield.
	w.api.listBackups = func(string) ([]dcs.Backup, error) {
		return nil, &dcs.Error{Operation: "list backups", Err: &dcs.YieldError{After: 800 * time.Millisecond}}
	}
	res := reconcileBackup(t, w)
	if res.Priority == nil || *res.Priority != priorityYielded {
		t.Errorf("priority %v, want %d: after new objects, whose first pass sends their create", res.Priority, priorityYielded)
	}
	if res.RequeueAfter < 800*time.Millisecond || res.RequeueAfter > time.Second {
		t.Errorf("requeue %v, want the 800ms the budget asked for (with a little jitter)", res.RequeueAfter)
	}
	b := getBackup(t, w)
	if synced := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSynced); synced != nil &&
		synced.Status == metav1.ConditionFalse {
		t.Errorf("giving way is no failure: Synced %+v", synced)
	}
	if evs := w.drainEvents(); len(evs) != 0 {
		t.Errorf("events %v, want none", evs)
	}
}

func TestBackupOnATerminalDCSAnswerBacksOffWithoutRetryingEverySecond(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		code       string
		reason     string
		minBackoff time.Duration
	}{
		{"single-node instance", http.StatusBadRequest, "DCS.4095", backupv1alpha1.ReasonInstanceNotSupported, errorBackoffLimit},
		{"quota", http.StatusBadRequest, "DCS.4039", backupv1alpha1.ReasonAPIError, 10 * time.Second},
		{"no permission", http.StatusForbidden, "DCS.2003", backupv1alpha1.ReasonUnauthorized, userFixBackoffBase},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newUnitWorld(t, interceptor.Funcs{}, unitBackup())
			creates := 0
			w.api.createBackup = func(string, dcs.CreateBackupRequest) (string, error) {
				creates++
				return "", &dcs.Error{Operation: "create backup", StatusCode: tc.status, Code: tc.code, Message: "no"}
			}
			res := reconcileBackup(t, w)
			b := getBackup(t, w)
			synced := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSynced)
			if synced == nil || synced.Status != metav1.ConditionFalse || synced.Reason != tc.reason {
				t.Fatalf("Synced %+v, want False %s", synced, tc.reason)
			}
			if !strings.Contains(synced.Message, tc.code) {
				t.Errorf("Synced message %q does not name %s", synced.Message, tc.code)
			}
			if b.Status.CreateRequestedAt != nil {
				t.Error("a definite answer from DCS must withdraw the create intent")
			}
			if succ := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSucceeded); succ.Status != metav1.ConditionUnknown {
				t.Errorf("a failing call must not decide the backup: Succeeded %+v", succ)
			}
			if res.RequeueAfter < tc.minBackoff {
				t.Errorf("requeue %v, want at least %v", res.RequeueAfter, tc.minBackoff)
			}
			w.clock.Step(res.RequeueAfter)
			res2 := reconcileBackup(t, w)
			if res2.RequeueAfter < res.RequeueAfter*3/4 {
				t.Errorf("second failure: requeue %v after %v, want the backoff to hold or grow", res2.RequeueAfter, res.RequeueAfter)
			}
			if evs := w.drainEvents(); countWithReason(evs, tc.reason) != 1 || creates != 2 {
				t.Errorf("events %v after %d creates; want one warning for the transition", evs, creates)
			}
		})
	}
}

func TestBusyInstanceShowsTheSameReasonOnBackupsAndSchedules(t *testing.T) {
	busy := &dcs.Error{Operation: "x", StatusCode: http.StatusBadRequest, Code: "DCS.4096", Message: "the instance is backuping."}
	w := newUnitWorld(t, interceptor.Funcs{}, unitBackup(), unitSchedule())
	w.api.createBackup = func(string, dcs.CreateBackupRequest) (string, error) { return "", busy }
	w.api.showInstance = func(string) (dcs.Instance, error) { return dcs.Instance{}, busy }
	w.api.listRestores = func(string) ([]dcs.Restore, error) { return nil, nil }
	reconcileBackup(t, w)
	reconcileSchedule(t, w)
	b, s := getBackup(t, w), getSchedule(t, w)
	if c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSynced); c.Reason != backupv1alpha1.ReasonInstanceBusy {
		t.Errorf("backup Synced reason %s, want InstanceBusy", c.Reason)
	}
	if c := meta.FindStatusCondition(s.Status.Conditions, backupv1alpha1.ConditionReady); c.Reason != backupv1alpha1.ReasonInstanceBusy {
		t.Errorf("schedule Ready reason %s, want InstanceBusy", c.Reason)
	}
}

func TestErrorTableCoversEveryFailureClass(t *testing.T) {
	for c := dcs.ClassBusy; c <= dcs.ClassTerminal; c++ {
		rule, ok := errorRules[c]
		if !ok {
			t.Errorf("class %s has no rule", c)
			continue
		}
		if rule.reason == "" || rule.base <= 0 || rule.limit < rule.base {
			t.Errorf("class %s: rule %+v", c, rule)
		}
		if strings.Count(rule.hint, "%") > 0 && strings.Contains(rule.hint, "%!") {
			t.Errorf("class %s: malformed hint %q", c, rule.hint)
		}
	}
	f := classifyFailure("creating the backup", &dcs.Error{Operation: "x", StatusCode: 401, Code: "APIG.0301"},
		fieldPaths{instanceID: "spec.instanceID", connection: "spec.connection", secret: "dcs-credentials"})
	if !strings.Contains(f.message, "Secret dcs-credentials") || !strings.Contains(f.message, "spec.connection.projectID") {
		t.Errorf("unauthorized hint %q must name the Secret and the project field", f.message)
	}
	throttled := classifyFailure("x", &dcs.Error{Operation: "x", StatusCode: 429, Code: "APIG.0308", RetryAfter: 40 * time.Second},
		fieldPaths{})
	if got := throttled.backoff(1); got < 40*time.Second {
		t.Errorf("throttled backoff %v, want at least the Retry-After", got)
	}
}

func unitSchedule(mods ...func(*backupv1alpha1.DCSBackupSchedule)) *backupv1alpha1.DCSBackupSchedule {
	s := &backupv1alpha1.DCSBackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "shop", UID: "uid-s", Generation: 1,
			CreationTimestamp: metav1.NewTime(unitNow.Add(-72 * time.Hour))},
		Spec: backupv1alpha1.DCSBackupScheduleSpec{
			Schedule: "0 3 * * *",
			Template: backupv1alpha1.DCSBackupTemplate{Spec: backupv1alpha1.DCSBackupTemplateSpec{
				InstanceID: "i-1", Connection: unitConnection()}},
		},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

// ready makes a schedule whose preflight already passed for its generation.
func ready(s *backupv1alpha1.DCSBackupSchedule) {
	setCondition(&s.Status.Conditions, s.Generation, unitNow.Add(-time.Hour), backupv1alpha1.ConditionReady,
		metav1.ConditionTrue, backupv1alpha1.ReasonReady, "checked")
	s.Status.LastScheduleTime = ptr.To(metav1.NewTime(time.Date(2027, 5, 10, 3, 0, 0, 0, time.UTC)))
}

func reconcileSchedule(t *testing.T, w *unitWorld) ctrl.Result {
	t.Helper()
	res, err := NewDCSBackupScheduleReconciler(w.deps()).Reconcile(context.Background(),
		ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "shop", Name: "nightly"}})
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return res
}

func getSchedule(t *testing.T, w *unitWorld) *backupv1alpha1.DCSBackupSchedule {
	t.Helper()
	s := &backupv1alpha1.DCSBackupSchedule{}
	if err := w.c.Get(context.Background(), types.NamespacedName{Namespace: "shop", Name: "nightly"}, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScheduleLosingItsStatusWriteReportsAMissedRunOnce(t *testing.T) {
	// The 03:00 run is nine hours late, far past the deadline: skipped.
	late := unitSchedule(func(s *backupv1alpha1.DCSBackupSchedule) {
		s.Spec.StartingDeadlineSeconds = ptr.To[int64](600)
		s.CreationTimestamp = metav1.NewTime(unitNow.Add(-10 * time.Hour))
	})
	w := newUnitWorld(t, conflictOnce(), late)
	w.api.showInstance = func(id string) (dcs.Instance, error) {
		return dcs.Instance{ID: id, Status: "RUNNING", CacheMode: "ha"}, nil
	}
	w.api.listRestores = func(string) ([]dcs.Restore, error) { return nil, nil }
	missed := scheduleMissedRuns.WithLabelValues("shop", "nightly")
	before := testutil.ToFloat64(missed)

	if res := reconcileSchedule(t, w); res.RequeueAfter != conflictRequeue {
		t.Fatalf("after a lost status write: requeue %v, want a quick retry", res.RequeueAfter)
	}
	if evs := w.drainEvents(); len(evs) != 0 || testutil.ToFloat64(missed) != before {
		t.Fatalf("the lost pass emitted %v and counted %v missed runs", evs, testutil.ToFloat64(missed)-before)
	}
	reconcileSchedule(t, w)
	reconcileSchedule(t, w)
	evs := w.drainEvents()
	if countWithReason(evs, "MissedSchedule") != 1 || testutil.ToFloat64(missed) != before+1 {
		t.Fatalf("events %v, counted %v; want one MissedSchedule and one missed run", evs, testutil.ToFloat64(missed)-before)
	}
	if got := getSchedule(t, w).Status.LastSkippedTime; got == nil || !got.Time.Equal(time.Date(2027, 5, 10, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("lastSkippedTime %v, want the 03:00 slot", got)
	}
}

func TestScheduleFindingItsChildAlreadyCreatedRecordsTheRunOnce(t *testing.T) {
	slot := time.Date(2027, 5, 10, 3, 0, 0, 0, time.UTC)
	s := unitSchedule(func(s *backupv1alpha1.DCSBackupSchedule) {
		s.CreationTimestamp = metav1.NewTime(unitNow.Add(-10 * time.Hour))
	})
	// A pass created the child and lost its status write: the child exists,
	// lastScheduleTime does not say so.
	made := &backupv1alpha1.DCSBackup{ObjectMeta: metav1.ObjectMeta{Name: slotName("nightly", slot), Namespace: "shop",
		Labels: map[string]string{backupv1alpha1.LabelSchedule: "nightly", backupv1alpha1.LabelScheduleUID: "uid-s"}},
		Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: s.Spec.Template.Spec}}
	creates := 0
	w := newUnitWorld(t, interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object,
		opts ...client.CreateOption) error {
		creates++
		return c.Create(ctx, obj, opts...)
	}}, s, made)
	w.api.showInstance = func(id string) (dcs.Instance, error) {
		return dcs.Instance{ID: id, Status: "RUNNING", CacheMode: "ha"}, nil
	}
	w.api.listRestores = func(string) ([]dcs.Restore, error) { return nil, nil }

	reconcileSchedule(t, w)
	got := getSchedule(t, w)
	if got.Status.LastScheduleTime == nil || !got.Status.LastScheduleTime.Time.Equal(slot) {
		t.Fatalf("lastScheduleTime %v, want %v", got.Status.LastScheduleTime, slot)
	}
	list := &backupv1alpha1.DCSBackupList{}
	if err := w.c.List(context.Background(), list); err != nil || len(list.Items) != 1 || creates != 1 {
		t.Fatalf("%d children after %d create calls (%v), want the one that existed", len(list.Items), creates, err)
	}
	if evs := w.drainEvents(); countWithReason(evs, "BackupScheduled") != 1 {
		t.Fatalf("events %v, want one BackupScheduled for the run the status now records", evs)
	}
	if len(got.Status.Active) != 1 || got.Status.Active[0].Name != made.Name {
		t.Fatalf("active %v, want the child", got.Status.Active)
	}
}

func TestScheduleShowsARefusedChildAndBacksOff(t *testing.T) {
	s := unitSchedule(func(s *backupv1alpha1.DCSBackupSchedule) {
		s.CreationTimestamp = metav1.NewTime(unitNow.Add(-10 * time.Hour))
	})
	refuse := true
	w := newUnitWorld(t, interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object,
		opts ...client.CreateOption) error {
		if refuse {
			return apierrors.NewForbidden(schema.GroupResource{Group: backupv1alpha1.GroupVersion.Group, Resource: "dcsbackups"},
				obj.GetName(), errors.New("exceeded quota: dcsbackups"))
		}
		return c.Create(ctx, obj, opts...)
	}}, s)
	w.api.showInstance = func(id string) (dcs.Instance, error) {
		return dcs.Instance{ID: id, Status: "RUNNING", CacheMode: "ha"}, nil
	}
	w.api.listRestores = func(string) ([]dcs.Restore, error) { return nil, nil }

	res := reconcileSchedule(t, w)
	got := getSchedule(t, w)
	c := meta.FindStatusCondition(got.Status.Conditions, backupv1alpha1.ConditionReady)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != backupv1alpha1.ReasonCreateFailed ||
		!strings.Contains(c.Message, "exceeded quota") {
		t.Fatalf("Ready %+v, want False CreateFailed naming the API server's answer", c)
	}
	if got.Status.LastScheduleTime != nil {
		t.Fatal("a run whose child was refused must stay due")
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > 2*time.Second {
		t.Fatalf("requeue %v, want the first step of the backoff", res.RequeueAfter)
	}
	w.clock.Step(res.RequeueAfter)
	res = reconcileSchedule(t, w)
	if res.RequeueAfter < 2*time.Second {
		t.Fatalf("second refusal: requeue %v, want the backoff to grow", res.RequeueAfter)
	}
	if evs := w.drainEvents(); countWithReason(evs, backupv1alpha1.ReasonCreateFailed) != 1 {
		t.Fatalf("events %v, want one CreateFailed warning for two refusals", evs)
	}
	refuse = false
	w.clock.Step(res.RequeueAfter)
	reconcileSchedule(t, w)
	got = getSchedule(t, w)
	if c := meta.FindStatusCondition(got.Status.Conditions, backupv1alpha1.ConditionReady); c.Status != metav1.ConditionTrue ||
		got.Status.LastScheduleTime == nil {
		t.Fatalf("after the refusal ended: Ready %+v, lastScheduleTime %v", c, got.Status.LastScheduleTime)
	}
}

// The failure count that drives a schedule's backoff used to reset only in
// the preflight, which a Ready schedule skips: after a few failures in its
// life, every later failure waited the full backoff.
func TestScheduleBackoffResetsAfterASuccessfulPass(t *testing.T) {
	every := unitSchedule(func(s *backupv1alpha1.DCSBackupSchedule) {
		s.Spec.Schedule = "*/10 * * * *"
		s.CreationTimestamp = metav1.NewTime(unitNow.Add(-time.Hour))
	}, ready)
	refuse := true
	w := newUnitWorld(t, interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object,
		opts ...client.CreateOption) error {
		if refuse {
			return apierrors.NewInternalError(errors.New("etcd leader changed"))
		}
		return c.Create(ctx, obj, opts...)
	}}, every)
	w.api.showInstance = func(id string) (dcs.Instance, error) {
		return dcs.Instance{ID: id, Status: "RUNNING", CacheMode: "ha"}, nil
	}
	var last time.Duration
	for range 5 {
		last = reconcileSchedule(t, w).RequeueAfter
		w.clock.Step(last)
	}
	if last < 10*time.Second {
		t.Fatalf("after five refused creates: requeue %v, want a grown backoff", last)
	}
	refuse = false
	reconcileSchedule(t, w)
	if got := getSchedule(t, w).Status.LastScheduleTime; got == nil {
		t.Fatal("the run was not recorded once the create worked")
	}
	// That backup ends; the next slot's create is refused again: the
	// backoff starts over.
	list := &backupv1alpha1.DCSBackupList{}
	if err := w.c.List(context.Background(), list); err != nil || len(list.Items) != 1 {
		t.Fatalf("children %v, %v", list.Items, err)
	}
	child := &list.Items[0]
	child.Status.Phase = backupv1alpha1.PhaseSucceeded
	child.Status.CompletedAt = ptr.To(metav1.NewTime(unitNow.Add(time.Minute)))
	if err := w.c.Status().Update(context.Background(), child); err != nil {
		t.Fatal(err)
	}
	w.clock.SetTime(time.Date(2027, 5, 10, 12, 10, 1, 0, time.UTC))
	refuse = true
	if got := reconcileSchedule(t, w).RequeueAfter; got > 2*time.Second {
		t.Fatalf("first failure after a successful pass: requeue %v, want the backoff to start over", got)
	}
}

func TestSpecOrMetadataChangedSeesAFinalizerSwap(t *testing.T) {
	old := unitBackup(func(b *backupv1alpha1.DCSBackup) { b.Finalizers = []string{"a.example/x"} })
	swapped := old.DeepCopy()
	swapped.Finalizers = []string{backupv1alpha1.Finalizer}
	if !specOrMetadataChanged().Update(event.UpdateEvent{ObjectOld: old, ObjectNew: swapped}) {
		t.Fatal("a finalizer replaced by another (same count) must pass the predicate")
	}
	if specOrMetadataChanged().Update(event.UpdateEvent{ObjectOld: old, ObjectNew: old.DeepCopy()}) {
		t.Fatal("an update that changes nothing the controller reads must not pass")
	}
}

func TestMapFunctionsLogTheirListErrors(t *testing.T) {
	w := newUnitWorld(t, interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
		return errors.New("informer not synced")
	}})
	var logged []string
	ctx := log.IntoContext(context.Background(), funcr.New(func(_, args string) {
		logged = append(logged, args)
	}, funcr.Options{}))
	secret := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "shop"}}
	if reqs := NewDCSBackupReconciler(w.deps()).backupsUsingSecret(ctx, secret); len(reqs) != 0 {
		t.Fatalf("got %v", reqs)
	}
	if reqs := NewDCSBackupScheduleReconciler(w.deps()).schedulesUsingSecret(ctx, secret); len(reqs) != 0 {
		t.Fatalf("got %v", reqs)
	}
	if len(logged) != 2 || !strings.Contains(logged[0], "informer not synced") {
		t.Fatalf("logged %q, want both List errors", logged)
	}
}
