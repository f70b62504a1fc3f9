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
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// slotSlack makes the pass for a slot land just after it.
const slotSlack = 50 * time.Millisecond

// kindSchedule names DCSBackupSchedules in the coordinator.
const kindSchedule = "DCSBackupSchedule"

// DCSBackupScheduleReconciler reconciles DCSBackupSchedule objects: it makes
// DCSBackups on a cron schedule, prunes them, and watches freshness and the
// instance's restores.
type DCSBackupScheduleReconciler struct {
	deps Dependencies
}

// NewDCSBackupScheduleReconciler returns the DCSBackupSchedule reconciler.
func NewDCSBackupScheduleReconciler(d Dependencies) *DCSBackupScheduleReconciler {
	return &DCSBackupScheduleReconciler{deps: d}
}

func scheduleObject(n types.NamespacedName) instance.Object {
	return instance.Object{Kind: kindSchedule, NamespacedName: n}
}

// Reconcile is a short dispatcher over the steps of a schedule pass.
//
// A schedule being deleted needs nothing: its children carry no owner
// reference (like Velero's and CloudNativePG's scheduled backups), so
// deleting a schedule never deletes a DCSBackup or a cloud backup, whatever
// the cascading policy.
func (r *DCSBackupScheduleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	s := &backupv1alpha1.DCSBackupSchedule{}
	err := r.deps.Client.Get(ctx, req.NamespacedName, s)
	if apierrors.IsNotFound(err) || (err == nil && !s.DeletionTimestamp.IsZero()) {
		forgetScheduleMetrics(req.Namespace, req.Name)
		r.deps.Coordinator.Forget(scheduleObject(req.NamespacedName))
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	p := r.newPass(s)
	return p.commit(ctx, p.run(ctx))
}

// schedulePass is one reconcile of one schedule: it edits a copy and writes
// the status once at the end.
type schedulePass struct {
	r        *DCSBackupScheduleReconciler
	orig     *backupv1alpha1.DCSBackupSchedule
	s        *backupv1alpha1.DCSBackupSchedule
	obj      instance.Object
	key      instance.Key
	now      time.Time
	cron     *cronSchedule
	children []backupv1alpha1.DCSBackup
	api      dcs.API
	out      effects
	// blocked is set when runs cannot be made until the user fixes
	// something (credentials, instance); due runs are skipped then.
	blocked string
	// failed is set when a step of the pass failed; the failure count that
	// drives the pass's backoff is reset only by a pass without failures.
	failed bool
	// unproven is set when the pass skipped the DCS call that has been
	// failing (a fleet's instance list read from status): it neither
	// failed nor showed that DCS answers again, so the failures in a row
	// go on.
	unproven bool
	// retry is the backoff a failed step asks for (0: none).
	retry time.Duration
}

func (r *DCSBackupScheduleReconciler) newPass(s *backupv1alpha1.DCSBackupSchedule) *schedulePass {
	p := &schedulePass{r: r, orig: s.DeepCopy(), s: s, obj: scheduleObject(client.ObjectKeyFromObject(s)),
		key: instanceKeyFor(s.Spec.Template.Spec), now: r.deps.Clock.Now()}
	if isFleet(s) {
		// A fleet acts on its instances through its children only.
		r.deps.Coordinator.Track(p.obj, s.UID)
	} else {
		r.deps.Coordinator.Track(p.obj, s.UID, p.key)
	}
	return p
}

func (p *schedulePass) coord() *instance.Coordinator { return p.r.deps.Coordinator }

// run takes the pass through its steps and returns when to look again.
func (p *schedulePass) run(ctx context.Context) time.Duration {
	p.s.Status.ObservedGeneration = p.s.Generation
	cs, err := parseSchedule(p.s.Spec.Schedule, ptrValue(p.s.Spec.TimeZone), p.now)
	if err != nil {
		var se *scheduleError
		if !errors.As(err, &se) {
			se = &scheduleError{Reason: backupv1alpha1.ReasonInvalidSchedule, Message: err.Error()}
		}
		p.setCondition(backupv1alpha1.ConditionReady, metav1.ConditionFalse, se.Reason, se.Message)
		p.s.Status.NextScheduleTime = nil
		// Nothing to do until the spec changes.
		return 0
	}
	p.cron = cs
	if err := p.loadChildren(ctx); err != nil {
		log.FromContext(ctx).Error(err, "listing the schedule's backups")
		return p.fail(errorBackoffBase, errorBackoffLimit)
	}
	if isFleet(p.s) {
		return p.runFleet(ctx)
	}
	p.observeChildren()
	p.prune(ctx)
	p.preflight(ctx)
	p.runNow(ctx)
	p.runDue(ctx)
	p.freshness()
	p.pruneExports(ctx)
	if !p.failed {
		// While the preflight fails (bad credentials, skewed clock), the
		// restore list would fail the same way: the schedule then follows
		// the preflight's growing backoff alone.
		p.watchRestores(ctx)
	}
	return minPositive(p.retry, p.untilNextSlot())
}

// fail counts a failed step and asks for the backoff it earns; the pass
// keeps going with its other steps.
func (p *schedulePass) fail(base, limit time.Duration) time.Duration {
	return p.failWith(errorBackoff(p.coord().Failed(p.obj, p.s.UID), base, limit))
}

func (p *schedulePass) failWith(wait time.Duration) time.Duration {
	p.failed = true
	p.retry = minPositive(p.retry, wait)
	return wait
}

// commit writes the status if it changed, then emits the pass's effects.
func (p *schedulePass) commit(ctx context.Context, requeue time.Duration) (ctrl.Result, error) {
	if ok, res, err := writeStatus(ctx, p.r.deps.Client, p.orig, p.s, &p.orig.Status, &p.s.Status); !ok {
		return res, err
	}
	if !p.failed && !p.unproven {
		p.coord().Succeeded(p.obj)
	}
	p.out.flush(p.r.deps.Recorder, p.s, "Schedule")
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// untilNextSlot computes status.nextScheduleTime and the wait for it.
func (p *schedulePass) untilNextSlot() time.Duration {
	next := p.cron.next(p.now)
	if next.IsZero() {
		p.s.Status.NextScheduleTime = nil
		return 0
	}
	p.s.Status.NextScheduleTime = &metav1.Time{Time: next}
	return next.Sub(p.now) + slotSlack
}

// setCondition sets a condition; the transition time comes from the
// controller's clock, so the RPO arithmetic is in one time line.
func (p *schedulePass) setCondition(typ string, status metav1.ConditionStatus, reason, msg string) {
	setCondition(&p.s.Status.Conditions, p.s.Generation, p.now, typ, status, reason, msg)
}

func (p *schedulePass) condition(typ string) *metav1.Condition {
	return meta.FindStatusCondition(p.s.Status.Conditions, typ)
}

// templatePaths are the schedule's fields for the hints of errorRules.
func (p *schedulePass) templatePaths() fieldPaths {
	return fieldPaths{instanceID: "spec.template.spec.instanceID", connection: "spec.template.spec.connection",
		secret: p.s.Spec.Template.Spec.Connection.CredentialsSecretRef.Name}
}

// preflight checks, once per generation, that the schedule's backups can
// run: credentials, and an instance that exists and is not single-node.
func (p *schedulePass) preflight(ctx context.Context) {
	s := p.s
	api, err := p.r.deps.Connector.Connect(ctx, s.Namespace, s.Spec.Template.Spec.Connection)
	if err != nil {
		p.connectFailed(ctx, err)
		return
	}
	p.api = api
	if c := p.condition(backupv1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue &&
		c.ObservedGeneration == s.Generation {
		return
	}
	inst, err := api.ShowInstance(ctx, s.Spec.Template.Spec.InstanceID)
	if err != nil {
		if dcs.Classify(err) == dcs.ClassCanceled {
			p.failWith(conflictRequeue)
			return
		}
		p.dcsFailed(ctx, classifyFailure("preflight", err, p.templatePaths()))
		return
	}
	if inst.CacheMode == "single" {
		p.notReady(backupv1alpha1.ReasonInstanceNotSupported, fmt.Sprintf("instance %s is a single-node instance, "+
			"which DCS cannot back up (spec.template.spec.instanceID)", inst.ID), true,
			errorBackoff(p.coord().Failed(p.obj, s.UID), errorBackoffLimit, errorBackoffLimit))
		return
	}
	advice := p.dcsCapAdvice()
	if advice != "" {
		p.out.event(true, backupv1alpha1.ReasonRetentionExceedsDCSCap, strings.TrimPrefix(advice, "; note: "))
	}
	p.setCondition(backupv1alpha1.ConditionReady, metav1.ConditionTrue, backupv1alpha1.ReasonReady,
		fmt.Sprintf("schedule, time zone, credentials and instance %s (%s, %s) check out%s", inst.ID, inst.CacheMode,
			inst.Status, advice))
}

// connectFailed reports credentials or an endpoint that cannot be used.
func (p *schedulePass) connectFailed(ctx context.Context, err error) {
	if reason, ok := connectReason(err); ok {
		p.notReady(reason, err.Error(), true, blockedRequeue)
		return
	}
	// The API server failed us reading the Secret: retry soon.
	log.FromContext(ctx).Error(err, "connecting to DCS")
	wait := errorBackoff(p.coord().Failed(p.obj, p.s.UID), errorBackoffBase, errorBackoffLimit)
	if p.bearsPassingFailure() {
		p.failWith(wait)
		return
	}
	p.notReady(backupv1alpha1.ReasonAPIError, err.Error(), false, wait)
}

// transientGrace is how long failures that end by themselves (throttling,
// DCS 5xx and timeouts, a busy instance, the API server) may last, in a
// row, before a Ready schedule turns Ready False: a GitOps tool shows a
// schedule Degraded for a lasting problem, not for every hiccup.
const transientGrace = 10 * time.Minute

// dcsFailed records a failed DCS call of the schedule's own: Ready False
// with the error's reason, except for a failure that passes by itself
// while the schedule is Ready and the failures have not lasted
// transientGrace.
func (p *schedulePass) dcsFailed(ctx context.Context, f dcsFailure) {
	wait := f.backoff(p.coord().Failed(p.obj, p.s.UID))
	if f.passes && p.bearsPassingFailure() {
		log.FromContext(ctx).Info("DCS call failed; Ready stays True unless it lasts", "reason", f.reason,
			"error", f.message, "failingFor", p.now.Sub(p.coord().FailingSince(p.obj)).Round(time.Second).String())
		p.failWith(wait)
		return
	}
	p.notReady(f.reason, f.message, f.userFix, wait)
}

// bearsPassingFailure says whether Ready stays as it is through a failure
// that passes by itself: while it is True and the failures in a row (the
// one just counted included) began less than transientGrace ago.
func (p *schedulePass) bearsPassingFailure() bool {
	ready := p.condition(backupv1alpha1.ConditionReady)
	since := p.coord().FailingSince(p.obj)
	return ready != nil && ready.Status == metav1.ConditionTrue && !since.IsZero() &&
		p.now.Sub(since) < transientGrace
}

// notReady records a failed preflight: Ready False, with an event when the
// reason changes. userFix failures block the runs until they are fixed.
//
// The event compares with the condition the pass started from (the one
// last written): a preflight that passes and a create that fails again in
// one pass must not announce the same failure at every retry.
func (p *schedulePass) notReady(reason, msg string, userFix bool, wait time.Duration) {
	old := meta.FindStatusCondition(p.orig.Status.Conditions, backupv1alpha1.ConditionReady)
	if old == nil || old.Status != metav1.ConditionFalse || old.Reason != reason {
		p.out.event(true, reason, msg)
	}
	p.setCondition(backupv1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
	if userFix {
		p.blocked = msg
	}
	p.failWith(wait)
}

// watchRestores shows the instance's latest restore (status.lastRestore,
// Restored) from the restore list the coordinator reads in the background,
// which wakes the schedule when the latest restore changes.
func (p *schedulePass) watchRestores(ctx context.Context) {
	if p.api == nil {
		return
	}
	s := p.s
	connect, connectKey := watchConnect(p.r.deps.Connector, s.Namespace, s.Spec.Template.Spec.Connection)
	p.coord().Watch(instance.Watch{
		Object: p.obj, UID: s.UID, Key: p.key, Connect: connect, ConnectKey: connectKey,
		Digest: func(restores []dcs.Restore, _ []dcs.Backup) uint64 {
			return latestRestoreDigest(latestRestore(restores))
		},
		Shown: latestRestoreDigest(s.Status.LastRestore),
	})
	if err := p.coord().ObservationError(p.key); err != nil {
		log.FromContext(ctx).V(1).Info("reading restore records", "error", err.Error())
		return
	}
	if restores, _, ok := p.coord().CachedRestores(p.key); ok {
		p.noteLatestRestore(restores)
	}
}

// latestRestore is the newest restore of a list, as status.lastRestore.
func latestRestore(restores []dcs.Restore) *backupv1alpha1.RestoreRecord {
	if len(restores) == 0 {
		return nil
	}
	sorted := append([]dcs.Restore(nil), restores...)
	sortRestoresNewestFirst(sorted)
	r := toRestoreRecord(sorted[0])
	return &r
}

func latestRestoreDigest(r *backupv1alpha1.RestoreRecord) uint64 {
	if r == nil {
		return 0
	}
	return hashStrings(0, r.RestoreID, r.Status)
}

// noteLatestRestore sets status.lastRestore and Restored from the
// instance's newest restore, with an event when it is new or moved on.
func (p *schedulePass) noteLatestRestore(restores []dcs.Restore) {
	latest := latestRestore(restores)
	if latest == nil {
		return
	}
	s := p.s
	if s.Status.LastRestore == nil || s.Status.LastRestore.Status != latest.Status ||
		s.Status.LastRestore.RestoreID != latest.RestoreID {
		status, reason, msg := restoredCondition(*latest)
		p.setCondition(backupv1alpha1.ConditionRestored, status, reason, msg)
		p.out.event(status == metav1.ConditionFalse, reason, msg)
	}
	s.Status.LastRestore = latest
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// minPositive is the smaller of two waits, where 0 means "no need".
func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}
