package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// ANSI sequences of the terminal view.
const (
	ansiClearScreen = "\033[2J"
	ansiHome        = "\033[H"
	ansiClearLine   = "\033[K"
	ansiClearBelow  = "\033[J"
)

// view shows snapshots: on a terminal by redrawing the screen in place,
// elsewhere by printing a new block whenever the tables change (ages and
// counters aside), so that a log of the run stays readable.
type view struct {
	out      io.Writer
	terminal bool
	info     []string
	started  time.Time

	drawn   bool
	lastKey string
}

func (v *view) show(snap snapshot, status goalStatus) {
	body, key := render(snap, status, v.started)
	if v.terminal {
		v.redraw(append(append([]string{}, v.info...), body...))
		return
	}
	if !v.drawn {
		v.drawn = true
		v.write(append([]string{""}, v.info...))
	}
	if key == v.lastKey {
		return
	}
	v.lastKey = key
	v.write(body)
}

// redraw paints lines over the screen without flicker: home, each line
// cleared to its end, then everything below cleared.
func (v *view) redraw(lines []string) {
	var b strings.Builder
	if !v.drawn {
		v.drawn = true
		b.WriteString(ansiClearScreen)
	}
	b.WriteString(ansiHome)
	for _, line := range lines {
		b.WriteString(line + ansiClearLine + "\n")
	}
	b.WriteString(ansiClearBelow)
	_, _ = io.WriteString(v.out, b.String())
}

func (v *view) write(lines []string) {
	_, _ = io.WriteString(v.out, strings.Join(lines, "\n")+"\n")
}

// render returns the lines of a snapshot and a key that changes only when
// something other than an age or a counter does.
func render(snap snapshot, status goalStatus, started time.Time) ([]string, string) {
	backups, backupKey := backupTable(snap)
	schedules, scheduleKey := scheduleTable(snap)
	restores, restoreKey := restoreTable(snap)
	storages, storageKey := storageTable(snap)
	lines := []string{"", fmt.Sprintf("--- %s (operator up %s)", snap.at.Format("15:04:05"),
		duration.HumanDuration(snap.at.Sub(started)))}
	lines = append(lines, backups...)
	lines = append(lines, "")
	lines = append(lines, schedules...)
	if len(snap.restores) > 0 {
		lines = append(lines, "")
		lines = append(lines, restores...)
	}
	if len(snap.storages) > 0 {
		lines = append(lines, "")
		lines = append(lines, storages...)
	}
	lines = append(lines, "", "simulator: "+snap.simulator, "operator:  "+snap.operator)
	if snap.err != nil {
		lines = append(lines, "error:     "+snap.err.Error())
	}
	lines = append(lines, goalLine(status))
	return lines, backupKey + scheduleKey + restoreKey + storageKey + goalLine(status)
}

func goalLine(st goalStatus) string {
	switch {
	case st.failed != "":
		return "status:    " + st.failed
	case st.done:
		return "status:    " + st.summary
	default:
		return "waiting:   " + strings.Join(st.pending, "; ")
	}
}

// table lays rows out in aligned columns; key is the rows' stable columns.
type table struct {
	buf bytes.Buffer
	tw  *tabwriter.Writer
	key strings.Builder
}

func newTable(header ...string) *table {
	t := &table{}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(t.tw, strings.Join(header, "\t"))
	return t
}

// row adds a row; stable are the columns that count for the key, moving
// (ages) follow them.
func (t *table) row(stable []string, moving ...string) {
	_, _ = fmt.Fprintln(t.tw, strings.Join(append(stable, moving...), "\t"))
	t.key.WriteString(strings.Join(stable, "|") + "\n")
}

func (t *table) lines() ([]string, string) {
	_ = t.tw.Flush()
	return strings.Split(strings.TrimRight(t.buf.String(), "\n"), "\n"), t.key.String()
}

