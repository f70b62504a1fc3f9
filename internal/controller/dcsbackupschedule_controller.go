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
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// Requeue bounds of the schedule controller.
const (
	// slotSlack makes the pass for a slot land just after it.
	slotSlack = 50 * time.Millisecond
	// preflightRetry bounds the wait before a failed preflight is retried.
	preflightRetry = 5 * time.Minute
)

// DCSBackupScheduleReconciler reconciles DCSBackupSchedule objects: it makes
// DCSBackups on a cron schedule, prunes them, and watches freshness and the
// instance's restores.
type DCSBackupScheduleReconciler struct {
	client.Client
	Recorder  recorder.EventRecorder
	Connector Connector
	Clock     clock.Clock
	// RestorePollInterval is how often the instance's restores are read.
	RestorePollInterval time.Duration

	restores *listCache[dcs.Restore]
	failures *failureCounter
	// startedAt is when the controller was set up (see startupSpread).
	startedAt time.Time
}

// Reconcile is a short dispatcher over the steps of a schedule pass.
func (r *DCSBackupScheduleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	s := &backupv1alpha1.DCSBackupSchedule{}
	if err := r.Get(ctx, req.NamespacedName, s); err != nil {
		if apierrors.IsNotFound(err) {
			forgetScheduleMetrics(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !s.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.orphanChildren(ctx, s)
	}
	if !controllerutil.ContainsFinalizer(s, backupv1alpha1.ScheduleFinalizer) {
		orig := s.DeepCopy()
		controllerutil.AddFinalizer(s, backupv1alpha1.ScheduleFinalizer)
		return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, s, client.MergeFrom(orig)))
	}
	p := &schedulePass{r: r, orig: s.DeepCopy(), s: s, now: r.Clock.Now()}
	requeue := p.run(ctx)
	return p.commit(ctx, requeue)
}

// schedulePass is one reconcile of one schedule: it edits a copy and writes
// the status once at the end.
type schedulePass struct {
	r        *DCSBackupScheduleReconciler
	orig     *backupv1alpha1.DCSBackupSchedule
	s        *backupv1alpha1.DCSBackupSchedule
	now      time.Time
	cron     *cronSchedule
	children []backupv1alpha1.DCSBackup
	api      dcs.API
	// blocked is set when runs cannot be made until the user fixes
	// something (credentials, instance); due runs are skipped then.
	blocked string
}

// run takes the pass through its steps and returns when to look again.
func (p *schedulePass) run(ctx context.Context) time.Duration {
	p.s.Status.ObservedGeneration = p.s.Generation
	cs, err := parseSchedule(p.s.Spec.Schedule, ptrValue(p.s.Spec.TimeZone))
	if err != nil {
		se := err.(*scheduleError)
		p.setCondition(backupv1alpha1.ConditionReady, metav1.ConditionFalse, se.Reason, se.Message)
		p.s.Status.NextScheduleTime = nil
		// Nothing to do until the spec changes.
		return 0
	}
	p.cron = cs
	if err := p.loadChildren(ctx); err != nil {
		log.FromContext(ctx).Error(err, "listing the schedule's backups")
		return errorBackoffBase
	}
	p.observeChildren()
	p.prune(ctx)
	wait := p.preflight(ctx)
	p.runNow(ctx)
	p.runDue(ctx)
	p.freshness()
	if wait == 0 {
		// While the preflight fails (bad credentials, skewed clock), the
		// restore list would fail the same way: the schedule then follows
		// the preflight's growing backoff alone.
		wait = p.watchRestores(ctx)
	}
	return minPositive(wait, p.untilNextSlot())
}

// commit writes the status if it changed.
func (p *schedulePass) commit(ctx context.Context, requeue time.Duration) (ctrl.Result, error) {
	if !equality.Semantic.DeepEqual(p.orig.Status, p.s.Status) {
		patch := client.MergeFromWithOptions(p.orig, client.MergeFromWithOptimisticLock{})
		if err := p.r.Status().Patch(ctx, p.s, patch); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				return ctrl.Result{RequeueAfter: conflictRequeue}, nil
			}
			return ctrl.Result{}, err
		}
	}
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

func (p *schedulePass) event(warning bool, reason, note string) {
	typ := "Normal"
	if warning {
		typ = "Warning"
	}
	p.r.Recorder.Eventf(p.s, nil, typ, reason, "Schedule", "%s", note)
}

// setCondition sets a condition; the transition time comes from the
// controller's clock, so the RPO arithmetic is in one time line.
func (p *schedulePass) setCondition(typ string, status metav1.ConditionStatus, reason, msg string) {
	c := metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: p.s.Generation, LastTransitionTime: metav1.NewTime(p.now)}
	meta.SetStatusCondition(&p.s.Status.Conditions, c)
}

func (p *schedulePass) condition(typ string) *metav1.Condition {
	return meta.FindStatusCondition(p.s.Status.Conditions, typ)
}

