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
	"errors"
	"strings"
	"testing"
	"time"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

func mustParse(t *testing.T, spec, tz string) *cronSchedule {
	t.Helper()
	cs, err := parseSchedule(spec, tz, time.Now())
	if err != nil {
		t.Fatalf("parseSchedule(%q, %q): %v", spec, tz, err)
	}
	return cs
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Every slot of a daily 03:00 schedule in Europe/Berlin across both DST
// changes of 2027 lands at 03:00 Berlin wall-clock time, which is 02:00 UTC
// in winter and 01:00 UTC in summer.
func TestDailyScheduleAcrossBerlinDST(t *testing.T) {
	cs := mustParse(t, "0 3 * * *", "Europe/Berlin")
	want := []string{
		"2027-03-27T02:00:00Z", // CET, the day before the spring change
		"2027-03-28T01:00:00Z", // CEST: clocks went 02:00 -> 03:00 that night
		"2027-03-29T01:00:00Z",
	}
	assertSlots(t, cs, utc("2027-03-26T12:00:00Z"), want)
	want = []string{
		"2027-10-30T01:00:00Z", // CEST
		"2027-10-31T02:00:00Z", // CET: clocks went 03:00 -> 02:00 that night
		"2027-11-01T02:00:00Z",
	}
	assertSlots(t, cs, utc("2027-10-29T12:00:00Z"), want)

	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, s := range append(want, "2027-03-28T01:00:00Z") {
		if h := utc(s).In(berlin).Hour(); h != 3 {
			t.Errorf("slot %s is %d:00 in Berlin, want 3:00", s, h)
		}
	}
}

// A 02:30 schedule in Europe/Berlin: on the spring change 02:30 does not
// exist and the run happens at 03:00 CEST, right after the change, instead of
// being lost; on the autumn change 02:30 happens twice and the run happens
// once, at the first.
func TestScheduleInDSTGapAndOverlap(t *testing.T) {
	cs := mustParse(t, "30 2 * * *", "Europe/Berlin")
	assertSlots(t, cs, utc("2027-03-27T12:00:00Z"), []string{"2027-03-28T01:00:00Z",
		"2027-03-29T00:30:00Z"})
	assertSlots(t, cs, utc("2027-10-30T12:00:00Z"), []string{"2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"})

	// Several slots in the skipped hour make one run.
	quarter := mustParse(t, "*/15 2 * * *", "Europe/Berlin")
	assertSlots(t, quarter, utc("2027-03-27T23:00:00Z"), []string{"2027-03-28T01:00:00Z", "2027-03-29T00:00:00Z"})

	// Hourly schedules run every real hour through both changes.
	hourly := mustParse(t, "0 * * * *", "Europe/Berlin")
	assertSlots(t, hourly, utc("2027-03-28T00:30:00Z"), []string{"2027-03-28T01:00:00Z", "2027-03-28T02:00:00Z"})
	assertSlots(t, hourly, utc("2027-10-30T23:30:00Z"), []string{"2027-10-31T00:00:00Z", "2027-10-31T01:00:00Z",
		"2027-10-31T02:00:00Z"})
}

func assertSlots(t *testing.T, cs *cronSchedule, from time.Time, want []string) {
	t.Helper()
	at := from
	for _, w := range want {
		at = cs.next(at)
		if !at.Equal(utc(w)) {
			t.Fatalf("next slot after %s = %s, want %s", from, at.UTC().Format(time.RFC3339), w)
		}
	}
}

func TestParseScheduleErrors(t *testing.T) {
	cases := []struct {
		spec, tz, reason, mention string
	}{
		{"61 * * * *", "", backupv1alpha1.ReasonInvalidSchedule, "spec.schedule"},
		{"* * * *", "", backupv1alpha1.ReasonInvalidSchedule, "spec.schedule"},
		{"CRON_TZ=Europe/Berlin 0 3 * * *", "", backupv1alpha1.ReasonInvalidSchedule, "spec.timeZone"},
		{"  TZ=UTC 0 3 * * *", "", backupv1alpha1.ReasonInvalidSchedule, "spec.timeZone"},
		{"0 0 30 2 *", "", backupv1alpha1.ReasonInvalidSchedule, "never fires"},
		{"0 3 * * *", "Mars/Olympus_Mons", backupv1alpha1.ReasonInvalidTimeZone, "spec.timeZone"},
		{"0 3 * * *", "Local", backupv1alpha1.ReasonInvalidTimeZone, "spec.timeZone"},
	}
	for _, c := range cases {
		_, err := parseSchedule(c.spec, c.tz, time.Now())
		var se *scheduleError
		if !errors.As(err, &se) {
			t.Errorf("parseSchedule(%q, %q) = %v, want a scheduleError", c.spec, c.tz, err)
			continue
		}
		if se.Reason != c.reason || !strings.Contains(se.Message, c.mention) {
			t.Errorf("parseSchedule(%q, %q): reason %s message %q; want %s mentioning %q", c.spec, c.tz, se.Reason,
				se.Message, c.reason, c.mention)
		}
	}
	for _, ok := range []string{"@daily", "@hourly", "@weekly", "@every 90m", "*/15 * * * 1-5", "0 3 * * SUN"} {
		if _, err := parseSchedule(ok, "Europe/Berlin", time.Now()); err != nil {
			t.Errorf("parseSchedule(%q): %v", ok, err)
		}
	}
}

func TestMostRecentAfterLongOutage(t *testing.T) {
	cs := mustParse(t, "* * * * *", "")
	last := utc("2026-01-01T00:00:00Z")
	now := utc("2026-01-11T00:30:30Z") // ten days later
	slot, ok := cs.mostRecent(last, now)
	if !ok || !slot.Equal(utc("2026-01-11T00:30:00Z")) {
		t.Fatalf("mostRecent = %s %v, want 2026-01-11T00:30:00Z", slot, ok)
	}
	if n := cs.countSlots(last, slot); n != maxCountedMisses {
		t.Errorf("countSlots capped = %d, want %d", n, maxCountedMisses)
	}
	hourly := mustParse(t, "0 * * * *", "")
	if n := hourly.countSlots(last, utc("2026-01-11T00:00:00Z")); n != 239 {
		t.Errorf("hourly slots missed in ten days = %d, want 239", n)
	}
	if _, ok := cs.mostRecent(now, now); ok {
		t.Error("no slot is due in an empty interval")
	}
	yearly := mustParse(t, "@yearly", "")
	slot, ok = yearly.mostRecent(utc("2020-06-01T00:00:00Z"), utc("2026-03-01T00:00:00Z"))
	if !ok || !slot.Equal(utc("2026-01-01T00:00:00Z")) {
		t.Errorf("yearly mostRecent = %s %v", slot, ok)
	}
}

func TestFreshnessStart(t *testing.T) {
	cs := mustParse(t, "0 3 * * *", "UTC")
	created := utc("2026-01-01T10:00:00Z")
	if _, ok := cs.freshnessStart(created, utc("2026-01-02T04:00:00Z")); ok {
		t.Error("a schedule that has seen one slot is not yet judged")
	}
	start, ok := cs.freshnessStart(created, utc("2026-01-03T04:00:00Z"))
	if !ok || !start.Equal(utc("2026-01-02T03:00:00Z")) {
		t.Errorf("freshnessStart = %s %v, want 2026-01-02T03:00:00Z", start, ok)
	}
}

func TestSlotNames(t *testing.T) {
	if got := slotName("orders-nightly", utc("2027-03-28T01:00:00Z")); got != "orders-nightly-202703280100" {
		t.Errorf("slotName = %s", got)
	}
	long := strings.Repeat("a", 260)
	if got := childName(long, "202703280100"); len(got) > 253 || !strings.HasSuffix(got, "-202703280100") {
		t.Errorf("childName of a long schedule name = %d chars %q", len(got), got[len(got)-20:])
	}
}

// FuzzSchedule feeds arbitrary schedules and time zones through parsing and
// slot arithmetic: no panic, and slots always move forward.
func FuzzSchedule(f *testing.F) {
	for _, seed := range []struct{ spec, tz string }{
		{"0 3 * * *", "Europe/Berlin"}, {"30 2 * * *", "Europe/Berlin"}, {"*/15 2 * * *", "America/Sao_Paulo"},
		{"@daily", "Australia/Lord_Howe"}, {"@every 90m", ""}, {"0 0 29 2 *", "UTC"}, {"CRON_TZ=UTC 0 * * * *", ""},
		{"61 * * * *", ""}, {"0 3 * * *", "Mars/Base"}, {"", ""}, {"@every -1s", ""}, {"0 0 * * 7", "Asia/Tehran"},
	} {
		f.Add(seed.spec, seed.tz, int64(1795000000))
	}
	f.Fuzz(func(t *testing.T, spec, tz string, unix int64) {
		cs, err := parseSchedule(spec, tz, time.Now())
		if err != nil {
			return
		}
		now := time.Unix(unix%(1<<34), 0).UTC()
		n := cs.next(now)
		if !n.IsZero() && !n.After(now) {
			t.Fatalf("next(%s) = %s for %q in %q: not after", now, n, spec, tz)
		}
		if slot, ok := cs.mostRecent(now.Add(-48*time.Hour), now); ok && (slot.After(now) || !slot.After(now.Add(-48*time.Hour))) {
			t.Fatalf("mostRecent out of range: %s", slot)
		}
		cs.freshnessStart(now.Add(-30*24*time.Hour), now)
	})
}
