package export

import (
	"fmt"
	"sort"
	"time"
)

// IncompleteGrace is how old the newest object of a folder without a
// manifest must be before retention deletes it: younger, it may be a copy
// under way (a copy writes its files within minutes of each other).
const IncompleteGrace = 24 * time.Hour

// Policy is a schedule's exportRetention: zero counts are unset.
type Policy struct {
	KeepLast, KeepDaily, KeepWeekly, KeepMonthly int
	// MaxAge, if positive, lets go of every export older than this.
	MaxAge time.Duration
}

// Entry is one export folder as read from the bucket.
type Entry struct {
	// Folder is the folder below the storage's prefix.
	Folder string
	// Complete is set when the folder has a readable manifest.
	Complete bool
	// Time is the manifest's Time for a complete export; for an
	// incomplete one, the LastModified of its newest object.
	Time time.Time
}

// Plan is what retention does with a schedule's exports.
type Plan struct {
	// Keep are the complete exports kept, each with the rules that keep it.
	Keep map[string][]string
	// Delete are complete exports let go.
	Delete []string
	// Incomplete are folders without a manifest older than IncompleteGrace.
	Incomplete []string
}

// PlanRetention decides, like restic's and borg's "forget", which exports
// to keep: keepLast the newest n; keepDaily, keepWeekly and keepMonthly the
// newest export of each of the last n days, ISO weeks and months (in loc)
// that have one; an export is kept when any rule keeps it. maxAge then lets
// go of every export older than now-maxAge, and without keep rules keeps
// the others. The newest complete export is always kept, whatever the
// numbers say. Folders without a manifest are never counted; those older
// than IncompleteGrace are listed for deletion.
func PlanRetention(entries []Entry, p Policy, now time.Time, loc *time.Location) Plan {
	if loc == nil {
		loc = time.UTC
	}
	plan := Plan{Keep: map[string][]string{}}
	complete, incomplete := splitEntries(entries, now)
	plan.Incomplete = incomplete
	for i, e := range complete {
		if i < p.KeepLast {
			plan.Keep[e.Folder] = append(plan.Keep[e.Folder], "last")
		}
	}
	for _, rule := range []periodRule{
		{"daily", p.KeepDaily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{"weekly", p.KeepWeekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }},
		{"monthly", p.KeepMonthly, func(t time.Time) string { return t.Format("2006-01") }},
	} {
		rule.apply(complete, loc, plan.Keep)
	}
	keepRules := p.KeepLast > 0 || p.KeepDaily > 0 || p.KeepWeekly > 0 || p.KeepMonthly > 0
	for i, e := range complete {
		_, kept := plan.Keep[e.Folder]
		tooOld := p.MaxAge > 0 && now.Sub(e.Time) > p.MaxAge
		switch {
		case i == 0:
			plan.Keep[e.Folder] = append(plan.Keep[e.Folder], "newest")
		case tooOld || (keepRules && !kept):
			delete(plan.Keep, e.Folder)
			plan.Delete = append(plan.Delete, e.Folder)
		case !keepRules:
			plan.Keep[e.Folder] = append(plan.Keep[e.Folder], "maxAge")
		}
	}
	return plan
}

// splitEntries returns the complete exports, newest first, and the
// incomplete folders old enough to delete.
func splitEntries(entries []Entry, now time.Time) (complete []Entry, incomplete []string) {
	for _, e := range entries {
		switch {
		case e.Complete:
			complete = append(complete, e)
		case now.Sub(e.Time) > IncompleteGrace:
			incomplete = append(incomplete, e.Folder)
		}
	}
	sort.SliceStable(complete, func(i, j int) bool {
		if !complete[i].Time.Equal(complete[j].Time) {
			return complete[i].Time.After(complete[j].Time)
		}
		return complete[i].Folder > complete[j].Folder
	})
	return complete, incomplete
}

// periodRule keeps the newest export of each of the last n periods that
// have one; bucket names an export's period.
type periodRule struct {
	name   string
	n      int
	bucket func(time.Time) string
}

// apply marks what the rule keeps; complete is sorted newest first.
func (r periodRule) apply(complete []Entry, loc *time.Location, keep map[string][]string) {
	seen := map[string]bool{}
	for _, e := range complete {
		if len(seen) >= r.n {
			return
		}
		b := r.bucket(e.Time.In(loc))
		if seen[b] {
			continue
		}
		seen[b] = true
		keep[e.Folder] = append(keep[e.Folder], r.name)
	}
}
