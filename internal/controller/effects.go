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
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// conflictRequeue retries a status write that lost a race.
const conflictRequeue = 100 * time.Millisecond

// effects are the side effects of a pass (events, metrics, what the
// coordinator learns from the outcome) held back until the status write
// that records them succeeded. A pass that loses a write conflict runs
// again from the newer object and decides anew: had it emitted first, a
// MissedSchedule event would be emitted twice and a finished backup counted
// twice.
type effects struct {
	events []pendingEvent
	after  []func()
}

type pendingEvent struct {
	warning bool
	reason  string
	note    string
}

// event queues an event about the pass's object.
func (e *effects) event(warning bool, reason, note string) {
	e.events = append(e.events, pendingEvent{warning: warning, reason: reason, note: note})
}

// then queues a side effect other than an event (a metric, knowledge for
// the coordinator).
func (e *effects) then(f func()) { e.after = append(e.after, f) }

// flush emits everything queued, once the status is written.
func (e *effects) flush(rec recorder.EventRecorder, obj runtime.Object, action string) {
	for _, ev := range e.events {
		typ := "Normal"
		if ev.warning {
			typ = "Warning"
		}
		rec.Eventf(obj, nil, typ, ev.reason, action, "%s", ev.note)
	}
	for _, f := range e.after {
		f()
	}
	e.events, e.after = nil, nil
}

// writeStatus patches obj's status from orig if it changed, with optimistic
// locking: a pass that started from a stale cache must not write its view
// over a newer one (a merge patch replaces whole lists such as the
// conditions). It reports false, with the result to return, when the write
// lost a race (or the object is gone) and the pass must run again.
func writeStatus(ctx context.Context, c client.Client, orig, obj client.Object, origStatus, status any) (bool, ctrl.Result, error) {
	if equality.Semantic.DeepEqual(origStatus, status) {
		return true, ctrl.Result{}, nil
	}
	patch := client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})
	if err := c.Status().Patch(ctx, obj, patch); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return false, ctrl.Result{RequeueAfter: conflictRequeue, Priority: ptr.To(priorityTimed)}, nil
		}
		return false, ctrl.Result{}, err
	}
	return true, ctrl.Result{}, nil
}

// passEnd is the end of a pass of an object that talks to DCS (a backup, a
// restore): what to write and what to announce.
type passEnd struct {
	obj        instance.Object
	orig, cur  client.Object
	origStatus any
	status     any
	conditions []metav1.Condition
	out        *effects
	action     string
	phase      string
	requeue    time.Duration
	// timed passes (a poll due at a moment) go before other queued work,
	// yielded ones (a poll that gave way to creates) after it.
	timed, yielded bool
}

// commitPass writes the status if it changed, resets the object's failure
// count when the pass ended with DCS answering, then emits the effects.
func commitPass(ctx context.Context, d Dependencies, e passEnd) (ctrl.Result, error) {
	if ok, res, err := writeStatus(ctx, d.Client, e.orig, e.cur, e.origStatus, e.status); !ok {
		return res, err
	}
	if c := meta.FindStatusCondition(e.conditions, backupv1alpha1.ConditionSynced); c != nil &&
		c.Status == metav1.ConditionTrue {
		d.Coordinator.Succeeded(e.obj)
	}
	e.out.flush(d.Recorder, e.cur, e.action)
	if e.requeue > 0 {
		log.FromContext(ctx).V(2).Info("next look", "after", e.requeue, "phase", e.phase)
	}
	res := ctrl.Result{RequeueAfter: e.requeue}
	switch {
	case e.yielded:
		res.Priority = ptr.To(priorityYielded)
	case e.timed:
		res.Priority = ptr.To(priorityTimed)
	}
	return res, nil
}

// Results of finished operations, in metrics.
const (
	resultSucceeded = "succeeded"
	resultFailed    = "failed"
	// resultRejected is a restore that failed its checks before DCS was asked.
	resultRejected = "rejected"
)
