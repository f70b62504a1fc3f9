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
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// listAPI is a DCS whose restore list a test sets; each read is reported
// on reads.
type listAPI struct {
	dcs.API
	mu       sync.Mutex
	restores []dcs.Restore
	err      error
	reads    chan string
}

func (a *listAPI) ListRestores(_ context.Context, id string, _ dcs.ListOptions) ([]dcs.Restore, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reads <- "restores " + id
	return append([]dcs.Restore(nil), a.restores...), a.err
}

func (a *listAPI) ListBackups(_ context.Context, id string, _ dcs.ListOptions) ([]dcs.Backup, error) {
	a.reads <- "records " + id
	return nil, nil
}

func (a *listAPI) set(restores []dcs.Restore, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.restores, a.err = restores, err
}

// restoresOf digests the restores of one backup, as a finished DCSBackup
// shows them.
func restoresOf(backupID string) func([]dcs.Restore, []dcs.Backup) uint64 {
	return func(restores []dcs.Restore, _ []dcs.Backup) uint64 {
		h := fnv.New64a()
		for _, r := range restores {
			if r.BackupID == backupID {
				_, _ = h.Write([]byte(r.ID + string(r.Status)))
			}
		}
		return h.Sum64()
	}
}

type wakeLog struct {
	mu    sync.Mutex
	names []string
}

func (w *wakeLog) wake(n types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.names = append(w.names, n.Name)
}

func (w *wakeLog) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.names
	w.names = nil
	slices.Sort(out)
	return out
}

type observed struct {
	c     *Coordinator
	clock *clocktesting.FakeClock
	api   *listAPI
	woken *wakeLog
}

