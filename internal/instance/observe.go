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

package instance

import (
	"context"
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// Observation: what finished objects show of their instance (the restores
// made from a backup, a backup expiring or being deleted in DCS, a
// schedule's latest restore) changes rarely, and only DCS knows when. The
// coordinator reads each watched instance's lists in the background, one
// read per instance shared by all of its objects, at an interval that keeps
// the reads within a share of the DCS request budget, and wakes an object
// only when the part of the lists it shows changed. An idle object costs no
// work of its own: no timer, no reconcile, no request.

// Watch is an object that shows what its instance's restore and backup
// lists say, and wants to be woken when that changes.
type Watch struct {
	Object Object
	UID    types.UID
	Key    Key
	// Connect returns the API to read the instance's lists with: the
	// object's connection and credentials.
	Connect func(context.Context) (dcs.API, error)
	// ConnectKey identifies what Connect connects with (a comparable
	// value, e.g. the namespace and the connection): the coordinator keeps
	// one Connect per instance and key, not one per object.
	ConnectKey any
	// Digest summarises the part of the lists the object shows (records
	// may be nil: not read yet). The object is woken when it changes.
	Digest func(restores []dcs.Restore, records []dcs.Backup) uint64
	// Shown is the digest of what the object shows now (from its status),
	// so that reading lists that say the same wakes nobody: after a
	// restart, re-reading every instance must not reconcile every object.
	Shown uint64
}

// ObserveOptions tune the background reads.
type ObserveOptions struct {
	// Interval is the shortest interval between two reads of an instance's
	// restores, and the interval of instances that had a backup or a
	// restore lately (--restore-poll-interval).
	Interval time.Duration
	// ActiveFor is how long an instance counts as active after a backup
	// or a restore: it keeps the short interval meanwhile.
	ActiveFor time.Duration
	// RunningInterval is the interval while a restore of the instance
	// runs, so its progress and end show promptly.
	RunningInterval time.Duration
	// RecordsEvery is how often an instance's backup records are read (to
	// see backups expire or be deleted in DCS); at least one restore read
	// interval.
	RecordsEvery time.Duration
	// Workers bounds the reads in flight.
	Workers int
}

func (o *ObserveOptions) defaults() {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.ActiveFor <= 0 {
		o.ActiveFor = time.Hour
	}
	if o.RunningInterval <= 0 {
		o.RunningInterval = 5 * time.Second
	}
	if o.RecordsEvery <= 0 {
		o.RecordsEvery = time.Hour
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
}

// observation is the state of the background reads of one instance.
type observation struct {
	// watching counts the objects that watch the instance (they are among
	// the instance's refs: eachWatcherLocked).
	watching int
	// connects are the ways the watchers connect, by ConnectKey (a few:
	// the namespaces and connections that refer to the instance).
	connects map[any]func(context.Context) (dcs.API, error)
	nextRead time.Time
	reading  bool
	// err is the last read's error (nil: it worked), failures the reads
	// that failed in a row.
	err       error
	failures  int
	recordsAt time.Time
}

// watchState is an object's registration and the digest it was last woken
// for (or shows). It keeps of the Watch only what the object and the
// instance do not hold already: a fleet has tens of thousands of them.
type watchState struct {
	key     Key
	digests func(restores []dcs.Restore, records []dcs.Backup) uint64
	digest  uint64
}

// Watch registers (or refreshes) an object's watch on its instance. The
// first read of an instance comes one interval after a backup or restore of
// the operator's own (nothing changes that soon), else within one interval
// right after the process started (a restarted manager meets every
// finished object at once and must serve running backups first), else one
// interval later.
func (c *Coordinator) Watch(w Watch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.objectLocked(w.Object, w.UID)
	if st.watch != nil && st.watch.key != w.Key {
		c.unwatchLocked(st)
	}
	if !slices.Contains(st.keys, w.Key) {
		// The object acts on the instance it watches: its state lives as
		// long as the object (Forget).
		st.keys = append(st.keys, w.Key)
	}
	inst := c.instanceLocked(w.Key)
	inst.refs[w.Object] = struct{}{}
	if inst.obs == nil {
		inst.obs = &observation{connects: map[any]func(context.Context) (dcs.API, error){}}
	}
	obs := inst.obs
	if st.watch == nil {
		st.watch = &watchState{key: w.Key, digest: w.Shown}
		obs.watching++
	}
	st.watch.digests = w.Digest
	obs.connects[w.ConnectKey] = w.Connect
	if obs.nextRead.IsZero() && !obs.reading {
		obs.nextRead = c.firstRead(inst)
		c.kick()
	}
}

// firstRead is when a newly watched instance is read first: within the
// first interval after the start, unless a backup or restore of the
// operator's own just read its lists; otherwise one interval from now.
func (c *Coordinator) firstRead(inst *instanceState) time.Time {
	now := c.clock.Now()
	interval := c.observe.Interval
	if now.Sub(c.started) < interval && !now.Before(inst.activeUntil) {
		return c.started.Add(time.Duration(rand.Int64N(int64(interval)))) //nolint:gosec // load spreading
	}
	return now.Add(interval)
}

// unwatchLocked ends an object's watch. Callers hold c.mu.
func (c *Coordinator) unwatchLocked(st *objectState) {
	if st.watch == nil {
		return
	}
	if inst, ok := c.instances[st.watch.key]; ok && inst.obs != nil {
		inst.obs.watching--
		if inst.obs.watching == 0 {
			inst.obs = nil
		}
	}
	st.watch = nil
}

// eachWatcherLocked calls f for each object that watches the instance key.
// Callers hold c.mu.
func (c *Coordinator) eachWatcherLocked(key Key, inst *instanceState, f func(Object, *watchState)) {
	for obj := range inst.refs {
		if st := c.objects[obj]; st != nil && st.watch != nil && st.watch.key == key {
			f(obj, st.watch)
		}
	}
}

// MarkActive records a backup or a restore on the instance: its lists are
// read at the short interval for a while.
func (c *Coordinator) MarkActive(key Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if inst, ok := c.instances[key]; ok {
		inst.activeUntil = c.clock.Now().Add(c.observe.ActiveFor)
		if inst.obs != nil && !inst.obs.reading {
			inst.obs.nextRead = minTime(inst.obs.nextRead, c.clock.Now().Add(c.observe.Interval))
		}
	}
}

// ObservationError is the error of the last background read of the
// instance's lists, nil when it worked.
func (c *Coordinator) ObservationError(key Key) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if inst, ok := c.instances[key]; ok && inst.obs != nil {
		return inst.obs.err
	}
	return nil
}

// CachedRestores returns the instance's restore records as last read, and
// whether they were read at all. It never calls DCS.
func (c *Coordinator) CachedRestores(key Key) ([]dcs.Restore, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if inst, ok := c.instances[key]; ok && inst.restores.valid {
		return inst.restores.items, inst.restores.at, true
	}
	return nil, time.Time{}, false
}

// CachedRecords returns the instance's backup records as last read, and
// whether they were read at all. It never calls DCS.
func (c *Coordinator) CachedRecords(key Key) ([]dcs.Backup, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if inst, ok := c.instances[key]; ok && inst.records.valid {
		return inst.records.items, inst.records.at, true
	}
	return nil, time.Time{}, false
}

// noteChange wakes the watchers of an instance whose digest of its lists
// changed. It is called whenever a list of the instance was read, by the
// background reads or by any object.
func (c *Coordinator) noteChange(key Key) {
	c.mu.Lock()
	wakes := c.changedWatchersLocked(key)
	c.mu.Unlock()
	for _, w := range wakes {
		w()
	}
}

// changedWatchersLocked recomputes the digests of an instance's watchers
// and returns the wake-ups of those whose digest changed. Callers hold c.mu.
func (c *Coordinator) changedWatchersLocked(key Key) []func() {
	inst, ok := c.instances[key]
	if !ok || inst.obs == nil {
		return nil
	}
	var records []dcs.Backup
	if inst.records.valid {
		records = inst.records.items
	}
	var wakes []func()
	c.eachWatcherLocked(key, inst, func(obj Object, w *watchState) {
		d := w.digests(inst.restores.items, records)
		if d == w.digest {
			return
		}
		w.digest = d
		if k, found := c.kinds[obj.Kind]; found && k.wake != nil {
			wake, name := k.wake, obj.NamespacedName
			wakes = append(wakes, func() { wake(name) })
		}
	})
	return wakes
}

// wakeAll wakes every watcher of an instance (the state of its reads
// changed: they show it in Synced).
func (c *Coordinator) wakeAll(key Key) {
	var wakes []func()
	c.mu.Lock()
	if inst, ok := c.instances[key]; ok && inst.obs != nil {
		c.eachWatcherLocked(key, inst, func(obj Object, _ *watchState) {
			if k, found := c.kinds[obj.Kind]; found && k.wake != nil {
				wake, name := k.wake, obj.NamespacedName
				wakes = append(wakes, func() { wake(name) })
			}
		})
	}
	c.mu.Unlock()
	for _, w := range wakes {
		w()
	}
}

// kick wakes the observation loop (a new instance to read). Callers may
// hold c.mu: it never blocks.
func (c *Coordinator) kick() {
	select {
	case c.kicks <- struct{}{}:
	default:
	}
}

// NeedLeaderElection says that only the leader reads (and wakes objects).
func (c *Coordinator) NeedLeaderElection() bool { return true }

// Start runs the background reads until ctx ends (a manager Runnable).
func (c *Coordinator) Start(ctx context.Context) error {
	sem := make(chan struct{}, c.observe.Workers)
	for {
		due, next := c.dueReads()
		for _, key := range due {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			go func() {
				defer func() { <-sem }()
				c.read(ctx, key)
			}()
		}
		// The sleep is timed from now, not from when dueReads looked at
		// the clock: a clock that moved in between must not push the
		// next read later.
		timer := c.clock.NewTimer(next.Sub(c.clock.Now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-c.kicks:
		case <-timer.C():
		}
		timer.Stop()
	}
}

// maxLoopWait bounds the loop's sleep, so a clock that jumps (tests, a
// suspended machine) is noticed.
const maxLoopWait = 10 * time.Second

// dueReads returns the instances whose read is due (marking them as being
// read) and when the next one is.
func (c *Coordinator) dueReads() ([]Key, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	wait := maxLoopWait
	var due []Key
	for key, inst := range c.instances {
		obs := inst.obs
		if obs == nil || obs.reading || obs.nextRead.IsZero() {
			continue
		}
		if !obs.nextRead.After(now) {
			obs.reading = true
			due = append(due, key)
			continue
		}
		wait = min(wait, obs.nextRead.Sub(now))
	}
	return due, now.Add(wait)
}

// read reads one instance's restores (and, when due, its backup records)
// and schedules the next read.
func (c *Coordinator) read(ctx context.Context, key Key) {
	running := restoreRunning(c.cachedRestoresOnly(key))
	priority := dcs.Background
	if running {
		// A restore runs: someone waits for its end.
		priority = dcs.Foreground
	}
	ctx = dcs.WithPriority(ctx, priority)
	err := c.readLists(ctx, key)
	c.mu.Lock()
	inst, ok := c.instances[key]
	if !ok || inst.obs == nil {
		c.mu.Unlock()
		return
	}
	obs := inst.obs
	obs.reading = false
	changed := (obs.err == nil) != (err == nil)
	obs.err = err
	if err != nil {
		obs.failures++
		obs.nextRead = c.clock.Now().Add(readBackoff(obs.failures, c.observe.Interval))
	} else {
		obs.failures = 0
		obs.nextRead = c.clock.Now().Add(c.intervalLocked(key, inst))
	}
	c.mu.Unlock()
	// The loop computed its sleep while this read ran: it must see the
	// next read's time.
	c.kick()
	if changed {
		c.wakeAll(key)
	}
}

// readLists reads through the API of the first watcher that connects.
func (c *Coordinator) readLists(ctx context.Context, key Key) error {
	api, err := c.connect(ctx, key)
	if err != nil {
		return err
	}
	if _, _, err := c.Restores(ctx, key, 0, func(ctx context.Context) ([]dcs.Restore, error) {
		return api.ListRestores(ctx, key.ID, dcs.ListOptions{})
	}); err != nil {
		return err
	}
	if !c.recordsDue(key) {
		return nil
	}
	_, _, err = c.Records(ctx, key, 0, func(ctx context.Context) ([]dcs.Backup, error) {
		return api.ListBackups(ctx, key.ID, dcs.ListOptions{})
	})
	return err
}

func (c *Coordinator) recordsDue(key Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	inst, ok := c.instances[key]
	if !ok || inst.obs == nil {
		return false
	}
	now := c.clock.Now()
	if inst.records.valid && now.Sub(inst.records.at) < c.observe.RecordsEvery {
		return false
	}
	inst.obs.recordsAt = now
	return true
}

// connect returns the API of one of the ways the instance's watchers
// connect: the first that works.
func (c *Coordinator) connect(ctx context.Context, key Key) (dcs.API, error) {
	c.mu.Lock()
	var connects []func(context.Context) (dcs.API, error)
	if inst, ok := c.instances[key]; ok && inst.obs != nil {
		connects = slices.Collect(maps.Values(inst.obs.connects))
	}
	c.mu.Unlock()
	var errs []error
	for _, connect := range connects {
		api, err := connect(ctx)
		if err == nil {
			return api, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, errors.New("no object watches the instance any more")
	}
	return nil, errors.Join(errs...)
}

func (c *Coordinator) cachedRestoresOnly(key Key) []dcs.Restore {
	items, _, _ := c.CachedRestores(key)
	return items
}

// restoreRunning says whether the newest restore of a list has not ended.
func restoreRunning(restores []dcs.Restore) bool {
	var newest *dcs.Restore
	for i := range restores {
		if newest == nil || restores[i].CreatedAt.After(newest.CreatedAt) {
			newest = &restores[i]
		}
	}
	return newest != nil && newest.Status != dcs.RestoreSucceeded && newest.Status != dcs.RestoreFailed
}

// readBackoff is the wait after the n-th failed read in a row: doubling
// from a tenth of the interval, at most ten intervals.
func readBackoff(n int, interval time.Duration) time.Duration {
	d := interval / 10
	for i := 1; i < n && d < 10*interval; i++ {
		d *= 2
	}
	return min(d, 10*interval)
}

// intervalLocked is the wait before the next read of an instance:
//   - while a restore runs on it, RunningInterval;
//   - after a backup or restore (ActiveFor), Interval;
//   - otherwise long enough that all idle instances of the same endpoint
//     and project together use at most the background share of the budget
//     left by the active ones, and never shorter than Interval.
//
// Callers hold c.mu.
func (c *Coordinator) intervalLocked(key Key, inst *instanceState) time.Duration {
	now := c.clock.Now()
	switch {
	case restoreRunning(inst.restores.items):
		return c.observe.RunningInterval
	case now.Before(inst.activeUntil):
		return jitterDuration(c.observe.Interval, 0.02)
	}
	return jitterDuration(c.idleIntervalLocked(key.Endpoint, key.Project, now), 0.05)
}

// idleIntervalLocked computes the interval of the idle instances of one
// endpoint and project. Callers hold c.mu.
func (c *Coordinator) idleIntervalLocked(endpoint, project string, now time.Time) time.Duration {
	base := c.observe.Interval
	share := c.budget.BackgroundRate()
	if math.IsInf(share, 1) || share <= 0 {
		return base
	}
	var active, idle int
	for k, inst := range c.instances {
		if inst.obs == nil || k.Endpoint != endpoint || k.Project != project {
			continue
		}
		if now.Before(inst.activeUntil) {
			active++
		} else {
			idle++
		}
	}
	// Each read is one request, plus the records every RecordsEvery.
	perRead := 1 + base.Seconds()/c.observe.RecordsEvery.Seconds()
	left := share - float64(active)*perRead/base.Seconds()
	// The active instances may use the whole share; the idle ones are
	// still read, slowly, on a tenth of it.
	left = max(left, share/10)
	idleInterval := time.Duration(float64(idle) * perRead / left * float64(time.Second))
	return max(base, idleInterval)
}

// IdleInterval is the current read interval of the idle instances of an
// endpoint and project (metrics).
func (c *Coordinator) IdleInterval(endpoint, project string) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.idleIntervalLocked(endpoint, project, c.clock.Now())
}

// ObservedGroup is what the coordinator reads for one endpoint and
// project (metrics).
type ObservedGroup struct {
	Endpoint, Project string
	Active, Idle      int
	IdleInterval      time.Duration
}

// Observed lists the endpoints and projects the coordinator reads, with
// their active and idle instances and the idle interval.
func (c *Coordinator) Observed() []ObservedGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	groups := map[[2]string]*ObservedGroup{}
	for k, inst := range c.instances {
		if inst.obs == nil {
			continue
		}
		g, ok := groups[[2]string{k.Endpoint, k.Project}]
		if !ok {
			g = &ObservedGroup{Endpoint: k.Endpoint, Project: k.Project}
			groups[[2]string{k.Endpoint, k.Project}] = g
		}
		if now.Before(inst.activeUntil) {
			g.Active++
		} else {
			g.Idle++
		}
	}
	out := make([]ObservedGroup, 0, len(groups))
	for _, g := range groups {
		g.IdleInterval = c.idleIntervalLocked(g.Endpoint, g.Project, now)
		out = append(out, *g)
	}
	return out
}

func jitterDuration(d time.Duration, frac float64) time.Duration {
	return d + time.Duration(rand.Float64()*frac*float64(d)) //nolint:gosec // load spreading
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}
