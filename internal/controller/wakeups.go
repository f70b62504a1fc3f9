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

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// wakeupBuffer bounds the wake-ups queued for one controller before its
// queue takes them; a wake-up that does not fit is dropped, and the
// object's own safety-net requeue covers it.
const wakeupBuffer = 1024

// wakeups carries the coordinator's wake-ups (the next object in line for
// an instance that came free) into one controller's work queue, with the
// priority of timed work: the instance idles until the hand-over happens.
type wakeups struct {
	ch chan event.TypedGenericEvent[types.NamespacedName]
}

func newWakeups() wakeups {
	return wakeups{ch: make(chan event.TypedGenericEvent[types.NamespacedName], wakeupBuffer)}
}

// wake enqueues one object; it never blocks (the coordinator calls it).
func (w wakeups) wake(name types.NamespacedName) {
	select {
	case w.ch <- event.TypedGenericEvent[types.NamespacedName]{Object: name}:
	default:
	}
}

// source is the controller-runtime source of the wake-ups.
func (w wakeups) source() source.Source {
	return source.Channel(w.ch, handler.TypedFuncs[types.NamespacedName, reconcile.Request]{
		GenericFunc: func(_ context.Context, e event.TypedGenericEvent[types.NamespacedName],
			q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			addTimed(q, reconcile.Request{NamespacedName: e.Object})
		},
	})
}

// addTimed adds a request with the priority of timed work when the queue
// has priorities.
func addTimed(q workqueue.TypedRateLimitingInterface[reconcile.Request], req reconcile.Request) {
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(priorityTimed)}, req)
		return
	}
	q.Add(req)
}
