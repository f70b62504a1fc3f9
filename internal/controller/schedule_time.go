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
	"fmt"
	"strings"
	"time"

	// The IANA time zone database is compiled in, so schedules work in
	// images without /usr/share/zoneinfo (distroless) and in tests.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// cronParser reads the five standard fields and the @-macros (@daily,
// @hourly, ..., @every 1h), like the Kubernetes CronJob.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// scheduleError is a schedule or time zone that cannot be used; Reason is
// the Ready condition reason.
type scheduleError struct {
	Reason  string
	Message string
}

func (e *scheduleError) Error() string { return e.Message }

// cronSchedule is a parsed schedule in its time zone.
type cronSchedule struct {
	sched cron.Schedule
	loc   *time.Location
}

// parseSchedule parses spec.schedule in spec.timeZone (UTC when unset); now
// is the controller's time, from which the schedule must fire at least once
// in five years.
func parseSchedule(spec, timeZone string, now time.Time) (*cronSchedule, error) {
	trimmed := strings.TrimSpace(spec)
	if strings.HasPrefix(trimmed, "CRON_TZ=") || strings.HasPrefix(trimmed, "TZ=") {
		return nil, &scheduleError{Reason: backupv1alpha1.ReasonInvalidSchedule,
			Message: fmt.Sprintf("spec.schedule %q: CRON_TZ= and TZ= prefixes are not supported; set spec.timeZone instead", spec)}
	}
	loc := time.UTC
	if timeZone != "" {
		l, err := time.LoadLocation(timeZone)
		if err != nil || strings.EqualFold(timeZone, "Local") {
			return nil, &scheduleError{Reason: backupv1alpha1.ReasonInvalidTimeZone,
				Message: fmt.Sprintf("spec.timeZone %q is not an IANA time zone name (for example Europe/Berlin)", timeZone)}
		}
		loc = l
	}
	sched, err := cronParser.Parse(trimmed)
	if err != nil {
		return nil, &scheduleError{Reason: backupv1alpha1.ReasonInvalidSchedule,
			Message: fmt.Sprintf("spec.schedule %q is not a valid cron schedule: %v", spec, err)}
	}
	if s, ok := sched.(*cron.SpecSchedule); ok {
		// The parser defaults to the process's local zone; the schedule's
		// own zone makes Next DST-correct in it.
		s.Location = loc
	}
	cs := &cronSchedule{sched: sched, loc: loc}
	if cs.next(now).IsZero() {
		return nil, &scheduleError{Reason: backupv1alpha1.ReasonInvalidSchedule,
			Message: fmt.Sprintf("spec.schedule %q never fires (no time matches it in the next five years)", spec)}
	}
	return cs, nil
}

// next returns the first slot strictly after t, or zero if none within five
// years.
//
// A wall-clock time that a spring-forward DST change skips (02:30 in
// Europe/Berlin on the last Sunday of March) does not exist, and the cron
// library would silently skip that day's run, as the Kubernetes CronJob does.
// A backup should not be lost to a clock change: like Vixie cron, such a
// run happens at the first instant after the change (03:00 local). An
// autumn change repeats an hour; a run in it happens once, the first time.
func (c *cronSchedule) next(t time.Time) time.Time {
	n := c.sched.Next(t)
	spec, ok := c.sched.(*cron.SpecSchedule)
	if !ok || n.IsZero() {
		return n
	}
	if g, ok := c.skippedByDST(spec, t, n); ok {
		return g
	}
	for !n.IsZero() && c.repeatedByDST(spec, n) {
		n = c.sched.Next(n)
	}
	return n
}

// cronStarBit marks a field written as "*" in the cron library's bit sets.
const cronStarBit = 1 << 63

