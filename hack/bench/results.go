package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
)

// results is bench/results.json: one object per scenario, numbers in plain
// units (seconds, MiB, counts).
type results struct {
	Meta    metaResult     `json:"meta"`
	Burst   *burstResult   `json:"burst,omitempty"`
	Scaling *scalingResult `json:"scaling,omitempty"`
	Fleet   *fleetResult   `json:"fleet,omitempty"`
	Idle    *idleResult    `json:"idle,omitempty"`
	// FleetScale is under fleet_scale.
	FleetScale *fleetScaleResult `json:"fleet_scale,omitempty"`
	Export     *exportResult     `json:"export,omitempty"`

	burstRuns []runFigures
}

type metaResult struct {
	Cores                       int     `json:"cores"`
	Scale                       float64 `json:"scale"`
	GoVersion                   string  `json:"go_version"`
	StartedAt                   string  `json:"started_at"`
	WallSeconds                 float64 `json:"wall_seconds"`
	BackupDurationSeconds       float64 `json:"backup_duration_seconds"`
	ManagerDCSRequestsPerSecond float64 `json:"manager_dcs_requests_per_second"`
	ManagerDCSBurst             int     `json:"manager_dcs_burst"`
	SimulatorRateLimit          float64 `json:"simulator_rate_limit_per_second"`
	SimulatorRateBurst          int     `json:"simulator_rate_burst"`
	LoadAverageAtStart          string  `json:"load_average_at_start"`
	Notes                       string  `json:"notes"`
}

func newResults(cfg config) *results {
	return &results{Meta: metaResult{
		Cores:                       cores(),
		Scale:                       cfg.scale,
		GoVersion:                   runtime.Version(),
		StartedAt:                   time.Now().UTC().Format(time.RFC3339),
		BackupDurationSeconds:       cfg.backupDuration.Seconds(),
		ManagerDCSRequestsPerSecond: cfg.dcsRPS,
		ManagerDCSBurst:             cfg.dcsBurst,
		SimulatorRateLimit:          cfg.gatewayRPS,
		SimulatorRateBurst:          cfg.gatewayBurst,
		LoadAverageAtStart:          loadAverage(),
		Notes: "Medians over runs. Status lag: simulator finished_at to a watcher seeing Succeeded=True. " +
			"Makespan: from the moment every instance has its first DCSBackup to the last Succeeded. " +
			"Idle: requests per simulated hour, measured with a compressed --restore-poll-interval. " +
			"Export: manager peak RSS during the copy (VmHWM, reset before it) minus its RSS before; throughput is " +
			"the backup's bytes over the manager's export_duration_seconds, next to a plain GET-to-PutObject copy.",
	}}
}

// burstResult is the burst scenario: medians over its runs.
type burstResult struct {
	Backups                      int                `json:"backups"`
	Instances                    int                `json:"instances"`
	Runs                         int                `json:"runs"`
	RequestsPerBackup            float64            `json:"requests_per_backup"`
	RequestsPerBackupByOperation map[string]float64 `json:"requests_per_backup_by_operation"`
	LowerBound                   float64            `json:"lower_bound_requests_per_backup"`
	RatioToLowerBound            float64            `json:"requests_ratio_to_lower_bound"`
	StatusLagP50                 float64            `json:"status_lag_p50_seconds"`
	StatusLagP95                 float64            `json:"status_lag_p95_seconds"`
	StatusLagMax                 float64            `json:"status_lag_max_seconds"`
	MakespanSeconds              float64            `json:"makespan_seconds"`
	IdealMakespanSeconds         float64            `json:"ideal_makespan_seconds"`
	MakespanRatio                float64            `json:"makespan_ratio"`
	HandoffP50Seconds            float64            `json:"handoff_gap_p50_seconds"`
	CreateSeconds                float64            `json:"create_seconds"`
	ThrottledResponses           int                `json:"throttled_responses"`
	BusyResponses                int                `json:"busy_responses"`
	ManagerCPUSeconds            float64            `json:"manager_cpu_seconds"`
	ManagerPeakRSSMiB            float64            `json:"manager_peak_rss_mib"`
	ManagerPeakHeapMiB           float64            `json:"manager_peak_heap_mib"`
	ReconcilesPerBackup          float64            `json:"reconciles_per_backup"`
	APIServerRequestsPerBackup   float64            `json:"apiserver_requests_per_backup"`
}

// burstLowerBound: one create per backup, and one list per completion.
// Backups of one instance run one after the other and the next may only
// start once the previous one is seen finished, so no list can observe two
// completions of one instance; lists of different instances cannot be
// combined (the list API is per instance).
const burstLowerBound = 2.0

