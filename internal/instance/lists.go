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
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// Lister reads one of an instance's lists from DCS.
type Lister[T any] func(context.Context) ([]T, error)

// Restores returns the instance's restore records, read at most maxAge
// ago, and when they were read; list reads them anew when needed. Every
// object of an instance (its backups, its schedule, restores into it)
// shares the one list, and concurrent callers wait for a single call, so an
// instance costs one call per poll round whatever the number of objects.
func (c *Coordinator) Restores(ctx context.Context, key Key, maxAge time.Duration,
	list Lister[dcs.Restore]) ([]dcs.Restore, time.Time, error) {
	return shared(ctx, c, key, "restores", maxAge, list,
		func(st *instanceState) *listEntry[dcs.Restore] { return &st.restores })
}

// Records returns the instance's backup records like Restores.
func (c *Coordinator) Records(ctx context.Context, key Key, maxAge time.Duration,
	list Lister[dcs.Backup]) ([]dcs.Backup, time.Time, error) {
	return shared(ctx, c, key, "records", maxAge, list,
		func(st *instanceState) *listEntry[dcs.Backup] { return &st.records })
}

// InvalidateRecords drops the instance's backup records after the operator
// changed them (a new backup, a deletion).
func (c *Coordinator) InvalidateRecords(key Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.instances[key]; ok {
		st.records = listEntry[dcs.Backup]{}
	}
}

func shared[T any](ctx context.Context, c *Coordinator, key Key, name string, maxAge time.Duration,
	list Lister[T], entryOf func(*instanceState) *listEntry[T]) ([]T, time.Time, error) {
	now := c.clock.Now()
	cached := func() (listEntry[T], bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if st, ok := c.instances[key]; ok {
			if e := *entryOf(st); e.valid && now.Sub(e.at) < maxAge {
				return e, true
			}
		}
		return listEntry[T]{}, false
	}
	if e, ok := cached(); ok {
		return e.items, e.at, nil
	}
	v, err, _ := c.lists.Do(name+"/"+key.String(), func() (any, error) {
		// A call that ended between the look above and this one left a
		// result fresh enough: use it rather than call again.
		if e, ok := cached(); ok {
			return e, nil
		}
		items, err := list(ctx)
		if err != nil {
			return nil, err
		}
		entry := listEntry[T]{valid: true, at: now, items: items}
		c.mu.Lock()
		// The instance may have been forgotten while the call ran: keep
		// the result only for an instance still referred to.
		if st, ok := c.instances[key]; ok {
			*entryOf(st) = entry
		}
		c.mu.Unlock()
		// Whoever read the list, the objects that show it learn of a
		// change now.
		c.noteChange(key)
		return entry, nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	entry := v.(listEntry[T])
	return entry.items, entry.at, nil
}
