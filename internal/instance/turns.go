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
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Holder is an object that occupies, or waits for, an instance.
type Holder struct {
	Kind string
	UID  types.UID
	Name types.NamespacedName
	// Queued orders waiting objects, first come first served, across
	// kinds: the object's creation time.
	Queued time.Time
}

// Object is the holder's object.
func (h Holder) Object() Object { return Object{Kind: h.Kind, NamespacedName: h.Name} }

// String is "Kind namespace/name", for messages and events.
func (h Holder) String() string { return h.Kind + " " + h.Name.String() }

// Occupants answers, for one kind, from that kind's informer cache, which
// of its objects occupy an instance and which wait for it.
//
// An object occupies its instance from the moment it records the intent to
// start a DCS operation until the operation ends; that is derived from its
// status, so whose turn it is survives restarts without any record here.
type Occupants interface {
	// Occupying lists the objects of the kind that occupy the instance.
	Occupying(ctx context.Context, key Key) ([]Holder, error)
	// Waiting lists the objects of the kind that were turned away and wait
	// for the instance to come free.
	Waiting(ctx context.Context, key Key) ([]Holder, error)
	// StillOccupies reports whether h (same UID) still occupies its
	// instance: it exists and its operation has not ended.
	StillOccupies(ctx context.Context, h Holder) (bool, error)
}

// kind is a registered kind: where its occupants are, and how to wake one
// of its objects.
type kind struct {
	occupants Occupants
	wake      func(types.NamespacedName)
}

// Register makes a kind known: occupants answers for its objects in the
// turns (nil: the kind takes no turns), and wake enqueues one of them (it
// must not block) when it is next in line or its instance's lists changed
// for it.
func (c *Coordinator) Register(name string, occupants Occupants, wake func(types.NamespacedName)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kinds[name] = kind{occupants: occupants, wake: wake}
}

// registered returns the kinds that take turns on instances (those with
// occupants; kinds registered only to be woken take none).
func (c *Coordinator) registered() []kind {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]kind, 0, len(c.kinds))
	for _, k := range c.kinds {
		if k.occupants != nil {
			out = append(out, k)
		}
	}
	return out
}

// Acquire gives the instance to self unless another object, of any kind,
// occupies it; then it returns that object and false. DCS runs one
// operation per instance and answers a second one with DCS.4096/4097, so
// every kind asks here before it asks DCS.
//
// Acquires are serialised (the check and the grant must not interleave;
// the cache reads they make are in memory and short). Between a grant and
// the holder's status write reaching the cache, the in-memory holder is
// what keeps a second object out.
func (c *Coordinator) Acquire(ctx context.Context, key Key, self Holder) (Holder, bool, error) {
	c.acquireMu.Lock()
	defer c.acquireMu.Unlock()

	if h, ok := c.memoryHolder(key); ok && h.UID != self.UID {
		k, found := c.kindOf(h.Kind)
		if !found {
			return h, false, fmt.Errorf("instance %s: holder of unregistered kind %q", key.ID, h.Kind)
		}
		holds, err := k.occupants.StillOccupies(ctx, h)
		if err != nil {
			return h, false, err
		}
		if holds {
			return h, false, nil
		}
		c.clearMemoryHolder(key, h.UID)
	}
	for _, k := range c.registered() {
		occupying, err := k.occupants.Occupying(ctx, key)
		if err != nil {
			return Holder{}, false, err
		}
		for _, h := range occupying {
			if h.UID != self.UID {
				return h, false, nil
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h := self
	c.instanceLocked(key).holder = &h
	return self, true, nil
}

// Release frees the instance if uid holds it in memory. The occupant's own
// status is what frees it for good; Release only ends the in-memory cover.
func (c *Coordinator) Release(key Key, uid types.UID) {
	c.clearMemoryHolder(key, uid)
}

// Freed is called when an occupant of key stopped occupying it, as the
// informer cache shows (so the next object reads a cache that agrees): it
// wakes the object that has waited longest, of any kind. Only one can take
// the turn; waking every waiting object at each hand-over would cost a
// number of passes that grows with the square of the queue.
func (c *Coordinator) Freed(ctx context.Context, key Key) error {
	var next *Holder
	var wake func(types.NamespacedName)
	for _, k := range c.registered() {
		waiting, err := k.occupants.Waiting(ctx, key)
		if err != nil {
			return err
		}
		for i := range waiting {
			if next == nil || queuedBefore(waiting[i], *next) {
				next, wake = &waiting[i], k.wake
			}
		}
	}
	if next != nil {
		wake(next.Name)
	}
	return nil
}

// queuedBefore orders waiting objects first come, first served, with the
// name as a tie-breaker so that the order is stable.
func queuedBefore(a, b Holder) bool {
	if !a.Queued.Equal(b.Queued) {
		return a.Queued.Before(b.Queued)
	}
	if a.Name.Namespace != b.Name.Namespace {
		return a.Name.Namespace < b.Name.Namespace
	}
	if a.Name.Name != b.Name.Name {
		return a.Name.Name < b.Name.Name
	}
	return a.Kind < b.Kind
}

func (c *Coordinator) kindOf(name string) (kind, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.kinds[name]
	return k, ok
}

func (c *Coordinator) memoryHolder(key Key) (Holder, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.instances[key]; ok && st.holder != nil {
		return *st.holder, true
	}
	return Holder{}, false
}

func (c *Coordinator) clearMemoryHolder(key Key, uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.instances[key]; ok && st.holder != nil && st.holder.UID == uid {
		st.holder = nil
	}
}