func newBurstResult(runs []runFigures) *burstResult {
	f := runs[0]
	b := &burstResult{
		Backups: f.backups, Instances: f.instances, Runs: len(runs),
		RequestsPerBackup:            round(med(runs, func(f runFigures) float64 { return f.perBackup(float64(f.d.total)) }), 3),
		RequestsPerBackupByOperation: medianOps(runs),
		LowerBound:                   burstLowerBound,
		StatusLagP50:                 round(med(runs, func(f runFigures) float64 { return f.lag.p50 }), 3),
		StatusLagP95:                 round(med(runs, func(f runFigures) float64 { return f.lag.p95 }), 3),
		StatusLagMax:                 round(med(runs, func(f runFigures) float64 { return f.lag.max }), 3),
		MakespanSeconds:              round(med(runs, func(f runFigures) float64 { return f.makespan }), 2),
		IdealMakespanSeconds:         f.ideal,
		HandoffP50Seconds:            round(med(runs, func(f runFigures) float64 { return f.handoffP50 }), 3),
		CreateSeconds:                round(med(runs, func(f runFigures) float64 { return f.createSeconds }), 2),
		ManagerCPUSeconds:            round(med(runs, func(f runFigures) float64 { return f.d.cpu }), 2),
		ManagerPeakRSSMiB:            med(runs, func(f runFigures) float64 { return f.rssMiB }),
		ManagerPeakHeapMiB:           med(runs, func(f runFigures) float64 { return f.heapMiB }),
		ReconcilesPerBackup:          round(med(runs, func(f runFigures) float64 { return f.perBackup(f.d.reconciles) }), 2),
		APIServerRequestsPerBackup:   round(med(runs, func(f runFigures) float64 { return f.perBackup(f.d.restCalls) }), 2),
	}
	b.RatioToLowerBound = round(b.RequestsPerBackup/b.LowerBound, 3)
	b.MakespanRatio = round(b.MakespanSeconds/b.IdealMakespanSeconds, 3)
	for _, r := range runs {
		// 429s are summed, not a median: the target is none at all.
		b.ThrottledResponses += r.d.throttled
		b.BusyResponses += r.d.busy
	}
	return b
}

func medianOps(runs []runFigures) map[string]float64 {
	out := map[string]float64{}
	for _, r := range runs {
		for op := range r.d.requests {
			out[op] = round(med(runs, func(f runFigures) float64 { return f.perBackup(float64(f.d.requests[op])) }), 3)
		}
	}
	return out
}

// scalingResult is the burst at three sizes, keyed by backup count.
type scalingResult struct {
	Instances                  int                `json:"instances"`
	RequestsPerBackup          map[string]float64 `json:"requests_per_backup"`
	ManagerCPUSeconds          map[string]float64 `json:"manager_cpu_seconds"`
	CPUMillisecondsPerBackup   map[string]float64 `json:"cpu_milliseconds_per_backup"`
	ReconcilesPerBackup        map[string]float64 `json:"reconciles_per_backup"`
	APIServerRequestsPerBackup map[string]float64 `json:"apiserver_requests_per_backup"`
	MakespanRatio              map[string]float64 `json:"makespan_ratio"`
	StatusLagP95               map[string]float64 `json:"status_lag_p95_seconds"`
	ManagerPeakRSSMiB          map[string]float64 `json:"manager_peak_rss_mib"`
	order                      []string
}

func newScalingResult(instances int) *scalingResult {
	return &scalingResult{
		Instances:                  instances,
		RequestsPerBackup:          map[string]float64{},
		ManagerCPUSeconds:          map[string]float64{},
		CPUMillisecondsPerBackup:   map[string]float64{},
		ReconcilesPerBackup:        map[string]float64{},
		APIServerRequestsPerBackup: map[string]float64{},
		MakespanRatio:              map[string]float64{},
		StatusLagP95:               map[string]float64{},
		ManagerPeakRSSMiB:          map[string]float64{},
	}
}

func (s *scalingResult) add(f runFigures) {
	k := strconv.Itoa(f.backups)
	s.order = append(s.order, k)
	s.RequestsPerBackup[k] = round(f.perBackup(float64(f.d.total)), 3)
	s.ManagerCPUSeconds[k] = round(f.d.cpu, 2)
	s.CPUMillisecondsPerBackup[k] = round(f.perBackup(f.d.cpu*1000), 2)
	s.ReconcilesPerBackup[k] = round(f.perBackup(f.d.reconciles), 2)
	s.APIServerRequestsPerBackup[k] = round(f.perBackup(f.d.restCalls), 2)
	s.MakespanRatio[k] = round(f.makespan/f.ideal, 3)
	s.StatusLagP95[k] = round(f.lag.p95, 3)
	s.ManagerPeakRSSMiB[k] = f.rssMiB
}

// medianRun is a run whose every figure is the median over runs, for the
// scaling table.
func medianRun(runs []runFigures) runFigures {
	f := runs[0]
	f.d.total = int(med(runs, func(f runFigures) float64 { return float64(f.d.total) }))
	f.d.cpu = med(runs, func(f runFigures) float64 { return f.d.cpu })
	f.d.reconciles = med(runs, func(f runFigures) float64 { return f.d.reconciles })
	f.d.restCalls = med(runs, func(f runFigures) float64 { return f.d.restCalls })
	f.makespan = med(runs, func(f runFigures) float64 { return f.makespan })
	f.lag.p95 = med(runs, func(f runFigures) float64 { return f.lag.p95 })
	f.rssMiB = med(runs, func(f runFigures) float64 { return f.rssMiB })
	return f
}

// writeResults writes res as indented JSON, making the directory.
func writeResults(path string, res *results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	s := string(b)
	if len(s) > 14 {
		s = s[:14]
	}
	return trimNewline(s)
}
