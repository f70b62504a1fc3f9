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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

var (
	t0   = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	inst = Key{Endpoint: "https://dcs.example", Project: "p1", ID: "i-1"}
)

// fakeKind is the informer cache of one kind, as its Occupants see it.
type fakeKind struct {
	mu        sync.Mutex
	occupying map[Key][]Holder
	waiting   map[Key][]Holder
	// granted are objects that got the turn but whose status write the
	// cache has not shown yet: they still occupy, though Occupying does
	// not list them.
	granted map[types.UID]bool
	woken   []types.NamespacedName
}

func newFakeKind() *fakeKind {
	return &fakeKind{occupying: map[Key][]Holder{}, waiting: map[Key][]Holder{}, granted: map[types.UID]bool{}}
}

func (f *fakeKind) Occupying(_ context.Context, key Key) ([]Holder, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Holder(nil), f.occupying[key]...), nil
}

func (f *fakeKind) Waiting(_ context.Context, key Key) ([]Holder, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Holder(nil), f.waiting[key]...), nil
}

func (f *fakeKind) StillOccupies(_ context.Context, h Holder) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.occupying[inst] {
		if o.UID == h.UID {
			return true, nil
		}
	}
	return f.granted[h.UID], nil
}

func (f *fakeKind) setGranted(uid types.UID, v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.granted[uid] = v
}

func (f *fakeKind) setOccupying(key Key, hs ...Holder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.occupying[key] = hs
}

func (f *fakeKind) setWaiting(key Key, hs ...Holder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waiting[key] = hs
}

func (f *fakeKind) wake(n types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.woken = append(f.woken, n)
}

func holder(kind, name string, queued time.Duration) Holder {
	return Holder{Kind: kind, UID: types.UID(kind + "-" + name), Queued: t0.Add(queued),
		Name: types.NamespacedName{Namespace: "shop", Name: name}}
}

func newTestCoordinator() (*Coordinator, *clocktesting.FakeClock, *fakeKind, *fakeKind) {
	clk := clocktesting.NewFakeClock(t0)
	c := New(Options{Clock: clk, Budget: dcs.NewLimiter(0, 0)})
	backups, restores := newFakeKind(), newFakeKind()
	c.Register("DCSBackup", backups, backups.wake)
	c.Register("DCSRestore", restores, restores.wake)
	return c, clk, backups, restores
}

func track(c *Coordinator, hs ...Holder) {
	for _, h := range hs {
		c.Track(h.Object(), h.UID, inst)
	}
}

func TestTurnsAcrossKinds(t *testing.T) {
	ctx := context.Background()
	c, _, backups, restores := newTestCoordinator()
	running := holder("DCSBackup", "nightly", 0)
	restore := holder("DCSRestore", "rollback", time.Second)
	track(c, running, restore)

	// A backup of the instance runs (its status says so): a restore waits.
	backups.setOccupying(inst, running)
	got, ok, err := c.Acquire(ctx, inst, restore)
	if err != nil || ok || got != running {
		t.Fatalf("restore while a backup runs: got %v %v %v, want the backup holding it", got, ok, err)
	}
	// The backup ended: the restore gets the instance.
	backups.setOccupying(inst)
	if got, ok, err = c.Acquire(ctx, inst, restore); err != nil || !ok || got != restore {
		t.Fatalf("restore after the backup: got %v %v %v, want the turn", got, ok, err)
	}
	// Before the restore's status write reaches the cache, a new backup is
	// still kept out by the in-memory holder...
	restores.setGranted(restore.UID, true)
	next := holder("DCSBackup", "scheduled", 2*time.Second)
	track(c, next)
	if got, ok, _ = c.Acquire(ctx, inst, next); ok || got != restore {
		t.Fatalf("backup right after the restore's grant: got %v %v, want the restore holding it", got, ok)
	}
	// ... and by the restore's status once the cache shows it.
	restores.setGranted(restore.UID, false)
	restores.setOccupying(inst, restore)
	if got, ok, _ = c.Acquire(ctx, inst, next); ok || got != restore {
		t.Fatalf("backup while the restore runs: got %v %v, want the restore holding it", got, ok)
	}
	// The holder asking again keeps its turn.
	if _, ok, _ = c.Acquire(ctx, inst, restore); !ok {
		t.Fatal("the holder asking again: want the turn")
	}
	// The restore ended and released: the backup goes.
	restores.setOccupying(inst)
	c.Release(inst, restore.UID)
	if _, ok, _ = c.Acquire(ctx, inst, next); !ok {
		t.Fatal("backup after the restore: want the turn")
	}
}

