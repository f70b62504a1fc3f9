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
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Poll timing of running backups. A list call costs the same whether it sees
// the backup finished or not, so the aim is to poll once, just after the
// backup is expected to finish: from the duration of earlier backups of the
// instance when known, else from the progress DCS reports.
const (
	// minPoll keeps a backup that is about to finish from being polled in a
	// tight loop.
	minPoll = 500 * time.Millisecond
	// firstPoll is the first look at a backup of an instance with no
	// history: DCS backups of small instances take seconds.
	firstPoll = time.Second
	// maxActivePoll bounds the wait between two polls of a running backup,
	// so a stalled estimate never hides progress for long.
	maxActivePoll = time.Minute
	// progressPoll is the shortest interval at which a long backup's
	// progress is refreshed.
	progressPoll = 5 * time.Second
	// pollSlack is added to an estimated finish so that the poll lands
	// after it, not just before. The estimate is timed from the create
	// intent, written before the create call, so the poll has the call's
	// latency as slack on top.
	pollSlack = 100 * time.Millisecond
	// pollJitter spreads polls of backups expected to end at the same
	// moment (a fleet started by one schedule). It only delays, and every
	// hundredth of the backup's duration is status lag, so it is small:
	// the client-side rate limit, not the jitter, keeps a burst of polls
	// within the gateway's limits.
	pollJitter = 0.02
)

// activePollDelay returns how long to wait before polling a running backup
// again.
//
//   - elapsed is the time since the operator asked DCS for the backup (or,
//     for adopted backups, since DCS created it);
//   - running is the part of elapsed since DCS started writing the backup
//     (its execution_at), 0 when unknown;
//   - progress is DCS's progress in percent ("42.50"), "" or "0.00" while
//     the backup waits to start;
//   - expected is the typical duration of a backup of this instance, 0 when
//     unknown.
func activePollDelay(elapsed, running time.Duration, progress string, expected time.Duration) time.Duration {
	p := parseProgress(progress)
	var d time.Duration
	switch {
	case expected > 0 && elapsed < expected:
		// History says when it will be done: look right after that.
		d = expected - elapsed + pollSlack
	case p > 0 && p < 100 && elapsed > 0:
		// Extrapolate linearly from the progress so far. Progress only
		// moves once DCS writes the backup: the time it sat queued
		// (status waiting) would make the estimate late by as much, so
		// the rate is taken over the writing time when DCS tells it. That
		// puts the second look at the first backup of an instance (no
		// history yet) just after it ends, instead of a second later.
		base := elapsed
		if running > 0 && running < elapsed {
			base = running
		}
		remaining := time.Duration(float64(base) * (100 - p) / p)
		d = remaining + remaining/20 + pollSlack
	case elapsed < firstPoll:
		d = firstPoll - elapsed
	default:
		// Still waiting to start, or running past the estimate with no
		// usable progress: back off with the age of the backup.
		d = elapsed / 4
	}
	// However far off the estimate, a long backup still shows progress:
	// young backups are looked at every few seconds, older ones less often.
	d = min(d, clampDuration(elapsed/2, progressPoll, maxActivePoll))
	return clampDuration(d, minPoll, maxActivePoll)
}

// parseProgress reads DCS's progress string; anything unreadable is 0.
func parseProgress(s string) float64 {
	p, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(p) || p < 0 {
		return 0
	}
	return math.Min(p, 100)
}

func clampDuration(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}

// jitter adds up to frac of d, so that many objects due at the same moment
// spread out instead of hitting DCS in one burst. It only ever delays:
// polling early would waste a call.
func jitter(d time.Duration, frac float64) time.Duration {
	if d <= 0 || frac <= 0 {
		return d
	}
	return d + time.Duration(rand.Float64()*frac*float64(d)) //nolint:gosec // timing jitter, not security
}

// waitingDelay is the safety net of a backup waiting for its turn on an
// instance (see waitingRequeue): the backup ahead wakes the next in line
// when it ends, so this only covers a lost wake-up. It grows with the time
// the backup has waited, so that a long queue costs a few passes per
// backup, not one per waiting backup every 30 seconds (which grows with
// the square of the queue), and is jittered, so that a queue created at
// once does not wake at once.
func waitingDelay(waited time.Duration) time.Duration {
	return jitter(clampDuration(waited/2, waitingRequeue, maxWaitingRequeue), 0.1)
}

// errorBackoff is the wait after the n-th consecutive failure (n >= 1):
// exponential from base, capped at limit, with jitter.
func errorBackoff(n int, base, limit time.Duration) time.Duration {
	if n < 1 {
		n = 1
	}
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return jitter(clampDuration(d, base, limit), 0.2)
}
