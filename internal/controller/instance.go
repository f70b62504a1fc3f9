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
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/types"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// instanceKey identifies one DCS instance across resources: the same
// instance ID behind another endpoint or project is another instance.
type instanceKey string

// instanceKeyFor is the instance a backup spec (or a schedule's template)
// names. An endpoint the operator refuses (plain http) still makes a key: the
// key groups resources, and the connector reports the refusal.
func instanceKeyFor(spec backupv1alpha1.DCSBackupTemplateSpec) instanceKey {
	conn := spec.Connection
	endpoint, err := ResolveEndpoint(conn, true)
	if err != nil {
		endpoint = conn.Endpoint
	}
	return instanceKey(endpoint + "|" + conn.ProjectID + "|" + spec.InstanceID)
}

// turns serialises backups per DCS instance: DCS runs one operation per
// instance at a time and answers DCS.4096 to a second one, so a backup waits
// for its turn here instead of hammering the API.
//
// The holder of an instance is derived from the resources themselves (a
// backup with a create intent or a backup ID that has not finished holds its
// instance), so it survives restarts. The map only covers the moment between
// a status write and the cache seeing it.
type turns struct {
	mu     sync.Mutex
	holder map[instanceKey]turnHolder
}

type turnHolder struct {
	uid  types.UID
	name types.NamespacedName
}

func newTurns() *turns {
	return &turns{holder: map[instanceKey]turnHolder{}}
}

// siblingState answers, from the cache, whether another backup of the same
// instance holds it. stillHolds reports whether the named backup still
// exists and has not finished.
type siblingState interface {
	activeSibling(ctx context.Context, key instanceKey, self types.UID) (turnHolder, bool, error)
	stillHolds(ctx context.Context, h turnHolder) (bool, error)
}

// acquire gives the instance to self unless another backup holds it, in
// which case it returns that backup.
func (t *turns) acquire(ctx context.Context, key instanceKey, self turnHolder, s siblingState) (turnHolder, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.holder[key]; ok && h.uid != self.uid {
		holds, err := s.stillHolds(ctx, h)
		if err != nil {
			return h, false, err
		}
		if holds {
			return h, false, nil
		}
		delete(t.holder, key)
	}
	other, found, err := s.activeSibling(ctx, key, self.uid)
	if err != nil || found {
		return other, false, err
	}
	t.holder[key] = self
	return self, true, nil
}

// release frees the instance if uid holds it.
func (t *turns) release(key instanceKey, uid types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.holder[key]; ok && h.uid == uid {
		delete(t.holder, key)
	}
}

// durations learns how long backups of an instance take, from DCS's own
// created_at and updated_at, so the first poll of the next backup lands just
// after it is expected to finish.
type durations struct {
	mu sync.Mutex
	m  map[instanceKey]time.Duration
}

func newDurations() *durations { return &durations{m: map[instanceKey]time.Duration{}} }

func (d *durations) expected(key instanceKey) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[key]
}

// observe folds one finished backup's duration into an exponentially
// weighted average (new samples weigh 1/2: backups of one instance take
// about as long as the last few did).
func (d *durations) observe(key instanceKey, took time.Duration) {
	if took <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.m[key]; ok {
		took = (old + took) / 2
	}
	d.m[key] = took
}

// listCache lets every resource of an instance share one list call per poll
// round: finished backups re-read the restore records (and, rarely, their
// own record) and would otherwise cost one call each. Concurrent callers of
// one instance wait for a single call.
type listCache[T any] struct {
	mu      sync.Mutex
	entries map[instanceKey]listEntry[T]
	firstAt map[instanceKey]time.Time
	group   singleflight.Group
}

type listEntry[T any] struct {
	at    time.Time
	items []T
}

func newListCache[T any]() *listCache[T] {
	return &listCache[T]{entries: map[instanceKey]listEntry[T]{}, firstAt: map[instanceKey]time.Time{}}
}

// startupSpread returns how long to wait before the first read of an
// instance's records after the process started. A restarted manager visits
// every finished backup and schedule at once; reading every instance's lists
// in that first wave would queue the running backups' polls behind hundreds
// of calls. So during the first interval after start, the first read of each
// instance is put off to a random moment within that interval; later reads
// (and every read after the first interval) are not delayed.
func (c *listCache[T]) startupSpread(key instanceKey, now, started time.Time, interval time.Duration) time.Duration {
	if interval <= 0 || now.Sub(started) >= interval {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, read := c.entries[key]; read {
		return 0
	}
	at, ok := c.firstAt[key]
	if !ok {
		at = started.Add(time.Duration(rand.Int64N(int64(interval)))) //nolint:gosec // load spreading, not security
		c.firstAt[key] = at
	}
	return max(0, at.Sub(now))
}

// get returns the instance's records, read at most maxAge before now, and
// when they were read; list reads them anew when needed.
func (c *listCache[T]) get(ctx context.Context, key instanceKey, now time.Time, maxAge time.Duration,
	list func(context.Context) ([]T, error)) ([]T, time.Time, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < maxAge {
		return e.items, e.at, nil
	}
	v, err, _ := c.group.Do(string(key), func() (any, error) {
		items, err := list(ctx)
		if err != nil {
			return nil, err
		}
		entry := listEntry[T]{at: now, items: items}
		c.mu.Lock()
		c.entries[key] = entry
		c.mu.Unlock()
		return entry, nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	entry := v.(listEntry[T])
	return entry.items, entry.at, nil
}

// invalidate drops what is known of an instance, after the operator changed
// it (a new backup, a deletion).
func (c *listCache[T]) invalidate(key instanceKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}