func TestAStaleInMemoryHolderDoesNotBlock(t *testing.T) {
	ctx := context.Background()
	c, _, _, _ := newTestCoordinator()
	gone := holder("DCSBackup", "deleted", 0)
	other := holder("DCSRestore", "rollback", time.Second)
	track(c, gone, other)
	if _, ok, _ := c.Acquire(ctx, inst, gone); !ok {
		t.Fatal("first acquire: want the turn")
	}
	// The holder was deleted before its intent reached the cache: nothing
	// occupies the instance any more.
	if _, ok, _ := c.Acquire(ctx, inst, other); !ok {
		t.Fatal("after the holder vanished: want the turn")
	}
}

func TestFreedWakesTheLongestWaitingObjectOfAnyKind(t *testing.T) {
	ctx := context.Background()
	c, _, backups, restores := newTestCoordinator()
	backups.setWaiting(inst, holder("DCSBackup", "b-late", 5*time.Second), holder("DCSBackup", "b-early", 2*time.Second))
	restores.setWaiting(inst, holder("DCSRestore", "r", 3*time.Second))
	if err := c.Freed(ctx, inst); err != nil {
		t.Fatal(err)
	}
	if len(backups.woken) != 1 || backups.woken[0].Name != "b-early" || len(restores.woken) != 0 {
		t.Fatalf("woken backups %v, restores %v; want only b-early", backups.woken, restores.woken)
	}
	backups.setWaiting(inst)
	if err := c.Freed(ctx, inst); err != nil {
		t.Fatal(err)
	}
	if len(restores.woken) != 1 || restores.woken[0].Name != "r" {
		t.Fatalf("woken restores %v; want r once no backup waits", restores.woken)
	}
	restores.setWaiting(inst)
	if err := c.Freed(ctx, inst); err != nil {
		t.Fatal(err)
	}
	if len(backups.woken)+len(restores.woken) != 2 {
		t.Fatal("nothing waits: nothing more must be woken")
	}
}

type failingKind struct{ *fakeKind }

func (failingKind) Occupying(context.Context, Key) ([]Holder, error) {
	return nil, errors.New("cache not synced")
}

func TestAcquireReportsACacheError(t *testing.T) {
	c, _, _, _ := newTestCoordinator()
	c.Register("DCSRestore", failingKind{newFakeKind()}, func(types.NamespacedName) {})
	if _, ok, err := c.Acquire(context.Background(), inst, holder("DCSBackup", "b", 0)); err == nil || ok {
		t.Fatalf("got ok=%v err=%v, want the cache error and no turn", ok, err)
	}
}