func startObserving(t *testing.T, budget *dcs.Limiter) *observed {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	c := New(Options{Clock: clk, Budget: budget, Observe: ObserveOptions{Interval: time.Minute, Workers: 2}})
	o := &observed{c: c, clock: clk, api: &listAPI{reads: make(chan string, 100)}, woken: &wakeLog{}}
	c.Register("DCSBackup", newFakeKind(), o.woken.wake)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Start(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return o
}

func (o *observed) watch(name, backupID string, key Key) {
	obj := Object{Kind: "DCSBackup", NamespacedName: types.NamespacedName{Namespace: "shop", Name: name}}
	uid := types.UID(name)
	o.c.Track(obj, uid, key)
	o.c.Watch(Watch{Object: obj, UID: uid, Key: key,
		Connect: func(context.Context) (dcs.API, error) { return o.api, nil },
		Digest:  restoresOf(backupID), Shown: restoresOf(backupID)(nil, nil)})
}

// idle reports whether no read of the instance is in flight.
func (o *observed) idle(key Key) bool {
	o.c.mu.Lock()
	defer o.c.mu.Unlock()
	inst, ok := o.c.instances[key]
	return !ok || inst.obs == nil || !inst.obs.reading
}

// readAfter moves the clock by d, once the read before has ended, and
// waits for the next read.
func (o *observed) readAfter(t *testing.T, d time.Duration) string {
	t.Helper()
	waitFor(t, func() bool { return o.idle(inst) })
	deadline := time.After(10 * time.Second)
	o.clock.Step(d)
	for {
		select {
		case r := <-o.api.reads:
			return r
		case <-time.After(20 * time.Millisecond):
			// The loop may have set its timer from the clock before the
			// step: have it look at the clock again, as its bounded sleep
			// (maxLoopWait) makes it do with a real clock. Nothing moves
			// the clock further, so a read comes only if it is due.
			o.clock.Step(0)
			o.c.kick()
		case <-deadline:
			t.Fatal("no read")
		}
	}
}

func TestObservationReadsOnceForAllObjectsAndWakesOnlyThoseThatChanged(t *testing.T) {
	o := startObserving(t, dcs.NewLimiter(0, 0))
	for _, b := range []string{"a", "b", "c"} {
		o.watch(b, "bk-"+b, inst)
	}
	// The first read comes within the first interval after the start.
	if got := o.readAfter(t, time.Minute); got != "restores "+inst.ID {
		t.Fatalf("first read: %s", got)
	}
	if r := <-o.api.reads; r != "records "+inst.ID {
		t.Fatalf("second call of the first read: %s, want the records", r)
	}
	waitFor(t, func() bool { _, _, ok := o.c.CachedRestores(inst); return ok })
	if woken := o.woken.take(); len(woken) != 0 {
		t.Fatalf("woken %v by lists that say what the objects show", woken)
	}
	// A restore of backup b shows up: only b is woken, at the next read.
	o.api.set([]dcs.Restore{{ID: "r1", BackupID: "bk-b", Status: dcs.RestoreSucceeded, CreatedAt: t0}}, nil)
	o.readAfter(t, 2*time.Minute)
	waitFor(t, func() bool { return slices.Equal(o.woken.take(), []string{"b"}) })
	if n := len(o.api.reads); n != 0 {
		t.Fatalf("%d more reads, want one read per instance for the three objects", n)
	}
}

func TestObservationErrorWakesEveryWatcherOnceAndBacksOff(t *testing.T) {
	o := startObserving(t, dcs.NewLimiter(0, 0))
	o.watch("a", "bk-a", inst)
	o.watch("b", "bk-b", inst)
	o.readAfter(t, time.Minute)
	<-o.api.reads // records
	waitFor(t, func() bool { _, _, ok := o.c.CachedRestores(inst); return ok })
	o.api.set(nil, errors.New("HTTP 500"))
	o.readAfter(t, 2*time.Minute)
	waitFor(t, func() bool { return o.c.ObservationError(inst) != nil })
	waitFor(t, func() bool { return slices.Equal(o.woken.take(), []string{"a", "b"}) })
	// A failing read is retried after a tenth of the interval, then later.
	o.readAfter(t, 6*time.Second+time.Second)
	o.api.set(nil, nil)
	o.readAfter(t, 12*time.Second+time.Second)
	waitFor(t, func() bool { return o.c.ObservationError(inst) == nil })
	waitFor(t, func() bool { return slices.Equal(o.woken.take(), []string{"a", "b"}) })
}

func TestIdleInstancesShareABoundedPartOfTheBudget(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	// 10 requests per second, a quarter for background reads.
	c := New(Options{Clock: clk, Budget: dcs.NewLimiter(10, 20).WithBackgroundShare(0.25),
		Observe: ObserveOptions{Interval: time.Minute, RecordsEvery: time.Hour}})
	for i := range 2000 {
		key := Key{Endpoint: "https://dcs.example", Project: "p1", ID: string(rune('a'+i%26)) + time.Duration(i).String()}
		obj := Object{Kind: "DCSBackup", NamespacedName: types.NamespacedName{Name: key.ID}}
		c.Track(obj, types.UID(key.ID), key)
		c.Watch(Watch{Object: obj, UID: types.UID(key.ID), Key: key, Digest: restoresOf("x")})
	}
	got := c.IdleInterval("https://dcs.example", "p1")
	// 2000 instances, each a read per interval plus a sixtieth of one for
	// the records, within 2.5 requests per second.
	perRead := 1 + 1.0/60
	want := time.Duration(2000 * perRead / 2.5 * float64(time.Second))
	if got < want-time.Second || got > want+time.Second {
		t.Fatalf("idle interval %v, want about %v", got, want)
	}
	groups := c.Observed()
	if len(groups) != 1 || groups[0].Idle != 2000 || groups[0].Active != 0 {
		t.Fatalf("observed %+v", groups)
	}
	// A few instances with backups lately keep the short interval, and
	// the idle ones stretch to leave them their reads.
	for i := range 100 {
		c.MarkActive(Key{Endpoint: "https://dcs.example", Project: "p1", ID: string(rune('a'+i%26)) + time.Duration(i).String()})
	}
	if after := c.IdleInterval("https://dcs.example", "p1"); after <= got {
		t.Fatalf("idle interval %v with 100 active instances, want longer than %v", after, got)
	}
	// Never faster than the restore poll interval.
	few := New(Options{Clock: clk, Budget: dcs.NewLimiter(10, 20), Observe: ObserveOptions{Interval: time.Minute}})
	if got := few.IdleInterval("https://dcs.example", "p1"); got != time.Minute {
		t.Fatalf("idle interval of an empty group %v, want the restore poll interval", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond) // the observation loop runs in its own goroutines
	}
}

// An instance is read while some object watches it: watching it twice,
// moving the watch to another instance and forgetting the object each end
// the reads of the instance it left.
func TestAnInstanceIsObservedWhileSomeObjectWatchesIt(t *testing.T) {
	c := New(Options{Clock: clocktesting.NewFakeClock(t0), Observe: ObserveOptions{Interval: time.Minute}})
	other := Key{Endpoint: inst.Endpoint, Project: inst.Project, ID: "i-2"}
	watch := func(name string, key Key) Object {
		obj := Object{Kind: "DCSBackup", NamespacedName: types.NamespacedName{Namespace: "shop", Name: name}}
		c.Track(obj, types.UID(name), key)
		c.Watch(Watch{Object: obj, UID: types.UID(name), Key: key, Digest: restoresOf(name)})
		return obj
	}
	observed := func() (instances int) {
		for _, g := range c.Observed() {
			instances += g.Active + g.Idle
		}
		return instances
	}
	a := watch("a", inst)
	watch("a", inst)
	b := watch("b", inst)
	if idle := observed(); idle != 1 {
		t.Fatalf("%d instances observed, want 1", idle)
	}
	watch("a", other)
	if idle := observed(); idle != 2 {
		t.Fatalf("after a moved: %d instances observed, want 2", idle)
	}
	c.Forget(b)
	if idle := observed(); idle != 1 {
		t.Fatalf("after b is forgotten: %d instances observed, want 1 (the one a watches)", idle)
	}
	c.Forget(a)
	if idle := observed(); idle != 0 {
		t.Fatalf("after a is forgotten: %d instances observed, want none", idle)
	}
}

// Right after a start, a restarted manager's reads of idle instances are
// spread over the first interval; an instance the manager has just backed
// up was read by that backup, and is read one interval later, not within
// the spread (where its reads would add to the burst of backups).
func TestAnInstanceJustBackedUpIsReadOneIntervalLater(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	c := New(Options{Clock: clk, Observe: ObserveOptions{Interval: time.Minute, ActiveFor: time.Hour}})
	clk.Step(5 * time.Second)
	obj := Object{Kind: "DCSBackup", NamespacedName: types.NamespacedName{Namespace: "shop", Name: "a"}}
	c.Track(obj, "a", inst)
	c.MarkActive(inst)
	c.Watch(Watch{Object: obj, UID: "a", Key: inst, Digest: restoresOf("a")})
	c.mu.Lock()
	next := c.instances[inst].obs.nextRead
	c.mu.Unlock()
	if want := t0.Add(5*time.Second + time.Minute); !next.Equal(want) {
		t.Fatalf("first read of a just backed-up instance at %v, want %v", next.Sub(t0), want.Sub(t0))
	}
}

// Watchers that connect the same way share one Connect; a read uses the
// first way that works.
func TestWatchersShareConnectsByKey(t *testing.T) {
	c := New(Options{Clock: clocktesting.NewFakeClock(t0), Observe: ObserveOptions{Interval: time.Minute}})
	api := &listAPI{reads: make(chan string, 10)}
	broken := func(context.Context) (dcs.API, error) { return nil, errors.New("Secret \"gone\" not found") }
	works := func(context.Context) (dcs.API, error) { return api, nil }
	for i, connect := range []func(context.Context) (dcs.API, error){broken, works, works, works} {
		name := fmt.Sprint("b", i)
		obj := Object{Kind: "DCSBackup", NamespacedName: types.NamespacedName{Namespace: "shop", Name: name}}
		c.Track(obj, types.UID(name), inst)
		c.Watch(Watch{Object: obj, UID: types.UID(name), Key: inst, Connect: connect,
			ConnectKey: i > 0, Digest: restoresOf(name)})
	}
	c.mu.Lock()
	n := len(c.instances[inst].obs.connects)
	c.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d connects kept for 4 watchers connecting 2 ways, want 2", n)
	}
	got, err := c.connect(context.Background(), inst)
	if err != nil || got != api {
		t.Fatalf("connect = %v, %v; want the way that works", got, err)
	}
}
