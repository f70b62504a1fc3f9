package export

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func day(d int, hour int) time.Time {
	return time.Date(2026, time.March, d, hour, 0, 0, 0, time.UTC)
}

// daily makes one complete export per day from day 1 to n at hour, named
// e<day>.
func daily(n, hour int) []Entry {
	out := make([]Entry, 0, n)
	for d := 1; d <= n; d++ {
		out = append(out, Entry{Folder: fmt.Sprintf("e%02d", d), Complete: true, Time: day(d, hour)})
	}
	return out
}

func kept(p Plan) []string {
	out := make([]string, 0, len(p.Keep))
	for f := range p.Keep {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

func TestPlanRetention(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	twiceADay := append(daily(10, 2), func() []Entry {
		var out []Entry
		for d := 1; d <= 10; d++ {
			out = append(out, Entry{Folder: fmt.Sprintf("e%02d-pm", d), Complete: true, Time: day(d, 14)})
		}
		return out
	}()...)
	cases := []struct {
		name    string
		entries []Entry
		policy  Policy
		now     time.Time
		loc     *time.Location
		keep    []string
		del     int
		incompl []string
	}{{
		name: "keepLast keeps the newest n", entries: daily(10, 3), policy: Policy{KeepLast: 3}, now: day(11, 0),
		keep: []string{"e08", "e09", "e10"}, del: 7,
	}, {
		name: "keepDaily keeps the newest export of each of the last n days", entries: twiceADay,
		policy: Policy{KeepDaily: 3}, now: day(11, 0), keep: []string{"e08-pm", "e09-pm", "e10-pm"}, del: 17,
	}, {
		name: "days are counted in the schedule's time zone", loc: berlin, now: day(11, 0),
		// 23:30 UTC on the 5th is 00:30 on the 6th in Berlin (CET, UTC+1):
		// the same Berlin day as the export at 10:00 UTC on the 6th.
		entries: []Entry{
			{Folder: "a", Complete: true, Time: time.Date(2026, 3, 5, 23, 30, 0, 0, time.UTC)},
			{Folder: "b", Complete: true, Time: time.Date(2026, 3, 6, 10, 0, 0, 0, time.UTC)},
			{Folder: "c", Complete: true, Time: time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)},
		},
		policy: Policy{KeepDaily: 2}, keep: []string{"b", "c"}, del: 1,
	}, {
		name: "weekly counts ISO weeks (Monday to Sunday)", entries: daily(22, 12), policy: Policy{KeepWeekly: 3},
		now: day(23, 0),
		// 2026-03-22 is a Sunday: weeks end on the 8th, 15th and 22nd.
		keep: []string{"e08", "e15", "e22"}, del: 19,
	}, {
		name: "monthly keeps the newest of each month",
		entries: []Entry{
			{Folder: "jan", Complete: true, Time: time.Date(2026, 1, 31, 3, 0, 0, 0, time.UTC)},
			{Folder: "jan-early", Complete: true, Time: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)},
			{Folder: "feb", Complete: true, Time: time.Date(2026, 2, 28, 3, 0, 0, 0, time.UTC)},
			{Folder: "dec", Complete: true, Time: time.Date(2025, 12, 31, 3, 0, 0, 0, time.UTC)},
		},
		policy: Policy{KeepMonthly: 2}, now: day(1, 0), keep: []string{"feb", "jan"}, del: 2,
	}, {
		name: "rules add up: an export is kept when any rule keeps it", entries: daily(20, 3),
		policy: Policy{KeepLast: 2, KeepWeekly: 2}, now: day(21, 0),
		// The newest two, and the newest of the weeks ending the 15th and 22nd.
		keep: []string{"e15", "e19", "e20"}, del: 17,
	}, {
		name: "maxAge alone keeps what is younger", entries: daily(10, 3), policy: Policy{MaxAge: 72 * time.Hour},
		now: day(10, 12), keep: []string{"e08", "e09", "e10"}, del: 7,
	}, {
		name: "maxAge overrides the keep rules", entries: daily(10, 3),
		policy: Policy{KeepDaily: 10, MaxAge: 48 * time.Hour}, now: day(10, 12), keep: []string{"e09", "e10"}, del: 8,
	}, {
		name: "the newest complete export is kept even past maxAge", entries: daily(3, 3),
		policy: Policy{MaxAge: time.Hour}, now: day(30, 0), keep: []string{"e03"}, del: 2,
	}, {
		name: "folders without a manifest are never counted, and deleted only after a day",
		entries: append(daily(3, 3),
			Entry{Folder: "crashed", Time: day(4, 3)},
			Entry{Folder: "copying", Time: day(5, 1)}),
		policy: Policy{KeepLast: 1}, now: day(5, 4), keep: []string{"e03"}, del: 2, incompl: []string{"crashed"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanRetention(tc.entries, tc.policy, tc.now, tc.loc)
			if got := kept(p); !slices.Equal(got, tc.keep) {
				t.Errorf("kept %v, want %v (plan %+v)", got, tc.keep, p)
			}
			if len(p.Delete) != tc.del {
				t.Errorf("deletes %d (%v), want %d", len(p.Delete), p.Delete, tc.del)
			}
			for _, d := range p.Delete {
				if _, ok := p.Keep[d]; ok {
					t.Errorf("%s is both kept and deleted", d)
				}
			}
			if !slices.Equal(p.Incomplete, tc.incompl) {
				t.Errorf("incomplete %v, want %v", p.Incomplete, tc.incompl)
			}
		})
	}
}

