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

// Package instance is what the operator knows about DCS instances, in one
// place that every controller is given: whose turn it is on an instance
// (DCS runs one operation per instance at a time), the instance's shared
// list results, how long its backups take, how long to hold off after it
// answered busy, the per-object failure counts that drive error backoff,
// and the DCS request budget.
//
// Reconcilers hold no state of their own; what must outlive one pass lives
// here, keyed by instance (endpoint, project, instance ID) or by object,
// and is forgotten when the objects that refer to it are gone. Nothing here
// must survive a restart: turns are derived from the resources themselves
// (Occupants), the rest is an optimisation that is rebuilt as the
// controllers work.
package instance

import (
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// Key identifies one DCS instance: the same instance ID behind another
// endpoint or project is another instance.
type Key struct {
	Endpoint string
	Project  string
	ID       string
}

// String is the key as one string (the value of the controllers' field
// indexes).
func (k Key) String() string { return k.Endpoint + "|" + k.Project + "|" + k.ID }

// Object identifies one resource that acts on instances: its kind and name.
type Object struct {
	Kind string
	types.NamespacedName
}

// Options configure a Coordinator.
type Options struct {
	// Clock is the controllers' clock; nil means the real clock.
	Clock clock.Clock
	// Budget limits the DCS requests per endpoint and project; nil means
	// the process-wide default limiter.
	Budget *dcs.Limiter
	// Observe tunes the background reads of watched instances.
	Observe ObserveOptions
}

// Coordinator holds the per-instance and per-object knowledge of every
// controller. It is safe for concurrent use.
type Coordinator struct {
	clock   clock.Clock
	started time.Time
	budget  *dcs.Limiter
	observe ObserveOptions
	// kicks wakes the observation loop.
	kicks chan struct{}

	// acquireMu serialises Acquire; mu guards the maps.
	acquireMu sync.Mutex
	mu        sync.Mutex
	kinds     map[string]kind
	instances map[Key]*instanceState
	objects   map[Object]*objectState

	lists singleflight.Group
}

// instanceState is what is known of one instance.
type instanceState struct {
	// holder covers the moment between a turn being granted and the
	// informer cache showing the holder's status write.
	holder *Holder
	// duration is the learned duration of a backup of the instance.
	duration time.Duration
	// holdOffUntil is set when the instance answered busy because of an
	// operation the operator did not start (console, automatic backup):
	// every object waiting for it waits until then instead of each
	// probing it.
	holdOffUntil time.Time
	restores     listEntry[dcs.Restore]
	records      listEntry[dcs.Backup]
	// activeUntil keeps the short read interval after a backup or a
	// restore on the instance.
	activeUntil time.Time
	// obs is the background reading of a watched instance (nil: nobody
	// watches it).
	obs *observation
	// refs are the objects that act on the instance; the state is dropped
	// when the last one is forgotten.
	refs map[Object]struct{}
}

type listEntry[T any] struct {
	valid bool
	at    time.Time
	items []T
}

// objectState is what is known of one object between its passes.
type objectState struct {
	uid  types.UID
	keys []Key
	// act is what a working object needs; nil for an idle one (most of a
	// fleet's objects: the state of each is kept small).
	act *objectActivity
	// watch is the object's watch on its instance's lists, if any.
	watch *watchState
}

// objectActivity is an object's failures in a row and its operation's
// start.
type objectActivity struct {
	failures int
	// failingSince is when the failures in a row began.
	failingSince time.Time
	// startedAt is when the object asked DCS for its operation, to the
	// nanosecond (the status has whole seconds).
	startedAt time.Time
}

// activity returns st's activity, making it.
func (st *objectState) activity() *objectActivity {
	if st.act == nil {
		st.act = &objectActivity{}
	}
	return st.act
}

// settle drops st's activity once there is nothing in it.
func (st *objectState) settle() {
	if st.act != nil && st.act.failures == 0 && st.act.startedAt.IsZero() {
		st.act = nil
	}
}

// New returns a Coordinator; its start time (for the spread of the first
// reads) is now.
func New(o Options) *Coordinator {
	clk := o.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	budget := o.Budget
	if budget == nil {
		budget = dcs.DefaultLimiter()
	}
	o.Observe.defaults()
	return &Coordinator{
		clock:     clk,
		started:   clk.Now(),
		budget:    budget,
		observe:   o.Observe,
		kicks:     make(chan struct{}, 1),
		kinds:     map[string]kind{},
		instances: map[Key]*instanceState{},
		objects:   map[Object]*objectState{},
	}
}

// Budget is the DCS request budget every client of the operator shares.
func (c *Coordinator) Budget() *dcs.Limiter { return c.budget }

// instanceLocked returns the state of key, creating it. Only Track and
// Acquire create state: every other write is for an instance some object
// tracks, and is dropped otherwise, so that nothing outlives the objects.
// Callers hold c.mu.
func (c *Coordinator) instanceLocked(key Key) *instanceState {
	st, ok := c.instances[key]
	if !ok {
		st = &instanceState{refs: map[Object]struct{}{}}
		c.instances[key] = st
	}
	return st
}

// objectLocked returns the state of obj with uid, starting afresh when the
// object was deleted and re-created under the same name. Callers hold c.mu.
func (c *Coordinator) objectLocked(obj Object, uid types.UID) *objectState {
	st, ok := c.objects[obj]
	if !ok || st.uid != uid {
		if ok {
			c.unwatchLocked(st)
			c.untrackLocked(obj, st)
		}
		st = &objectState{uid: uid}
		c.objects[obj] = st
	}
	return st
}

// Track records that obj (with uid) acts on the instances keys, replacing
// what it acted on before, so their state lives as long as some object
// refers to them.
func (c *Coordinator) Track(obj Object, uid types.UID, keys ...Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.objectLocked(obj, uid)
	if sameKeys(st.keys, keys) {
		return
	}
	if st.watch != nil && !slices.Contains(keys, st.watch.key) {
		c.unwatchLocked(st)
	}
	c.untrackLocked(obj, st)
	st.keys = append(st.keys[:0:0], keys...)
	for _, k := range keys {
		c.instanceLocked(k).refs[obj] = struct{}{}
	}
}

// Forget drops everything known of an object that is gone, and of the
// instances no remaining object refers to.
func (c *Coordinator) Forget(obj Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.objects[obj]
	if !ok {
		return
	}
	c.unwatchLocked(st)
	c.untrackLocked(obj, st)
	delete(c.objects, obj)
}

// untrackLocked removes obj from the instances it referred to, dropping an
// instance's state with its last reference. Callers hold c.mu.
func (c *Coordinator) untrackLocked(obj Object, st *objectState) {
	for _, k := range st.keys {
		inst, ok := c.instances[k]
		if !ok {
			continue
		}
		delete(inst.refs, obj)
		if inst.holder != nil && inst.holder.UID == st.uid {
			inst.holder = nil
		}
		if len(inst.refs) == 0 {
			delete(c.instances, k)
		}
	}
	st.keys = nil
}

func sameKeys(a, b []Key) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Tracked reports how many objects and instances the coordinator holds
// state for (tests and metrics: it must not grow with deleted objects).
func (c *Coordinator) Tracked() (objects, instances int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.objects), len(c.instances)
}