func TestForgetDropsObjectsAndTheirInstances(t *testing.T) {
	c, _, _, _ := newTestCoordinator()
	a, b := holder("DCSBackup", "a", 0), holder("DCSBackup", "b", 0)
	other := Key{Endpoint: inst.Endpoint, Project: inst.Project, ID: "i-2"}
	c.Track(a.Object(), a.UID, inst)
	c.Track(b.Object(), b.UID, inst, other)
	c.ObserveDuration(inst, 10*time.Second)
	c.Failed(a.Object(), a.UID)
	if objs, insts := c.Tracked(); objs != 2 || insts != 2 {
		t.Fatalf("tracked %d objects, %d instances; want 2, 2", objs, insts)
	}
	c.Forget(b.Object())
	if objs, insts := c.Tracked(); objs != 1 || insts != 1 {
		t.Fatalf("after forgetting b: %d objects, %d instances; want 1, 1", objs, insts)
	}
	if c.ExpectedDuration(inst) != 10*time.Second {
		t.Fatal("an instance still referred to must keep what was learned")
	}
	c.Forget(a.Object())
	if objs, insts := c.Tracked(); objs != 0 || insts != 0 {
		t.Fatalf("after forgetting everything: %d objects, %d instances; want none", objs, insts)
	}
	if c.ExpectedDuration(inst) != 0 {
		t.Fatal("a forgotten instance must have no learned duration")
	}
	// An object moving to other instances stops keeping the old ones.
	c.Track(a.Object(), a.UID, inst)
	c.Track(a.Object(), a.UID, other)
	if _, insts := c.Tracked(); insts != 1 {
		t.Fatalf("after re-tracking: %d instances, want 1", insts)
	}
}

func TestFailuresCountInARowAndReset(t *testing.T) {
	c, _, _, _ := newTestCoordinator()
	a := holder("DCSBackup", "a", 0)
	track(c, a)
	for want := 1; want <= 3; want++ {
		if got := c.Failed(a.Object(), a.UID); got != want {
			t.Fatalf("failure %d: got count %d", want, got)
		}
	}
	c.Succeeded(a.Object())
	if got := c.Failed(a.Object(), a.UID); got != 1 {
		t.Fatalf("after a success: got count %d, want 1", got)
	}
	// The same name re-created is another object: it starts from zero.
	if got := c.Failed(a.Object(), "new-uid"); got != 1 {
		t.Fatalf("re-created object: got count %d, want 1", got)
	}
}

func TestFailingSinceIsTheFirstFailureInARow(t *testing.T) {
	c, clk, _, _ := newTestCoordinator()
	a := holder("DCSBackup", "a", 0)
	track(c, a)
	if got := c.FailingSince(a.Object()); !got.IsZero() {
		t.Fatalf("before any failure: %s, want zero", got)
	}
	first := clk.Now()
	c.Failed(a.Object(), a.UID)
	clk.Step(time.Minute)
	c.Failed(a.Object(), a.UID)
	if got := c.FailingSince(a.Object()); !got.Equal(first) {
		t.Fatalf("after two failures: %s, want the first's %s", got, first)
	}
	c.Succeeded(a.Object())
	if got := c.FailingSince(a.Object()); !got.IsZero() {
		t.Fatalf("after a success: %s, want zero", got)
	}
	c.Failed(a.Object(), a.UID)
	if got := c.FailingSince(a.Object()); !got.Equal(clk.Now()) {
		t.Fatalf("a new row: %s, want %s", got, clk.Now())
	}
}

func TestStartedAtRefinesOnlyTheSameStart(t *testing.T) {
	c, _, _, _ := newTestCoordinator()
	a := holder("DCSBackup", "a", 0)
	track(c, a)
	precise := t0.Add(1234 * time.Millisecond)
	c.MarkStarted(a.Object(), a.UID, precise)
	recorded := precise.Truncate(time.Second)
	if got := c.StartedAt(a.Object(), a.UID, recorded); !got.Equal(precise) {
		t.Fatalf("got %v, want the precise start %v", got, precise)
	}
	if got := c.StartedAt(a.Object(), a.UID, recorded.Add(time.Minute)); !got.Equal(recorded.Add(time.Minute)) {
		t.Fatalf("another start: got %v, want the recorded one", got)
	}
	c.ClearStarted(a.Object())
	if got := c.StartedAt(a.Object(), a.UID, recorded); !got.Equal(recorded) {
		t.Fatalf("after clearing: got %v, want the recorded start", got)
	}
}