func TestPlanRetentionSimulatedDays(t *testing.T) {
	// A nightly schedule over 40 days with keepDaily 7: after each night
	// exactly the last 7 days remain, and the newest is one of them.
	var have []Entry
	for d := 1; d <= 40; d++ {
		now := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC).AddDate(0, 0, d)
		have = append(have, Entry{Folder: now.Format("0102"), Complete: true, Time: now})
		p := PlanRetention(have, Policy{KeepDaily: 7}, now, time.UTC)
		var next []Entry
		for _, e := range have {
			if _, ok := p.Keep[e.Folder]; ok {
				next = append(next, e)
			}
		}
		have = next
		if want := min(d, 7); len(have) != want {
			t.Fatalf("day %d: %d exports kept, want %d", d, len(have), want)
		}
		if have[len(have)-1].Folder != now.Format("0102") {
			t.Fatalf("day %d: the newest export was let go", d)
		}
	}
}

func TestManifestRoundTrip(t *testing.T) {
	done := day(1, 3)
	m := &Manifest{Version: ManifestVersion, Backup: ManifestBackup{InstanceID: "i", ID: "b", CompletedAt: &done},
		Files: []ManifestFile{{Name: "a.rdb", Size: 3, SHA256: fmt.Sprintf("%064x", 1)}}, TotalSize: 3}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Time().Equal(done) || got.Files[0] != m.Files[0] {
		t.Errorf("round trip: %+v", got)
	}
	for name, bad := range map[string]func(*Manifest){
		"no files":           func(m *Manifest) { m.Files = nil; m.TotalSize = 0 },
		"a path, not a name": func(m *Manifest) { m.Files[0].Name = "../x.rdb" },
		"the manifest":       func(m *Manifest) { m.Files[0].Name = ManifestName },
		"wrong total":        func(m *Manifest) { m.TotalSize = 4 },
		"no backup id":       func(m *Manifest) { m.Backup.ID = "" },
		"short sha256":       func(m *Manifest) { m.Files[0].SHA256 = "ab" },
		"future version":     func(m *Manifest) { m.Version = ManifestVersion + 1 },
	} {
		c := *m
		c.Files = append([]ManifestFile(nil), m.Files...)
		bad(&c)
		data, _ := c.Marshal()
		if _, err := ParseManifest(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
