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
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// jumpClock is real time plus an offset that a spec can move: time runs at
// its normal pace (backups in the simulator take real seconds, RequeueAfter
// waits real time), but a spec can jump days ahead to a DST change or past
// an outage. The manager, the DCS client's signer and the simulators of the
// suite share it, so signatures and lifecycles stay in one time line.
type jumpClock struct {
	clock.RealClock

	mu     sync.Mutex
	offset time.Duration
}

var _ clock.Clock = (*jumpClock)(nil)

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *jumpClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// jumpTo moves the clock so that it now reads t.
func (c *jumpClock) jumpTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = time.Until(t)
}

// reset returns the clock to real time.
func (c *jumpClock) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = 0
}