// Failed counts a failed pass of obj and returns how many failed in a row:
// the exponent of its error backoff.
func (c *Coordinator) Failed(obj Object, uid types.UID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	act := c.objectLocked(obj, uid).activity()
	if act.failures == 0 {
		act.failingSince = c.clock.Now()
	}
	act.failures++
	return act.failures
}

// FailingSince is when obj's failures in a row began (as this process saw
// them); zero while it does not fail.
func (c *Coordinator) FailingSince(obj Object) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.objects[obj]; ok && st.act != nil && st.act.failures > 0 {
		return st.act.failingSince
	}
	return time.Time{}
}

// Succeeded resets obj's failure count: a whole pass worked.
func (c *Coordinator) Succeeded(obj Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.objects[obj]; ok && st.act != nil {
		st.act.failures = 0
		st.settle()
	}
}

// MarkStarted records, to the nanosecond, when obj asked DCS for its
// operation.
func (c *Coordinator) MarkStarted(obj Object, uid types.UID, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.objectLocked(obj, uid).activity().startedAt = at
}

// StartedAt refines the start obj recorded in its status (whole seconds)
// with the precise one, if it is the same start; after a restart the
// recorded one is what there is.
func (c *Coordinator) StartedAt(obj Object, uid types.UID, recorded time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.objects[obj]
	if ok && st.uid == uid && st.act != nil && !st.act.startedAt.IsZero() &&
		st.act.startedAt.Truncate(time.Second).Equal(recorded.Truncate(time.Second)) {
		return st.act.startedAt
	}
	return recorded
}

// ClearStarted forgets obj's start once its operation ended.
func (c *Coordinator) ClearStarted(obj Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.objects[obj]; ok && st.act != nil {
		st.act.startedAt = time.Time{}
		st.settle()
	}
}

// ExpectedDuration is how long a backup of the instance typically takes, 0
// when not known yet.
func (c *Coordinator) ExpectedDuration(key Key) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.instances[key]; ok {
		return st.duration
	}
	return 0
}

// ObserveDuration folds one finished backup's duration (DCS's created_at
// to updated_at) into an exponentially weighted average: new samples weigh
// one half, as backups of one instance take about as long as the last few.
func (c *Coordinator) ObserveDuration(key Key, took time.Duration) {
	if took <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.instances[key]
	if !ok {
		return
	}
	if st.duration > 0 {
		took = (st.duration + took) / 2
	}
	st.duration = took
}

// HoldOff makes every object of the instance wait d before asking DCS to
// run something on it: the instance answered busy because of an operation
// the operator did not start, and probing it once per waiting object would
// multiply the busy answers.
func (c *Coordinator) HoldOff(key Key, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.instances[key]
	if !ok {
		return
	}
	if until := c.clock.Now().Add(d); until.After(st.holdOffUntil) {
		st.holdOffUntil = until
	}
}

// HeldOff returns how much longer the instance is held off, 0 if not.
func (c *Coordinator) HeldOff(key Key) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.instances[key]
	if !ok {
		return 0
	}
	return max(0, st.holdOffUntil.Sub(c.clock.Now()))
}

// ClearHoldOff ends a hold-off: DCS accepted an operation on the instance.
func (c *Coordinator) ClearHoldOff(key Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.instances[key]; ok {
		st.holdOffUntil = time.Time{}
	}
}
