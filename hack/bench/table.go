package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// Row labels that several scenarios' tables share.
const (
	rowPeakRSS = "manager peak RSS / heap"
	row429s    = "429s from the simulator"
)

// row is one line of the table: a figure, its value and, where the issue
// sets one, the target and whether the run met it.
type row struct {
	figure, value, target string
	met                   *bool
}

func check(ok bool) *bool { return &ok }

func printTable(w io.Writer, res *results) {
	m := res.Meta
	_, _ = fmt.Fprintf(w, "\ndcs-backup-operator benchmark: %d cores, scale %g, %s, load average at start %s\n",
		m.Cores, m.Scale, m.GoVersion, m.LoadAverageAtStart)
	_, _ = fmt.Fprintf(w, "simulated backups %.0fs; manager --dcs-requests-per-second=%g --dcs-burst=%d; "+
		"simulator gateway %g req/s (burst %d)\n",
		m.BackupDurationSeconds, m.ManagerDCSRequestsPerSecond, m.ManagerDCSBurst, m.SimulatorRateLimit, m.SimulatorRateBurst)
	sections := []struct {
		title string
		rows  []row
	}{
		{burstTitle(res.Burst), burstRows(res.Burst)},
		{scalingTitle(res.Scaling), scalingRows(res.Scaling)},
		{fleetTitle(res.Fleet), fleetRows(res.Fleet)},
		{idleTitle(res.Idle), idleRows(res.Idle)},
		{exportTitle(res.Export), exportRows(res.Export)},
		{fleetScaleTitle(res.FleetScale), fleetScaleRows(res.FleetScale)},
	}
	for _, s := range sections {
		if len(s.rows) == 0 {
			continue
		}
		_, _ = fmt.Fprintf(w, "\n%s\n", s.title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		_, _ = fmt.Fprintln(tw, "  figure\tvalue\ttarget\t")
		for _, r := range s.rows {
			_, _ = fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.figure, r.value, r.target, verdict(r.met))
		}
		_ = tw.Flush()
	}
}

func verdict(met *bool) string {
	switch {
	case met == nil:
		return ""
	case *met:
		return "ok"
	}
	return "MISSED"
}

func burstTitle(b *burstResult) string {
	if b == nil {
		return ""
	}
	return fmt.Sprintf("burst: %d DCSBackups over %d instances (median of %d runs)", b.Backups, b.Instances, b.Runs)
}

func burstRows(b *burstResult) []row {
	if b == nil {
		return nil
	}
	return []row{
		{"DCS requests per completed backup", fmt.Sprintf("%.2f", b.RequestsPerBackup), "<= 2.5", check(b.RequestsPerBackup <= 2.5)},
		{"  by operation", opsPerBackup(b.RequestsPerBackupByOperation), "", nil},
		{"  lower bound, ratio", fmt.Sprintf("%.1f, %.2fx", b.LowerBound, b.RatioToLowerBound), "", nil},
		{"status lag p50 / p95 / max", fmt.Sprintf("%.2fs / %.2fs / %.2fs", b.StatusLagP50, b.StatusLagP95, b.StatusLagMax),
			"p95 < 1.5s", check(b.StatusLagP95 < 1.5)},
		{"makespan / ideal", fmt.Sprintf("%.1fs / %.0fs = %.2fx", b.MakespanSeconds, b.IdealMakespanSeconds, b.MakespanRatio),
			"<= 1.2x", check(b.MakespanRatio <= 1.2)},
		{"hand-off gap p50 (finish -> next create)", fmt.Sprintf("%.2fs", b.HandoffP50Seconds), "", nil},
		{"429s from the simulator (all runs)", fmt.Sprintf("%d", b.ThrottledResponses), "0", check(b.ThrottledResponses == 0)},
		{"DCS.4096 busy answers (all runs)", fmt.Sprintf("%d", b.BusyResponses), "", nil},
		{"manager CPU", fmt.Sprintf("%.1fs", b.ManagerCPUSeconds), "", nil},
		{rowPeakRSS, fmt.Sprintf("%.0f MiB / %.0f MiB", b.ManagerPeakRSSMiB, b.ManagerPeakHeapMiB), "", nil},
		{"reconciles per backup", fmt.Sprintf("%.1f", b.ReconcilesPerBackup), "", nil},
		{"API-server requests per backup", fmt.Sprintf("%.1f", b.APIServerRequestsPerBackup), "", nil},
		{"creating the objects took", fmt.Sprintf("%.1fs", b.CreateSeconds), "", nil},
	}
}