// preflight checks, once per generation, that the schedule's backups can
// run: credentials, and an instance that exists and is not single-node. It
// returns when to retry a failed check (0: no need).
func (p *schedulePass) preflight(ctx context.Context) time.Duration {
	s := p.s
	api, err := p.r.Connector.Connect(ctx, s.Namespace, s.Spec.Template.Spec.Connection)
	if err != nil {
		return p.notReady(connectFailure(err))
	}
	p.api = api
	if c := p.condition(backupv1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue &&
		c.ObservedGeneration == s.Generation {
		return 0
	}
	inst, err := api.ShowInstance(ctx, s.Spec.Template.Spec.InstanceID)
	if err != nil {
		return p.notReady(preflightFailure(err))
	}
	if inst.CacheMode == "single" {
		return p.notReady(readiness{reason: backupv1alpha1.ReasonInstanceNotSupported, blocking: true,
			message: fmt.Sprintf("instance %s is a single-node instance, which DCS cannot back up (spec.template.spec.instanceID)",
				inst.ID)})
	}
	p.r.failures.reset(s.UID)
	p.setCondition(backupv1alpha1.ConditionReady, metav1.ConditionTrue, backupv1alpha1.ReasonReady,
		fmt.Sprintf("schedule, time zone, credentials and instance %s (%s, %s) check out", inst.ID, inst.CacheMode, inst.Status))
	return 0
}

// readiness is the outcome of a failed preflight.
type readiness struct {
	reason   string
	message  string
	blocking bool // true: runs would fail, skip them; false: a passing fault
}

func connectFailure(err error) readiness {
	if reason, ok := connectReason(err); ok {
		return readiness{reason: reason, message: err.Error(), blocking: true}
	}
	return readiness{reason: backupv1alpha1.ReasonAPIError, message: err.Error()}
}

func preflightFailure(err error) readiness {
	msg := "preflight: " + err.Error()
	switch dcs.Classify(err) {
	case dcs.ClassUnauthorized:
		return readiness{reason: backupv1alpha1.ReasonUnauthorized, blocking: true,
			message: msg + "; check the access key pair and spec.template.spec.connection.projectID"}
	case dcs.ClassNotFound:
		return readiness{reason: backupv1alpha1.ReasonInstanceNotFound, blocking: true,
			message: msg + "; check spec.template.spec.instanceID"}
	case dcs.ClassUnsupported:
		return readiness{reason: backupv1alpha1.ReasonInstanceNotSupported, blocking: true, message: msg}
	case dcs.ClassThrottled:
		return readiness{reason: backupv1alpha1.ReasonThrottled, message: msg}
	}
	return readiness{reason: backupv1alpha1.ReasonAPIError, message: msg}
}

// notReady records a failed preflight and returns the backoff before the
// next check.
func (p *schedulePass) notReady(r readiness) time.Duration {
	old := p.condition(backupv1alpha1.ConditionReady)
	if old == nil || old.Status != metav1.ConditionFalse || old.Reason != r.reason {
		p.event(true, r.reason, r.message)
	}
	p.setCondition(backupv1alpha1.ConditionReady, metav1.ConditionFalse, r.reason, r.message)
	if r.blocking {
		p.blocked = r.message
	}
	return errorBackoff(p.r.failures.inc(p.s.UID), errorBackoffBase*10, preflightRetry)
}

// watchRestores reads the instance's restores (a list shared with the
// backups of the instance) into status.lastRestore and Restored.
func (p *schedulePass) watchRestores(ctx context.Context) time.Duration {
	if p.api == nil {
		return 0
	}
	s := p.s
	key := instanceKeyFor(s.Spec.Template.Spec)
	if wait := p.r.restores.startupSpread(key, p.now, p.r.startedAt, p.r.RestorePollInterval); wait > 0 {
		return wait + 100*time.Millisecond
	}
	interval := p.r.RestorePollInterval
	if s.Status.LastRestore != nil && restoreRunning(*s.Status.LastRestore) {
		interval = fastRestorePoll
	}
	restores, at, err := p.r.restores.get(ctx, key, p.now, interval, func(ctx context.Context) ([]dcs.Restore, error) {
		return p.api.ListRestores(ctx, s.Spec.Template.Spec.InstanceID, dcs.ListOptions{})
	})
	if err != nil {
		log.FromContext(ctx).V(1).Info("reading restore records", "error", err.Error())
		return errorBackoff(p.r.failures.inc(s.UID), errorBackoffBase*10, max(p.r.RestorePollInterval, preflightRetry))
	}
	if len(restores) > 0 {
		sorted := append([]dcs.Restore(nil), restores...)
		sortRestoresNewestFirst(sorted)
		latest := toRestoreRecord(sorted[0])
		if s.Status.LastRestore == nil || s.Status.LastRestore.Status != latest.Status ||
			s.Status.LastRestore.RestoreID != latest.RestoreID {
			status, reason, msg := restoredCondition(sorted[0])
			p.setCondition(backupv1alpha1.ConditionRestored, status, reason, msg)
			p.event(status == metav1.ConditionFalse, reason, msg)
		}
		s.Status.LastRestore = &latest
	}
	if s.Status.LastRestore != nil && restoreRunning(*s.Status.LastRestore) {
		interval = fastRestorePoll
	}
	return clampDuration(at.Add(interval).Sub(p.now), minPoll, interval) + 100*time.Millisecond
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