func TestDurationsAverageNewSamplesByHalf(t *testing.T) {
	c, _, _, _ := newTestCoordinator()
	track(c, holder("DCSBackup", "a", 0))
	c.ObserveDuration(inst, 0) // unusable sample
	c.ObserveDuration(inst, 10*time.Second)
	c.ObserveDuration(inst, 20*time.Second)
	if got := c.ExpectedDuration(inst); got != 15*time.Second {
		t.Fatalf("got %v, want 15s", got)
	}
}

func TestHoldOffEndsWithTimeOrWhenCleared(t *testing.T) {
	c, clk, _, _ := newTestCoordinator()
	track(c, holder("DCSBackup", "a", 0))
	c.HoldOff(inst, 10*time.Second)
	c.HoldOff(inst, 5*time.Second) // a shorter hold-off does not shorten it
	if got := c.HeldOff(inst); got != 10*time.Second {
		t.Fatalf("got %v, want 10s", got)
	}
	clk.Step(4 * time.Second)
	if got := c.HeldOff(inst); got != 6*time.Second {
		t.Fatalf("after 4s: got %v, want 6s", got)
	}
	clk.Step(6 * time.Second)
	if got := c.HeldOff(inst); got != 0 {
		t.Fatalf("after 10s: got %v, want 0", got)
	}
	c.HoldOff(inst, time.Minute)
	c.ClearHoldOff(inst)
	if got := c.HeldOff(inst); got != 0 {
		t.Fatalf("cleared: got %v, want 0", got)
	}
}

func TestSharedListsOneCallPerRound(t *testing.T) {
	ctx := context.Background()
	c, clk, _, _ := newTestCoordinator()
	track(c, holder("DCSBackup", "a", 0))
	var calls atomic.Int32
	entered, release := make(chan struct{}, 8), make(chan struct{})
	list := func(ctx context.Context) ([]dcs.Restore, error) {
		calls.Add(1)
		entered <- struct{}{}
		<-release
		return []dcs.Restore{{ID: "r1"}}, ctx.Err()
	}
	// Concurrent readers of one instance wait for a single call; readers
	// that come after it ended find its result fresh.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if items, _, err := c.Restores(ctx, inst, time.Minute, list); err != nil || len(items) != 1 {
				t.Errorf("got %v, %v", items, err)
			}
		}()
	}
	<-entered
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls for 8 concurrent readers, want 1", n)
	}
	// Fresh enough: no call; stale: one call.
	clk.Step(30 * time.Second)
	if _, at, _ := c.Restores(ctx, inst, time.Minute, list); !at.Equal(t0) || calls.Load() != 1 {
		t.Fatalf("read at %v after %d calls; want the cached read of t0", at, calls.Load())
	}
	clk.Step(31 * time.Second)
	if _, at, _ := c.Restores(ctx, inst, time.Minute, list); !at.Equal(t0.Add(61*time.Second)) || calls.Load() != 2 {
		t.Fatalf("read at %v after %d calls; want a new read", at, calls.Load())
	}
	// A failed call caches nothing.
	failing := func(context.Context) ([]dcs.Backup, error) { return nil, errors.New("HTTP 500") }
	if _, _, err := c.Records(ctx, inst, time.Hour, failing); err == nil {
		t.Fatal("want the list error")
	}
	records := func(context.Context) ([]dcs.Backup, error) { return []dcs.Backup{{ID: "b1"}}, nil }
	if items, _, err := c.Records(ctx, inst, time.Hour, records); err != nil || len(items) != 1 {
		t.Fatalf("got %v, %v; want the records", items, err)
	}
	c.InvalidateRecords(inst)
	var again bool
	if _, _, err := c.Records(ctx, inst, time.Hour, func(context.Context) ([]dcs.Backup, error) {
		again = true
		return nil, nil
	}); err != nil || !again {
		t.Fatal("after invalidating, the records must be read again")
	}
}