func scalingTitle(s *scalingResult) string {
	if s == nil {
		return ""
	}
	return fmt.Sprintf("scaling: the burst with 5, 10, 20 backups per instance over %d instances", s.Instances)
}

func scalingRows(s *scalingResult) []row {
	if s == nil || len(s.order) == 0 {
		return nil
	}
	series := func(m map[string]float64, format string) string {
		parts := make([]string, 0, len(s.order))
		for _, k := range s.order {
			parts = append(parts, k+": "+fmt.Sprintf(format, m[k]))
		}
		return strings.Join(parts, ", ")
	}
	first, last := s.order[0], s.order[len(s.order)-1]
	growth := s.CPUMillisecondsPerBackup[last] / s.CPUMillisecondsPerBackup[first]
	reqGrowth := s.RequestsPerBackup[last] / s.RequestsPerBackup[first]
	return []row{
		{"DCS requests per backup", series(s.RequestsPerBackup, "%.2f"), "flat", check(reqGrowth <= 1.1)},
		{"manager CPU seconds", series(s.ManagerCPUSeconds, "%.1f"), "", nil},
		{"CPU ms per backup", series(s.CPUMillisecondsPerBackup, "%.1f"), "flat", check(growth <= 1.25)},
		{"reconciles per backup", series(s.ReconcilesPerBackup, "%.1f"), "", nil},
		{"API-server requests per backup", series(s.APIServerRequestsPerBackup, "%.1f"), "", nil},
		{"makespan ratio", series(s.MakespanRatio, "%.2f"), "", nil},
		{"status lag p95 (s)", series(s.StatusLagP95, "%.2f"), "", nil},
		{"manager peak RSS (MiB)", series(s.ManagerPeakRSSMiB, "%.0f"), "", nil},
	}
}

func fleetTitle(f *fleetResult) string {
	if f == nil {
		return ""
	}
	return fmt.Sprintf("fleet: %d DCSBackupSchedules on %d instances due at %s (one run; after a run-now wave that "+
		"shows the manager each instance once)", f.Schedules, f.Schedules, f.Slot)
}

func fleetRows(f *fleetResult) []row {
	if f == nil {
		return nil
	}
	return []row{
		{"children created within (max / p50)", fmt.Sprintf("%.2fs / %.2fs of the slot", f.ChildrenCreatedWithinSeconds,
			f.ChildrenCreatedP50Seconds), "<= 10s", check(f.ChildrenCreatedWithinSeconds <= 10)},
		{"DCS requests per completed backup", fmt.Sprintf("%.2f", f.RequestsPerBackup), "<= 2.5", check(f.RequestsPerBackup <= 2.5)},
		{"  by operation", opsPerBackup(f.RequestsPerBackupByOperation), "", nil},
		{"  before the slot (preflight)", opsCount(f.SetupRequests), "", nil},
		{"  first backups (run-now wave, cold)", fmt.Sprintf("%.2f (%s), lag p95 %.2fs", f.Cold.RequestsPerBackup,
			opsPerBackup(f.Cold.RequestsPerBackupByOperation), f.Cold.StatusLagP95), "", nil},
		{"status lag p50 / p95 / max", fmt.Sprintf("%.2fs / %.2fs / %.2fs", f.StatusLagP50, f.StatusLagP95, f.StatusLagMax), "", nil},
		{"all succeeded after the slot", fmt.Sprintf("%.1fs", f.AllSucceededAfterSeconds), "", nil},
		{row429s, fmt.Sprintf("%d", f.ThrottledResponses), "0", check(f.ThrottledResponses == 0)},
		{"manager CPU (slot to done)", fmt.Sprintf("%.1fs", f.ManagerCPUSeconds), "", nil},
		{rowPeakRSS, fmt.Sprintf("%.0f MiB / %.0f MiB", f.ManagerPeakRSSMiB, f.ManagerPeakHeapMiB), "", nil},
		{"reconciles / API-server requests per backup", fmt.Sprintf("%.1f / %.1f", f.ReconcilesPerBackup,
			f.APIServerRequestsPerBackup), "", nil},
	}
}