// repeatedByDST reports whether n is the second occurrence of a wall-clock
// time that an autumn DST change repeated (02:30 CET after 02:30 CEST). A
// schedule with fixed hours runs once then; one with every hour ("0 * * * *")
// keeps running hourly in real time.
func (c *cronSchedule) repeatedByDST(spec *cron.SpecSchedule, n time.Time) bool {
	if spec.Hour&cronStarBit != 0 {
		return false
	}
	change, _ := n.In(c.loc).ZoneBounds()
	if change.IsZero() {
		return false
	}
	_, after := n.In(c.loc).Zone()
	_, before := change.Add(-time.Second).In(c.loc).Zone()
	overlap := time.Duration(before-after) * time.Second
	return overlap > 0 && n.Before(change.Add(overlap))
}

// skippedByDST looks at the DST changes between t and n: if one skipped a
// wall-clock time the schedule names, it returns the instant of that change.
func (c *cronSchedule) skippedByDST(spec *cron.SpecSchedule, t, n time.Time) (time.Time, bool) {
	for from := t; ; {
		_, change := from.In(c.loc).ZoneBounds()
		if change.IsZero() || !change.Before(n) {
			return time.Time{}, false
		}
		_, before := from.In(c.loc).Zone()
		_, after := change.In(c.loc).Zone()
		if after > before {
			// Read the schedule in the offset before the change: a match in
			// [change, change+gap) is a wall-clock time that never came.
			fixed := *spec
			fixed.Location = time.FixedZone("", before)
			gap := time.Duration(after-before) * time.Second
			if m := fixed.Next(from); !m.Before(change) && m.Before(change.Add(gap)) {
				return change, true
			}
		}
		from = change
	}
}

// mostRecent returns the latest slot in (after, now], if any. It searches
// backwards from now in doubling windows, so a long outage costs a handful of
// steps instead of one per missed slot.
func (c *cronSchedule) mostRecent(after, now time.Time) (time.Time, bool) {
	if !now.After(after) {
		return time.Time{}, false
	}
	const maxWindow = 100 * 365 * 24 * time.Hour // far below the 292 years a Duration holds
	for window := time.Minute; ; window = min(2*window, maxWindow) {
		start := now.Add(-window)
		if !start.After(after) || window == maxWindow {
			start = after
		}
		t := c.next(start)
		if !t.IsZero() && !t.After(now) {
			for {
				n := c.next(t)
				if n.IsZero() || n.After(now) {
					return t, true
				}
				t = n
			}
		}
		if start.Equal(after) {
			return time.Time{}, false
		}
	}
}

// maxCountedMisses caps the count of missed slots reported in events.
const maxCountedMisses = 1000

// countSlots counts the slots in (after, before), up to maxCountedMisses.
func (c *cronSchedule) countSlots(after, before time.Time) int {
	n := 0
	for t := c.next(after); !t.IsZero() && t.Before(before) && n < maxCountedMisses; t = c.next(t) {
		n++
	}
	return n
}

// freshnessStart returns the beginning of the last two scheduled intervals
// before now: the second-latest slot at or before now. A successful backup
// since then keeps the schedule Fresh. ok is false while the schedule has
// not yet seen two slots since notBefore (its creation), so a new schedule
// is not overdue.
func (c *cronSchedule) freshnessStart(notBefore, now time.Time) (time.Time, bool) {
	latest, ok := c.mostRecent(notBefore, now)
	if !ok {
		return time.Time{}, false
	}
	prev, ok := c.mostRecent(notBefore, latest.Add(-time.Nanosecond))
	if !ok {
		return time.Time{}, false
	}
	return prev, true
}

// slotName is the child DCSBackup name for a slot: the schedule's name and
// the slot in UTC to the minute. The name makes creation idempotent: a retry
// or a restart finds the child instead of making a second one.
func slotName(schedule string, slot time.Time) string {
	return childName(schedule, slot.UTC().Format("200601021504"))
}

// childName joins the schedule name and a suffix, shortening the schedule
// name so the result stays a valid object name.
func childName(schedule, suffix string) string {
	return backupv1alpha1.ScheduleChildName(schedule, suffix)
}