func backupTable(snap snapshot) ([]string, string) {
	t := newTable("DCSBACKUP", "PHASE", "PROGRESS", "BACKUP ID", "SUCCEEDED", "SYNCED", "EXPORT", "AGE")
	for _, b := range snap.backups {
		t.row([]string{
			b.Name, dash(string(b.Status.Phase)), dash(b.Status.Progress), dash(b.Status.BackupID),
			reasonOf(b.Status.Conditions, backupv1alpha1.ConditionSucceeded),
			condition(b.Status.Conditions, backupv1alpha1.ConditionSynced), exportOf(&b),
		}, age(b.CreationTimestamp, snap.at))
	}
	if len(snap.backups) == 0 {
		t.row([]string{"(none yet)"})
	}
	return t.lines()
}

func scheduleTable(snap snapshot) ([]string, string) {
	t := newTable("DCSBACKUPSCHEDULE", "SCHEDULE", "CHILDREN", "ACTIVE", "READY", "FRESH",
		"LAST SCHEDULE", "NEXT", "LAST SUCCESS")
	for _, s := range snap.schedules {
		st := s.Status
		t.row([]string{
			s.Name, s.Spec.Schedule, strconv.Itoa(len(snap.children(s.Name))), strconv.Itoa(len(st.Active)),
			condition(st.Conditions, backupv1alpha1.ConditionReady),
			condition(st.Conditions, backupv1alpha1.ConditionFresh),
		}, relative(st.LastScheduleTime, snap.at), relative(st.NextScheduleTime, snap.at),
			relative(st.LastSuccessfulTime, snap.at))
	}
	if len(snap.schedules) == 0 {
		t.row([]string{"(none)"})
	}
	return t.lines()
}

func restoreTable(snap snapshot) ([]string, string) {
	t := newTable("DCSRESTORE", "PHASE", "BACKUP", "TARGET", "PROGRESS", "SUCCEEDED", "SYNCED", "AGE")
	for _, r := range snap.restores {
		t.row([]string{
			r.Name, dash(string(r.Status.Phase)), dash(r.Status.BackupID), dash(r.Status.InstanceID),
			dash(r.Status.Progress), reasonOf(r.Status.Conditions, backupv1alpha1.ConditionSucceeded),
			condition(r.Status.Conditions, backupv1alpha1.ConditionSynced),
		}, age(r.CreationTimestamp, snap.at))
	}
	return t.lines()
}

// storageTable lists the storages: where the exports go.
func storageTable(snap snapshot) ([]string, string) {
	t := newTable("DCSBACKUPSTORAGE", "ENDPOINT", "BUCKET", "PREFIX", "READY", "AGE")
	for _, s := range snap.storages {
		t.row([]string{
			s.Name, s.Spec.Endpoint, s.Spec.Bucket, dash(s.Spec.Prefix),
			condition(s.Status.Conditions, backupv1alpha1.ConditionReady),
		}, age(s.CreationTimestamp, snap.at))
	}
	return t.lines()
}

// exportOf is the phase of a backup's export with its file count once it
// succeeded, "-" without spec.export.
func exportOf(b *backupv1alpha1.DCSBackup) string {
	e := b.Status.Export
	switch {
	case e == nil && b.Spec.Export == nil:
		return "-"
	case e == nil || e.Phase == "":
		return "Pending"
	case e.Phase == backupv1alpha1.ExportPhaseSucceeded:
		return fmt.Sprintf("%s (%s)", e.Phase, files(len(e.Objects)))
	default:
		return string(e.Phase)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// reasonOf is a condition's reason, "-" while it is absent.
func reasonOf(conds []metav1.Condition, condType string) string {
	if c := meta.FindStatusCondition(conds, condType); c != nil {
		return c.Reason
	}
	return "-"
}

// condition is a condition's status, with the reason unless True.
func condition(conds []metav1.Condition, condType string) string {
	c := meta.FindStatusCondition(conds, condType)
	switch {
	case c == nil:
		return "-"
	case c.Status == metav1.ConditionTrue:
		return string(c.Status)
	default:
		return string(c.Status) + ":" + c.Reason
	}
}

func age(t metav1.Time, now time.Time) string {
	return duration.HumanDuration(now.Sub(t.Time))
}

// relative is "12s ago" or "in 48s", "-" when unset.
func relative(t *metav1.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	if d := t.Sub(now); d > 0 {
		return "in " + duration.HumanDuration(d)
	}
	return duration.HumanDuration(now.Sub(t.Time)) + " ago"
}