func idleTitle(i *idleResult) string {
	if i == nil {
		return ""
	}
	return fmt.Sprintf("idle: %d finished DCSBackups over %d instances, %.0f min simulated in %.0fs (slow poll %.0fs, run %gx faster)",
		i.Backups, i.Instances, i.SimulatedSeconds/60, i.RealSeconds, i.SlowPollIntervalSeconds, i.TimeCompression)
}

func idleRows(i *idleResult) []row {
	if i == nil {
		return nil
	}
	return []row{
		{"DCS requests per hour", fmt.Sprintf("%.0f (%.3f per instance per slow-poll interval)", i.RequestsPerHour,
			i.RequestsPerInstancePerInterval), fmt.Sprintf("<= %.0f", i.RequestsPerHourBound),
			check(i.RequestsPerHour <= i.RequestsPerHourBound)},
		{"  by operation, per hour", opsPerBackup(i.RequestsPerHourByOperation), "", nil},
		{"manager peak RSS / RSS at the end / peak heap", fmt.Sprintf("%.0f MiB / %.0f MiB / %.0f MiB", i.ManagerPeakRSSMiB,
			i.ManagerRSSMiB, i.ManagerPeakHeapMiB), "< 200 MiB", check(i.ManagerPeakRSSMiB < 200)},
		{"manager CPU while idle", fmt.Sprintf("%.1f%% of a core", i.ManagerCPUCoreFraction*100), "", nil},
		{"reconciles / API-server requests per hour", fmt.Sprintf("%.0f / %.0f", i.ReconcilesPerHour, i.APIServerRequestsPerHour), "", nil},
		{"start-up pass", fmt.Sprintf("%.1fs, %s, %.0f API-server requests", i.StartupSeconds, opsCount(i.StartupRequests),
			i.StartupAPIServerRequests), "", nil},
		{row429s, fmt.Sprintf("%d", i.ThrottledResponses), "0", check(i.ThrottledResponses == 0)},
	}
}

func opsPerBackup(m map[string]float64) string { return joinByKey(m, "%s %.2f") }

func opsCount(m map[string]int) string { return joinByKey(m, "%s %d") }

// joinByKey lists a map's entries sorted by key, each formatted with format
// (key, value), or "none".
func joinByKey[V any](m map[string]V, format string) string {
	if len(m) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf(format, k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func fleetScaleTitle(f *fleetScaleResult) string {
	if f == nil {
		return ""
	}
	return fmt.Sprintf("fleet-scale: %d finished DCSBackups over %d instances, then one tag-selected schedule of all of them "+
		"(manager at the default budget, %g req/s)", f.FinishedBackups, f.Instances, f.BudgetRequestsPerSecond)
}

func fleetScaleRows(f *fleetScaleResult) []row {
	if f == nil {
		return nil
	}
	return []row{
		{"idle DCS requests per second / share of the budget", fmt.Sprintf("%.2f / %.0f%% (over %.0fs)",
			f.IdleRequestsPerSecond, 100*f.IdleBudgetShare, f.IdleWindowSeconds), "<= 25% + burst",
			check(f.IdleBudgetShare <= f.IdleBudgetShareTarget+f.IdleBurstShare)},
		{"  read interval of an idle instance", fmt.Sprintf("%.0fs", f.ObservationIntervalSeconds), "", nil},
		{"idle manager CPU", fmt.Sprintf("%.2f%% of a core", 100*f.IdleCPUCoreFraction), "< 5%", check(f.IdleCPUCoreFraction < 0.05)},
		{"idle reconciles per hour", fmt.Sprintf("%.0f", f.IdleReconcilesPerHour), "", nil},
		{"all creates sent / bound (creates at the budget)", fmt.Sprintf("%.0fs / %.0fs = %.2fx", f.CreatesSeconds,
			f.CreatesBoundSeconds, f.CreatesRatioToBound), "<= 1.2x", check(f.CreatesRatioToBound <= 1.2)},
		{"  children created within", fmt.Sprintf("%.1fs of the slot", f.ChildrenCreatedWithinSeconds), "", nil},
		{"  all succeeded after", fmt.Sprintf("%.0fs (%.2f DCS requests per backup)", f.AllSucceededAfterSeconds,
			f.RunRequestsPerBackup), "", nil},
		{rowPeakRSS, fmt.Sprintf("%.0f MiB / %.0f MiB (GOMEMLIMIT %s)", f.ManagerPeakRSSMiB, f.ManagerPeakHeapMiB,
			f.GoMemoryLimit), "< 256 MiB", check(f.ManagerPeakRSSMiB < 256)},
		{"  peak RSS before the run (start-up, idle)", fmt.Sprintf("%.0f MiB", f.ManagerPeakRSSIdleMiB), "", nil},
		{row429s, fmt.Sprint(f.ThrottledResponses), "0", check(f.ThrottledResponses == 0)},
		{"setup / start-up pass", fmt.Sprintf("%.0fs / %.0fs (%d DCS requests)", f.SetupSeconds, f.StartupSeconds,
			f.StartupDCSRequests), "", nil},
	}
}

func exportTitle(e *exportResult) string {
	if e == nil {
		return ""
	}
	return fmt.Sprintf("export: one backup of %d MiB (%d file) into a versitygw bucket, %.0f MiB parts, %d in flight",
		e.BackupBytes>>20, e.Files, e.PartSizeMiB, e.UploadConcurrency)
}

func exportRows(e *exportResult) []row {
	if e == nil {
		return nil
	}
	return []row{
		{"manager RSS growth (peak during the copy - before)", fmt.Sprintf("%.0f MiB (%.0f -> %.0f MiB)", e.RSSGrowthMiB,
			e.ManagerRSSBefore, e.ManagerPeakRSS), fmt.Sprintf("< %.0f MiB", e.RSSGrowthTarget),
			check(e.RSSGrowthMiB < e.RSSGrowthTarget)},
		{"throughput: manager / plain copy", fmt.Sprintf("%.0f MiB/s / %.0f MiB/s = %.2fx", e.ExportMiBPerSecond,
			e.PlainCopyMiBPerSec, e.ThroughputRatio), fmt.Sprintf(">= %.1fx", e.ThroughputTarget),
			check(e.ThroughputRatio >= e.ThroughputTarget)},
		{"copy / until Exported=True seen / plain copy", fmt.Sprintf("%.1fs / %.1fs / %.1fs", e.ExportSeconds,
			e.ExportWallSeconds, e.PlainCopySeconds), "", nil},
		{"manager CPU during the export, peak heap", fmt.Sprintf("%.1fs, %.0f MiB", e.ManagerCPUSeconds, e.ManagerPeakHeap), "", nil},
		{"SHA-256 of the export = DCS's bytes", fmt.Sprint(e.ContentVerified), "true", check(e.ContentVerified)},
	}
}
