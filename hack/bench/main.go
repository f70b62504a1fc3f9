// Command bench is `make bench`: it runs the real manager (a process, built
// from the checkout) against a real kube-apiserver and etcd and the DCS
// simulator binary, in five scenarios, and prints a table and writes
// bench/results.json:
//
//   - burst: 1,000 DCSBackups over 100 instances (10 queued per instance),
//     3 s simulated backups;
//   - scaling: the burst with 5, 10 and 20 backups per instance (500, 1,000,
//     2,000 backups);
//   - fleet: 300 DCSBackupSchedules on 300 instances, all due in the same
//     minute;
//   - idle: 10,000 finished DCSBackups over 500 instances, held for 10
//     minutes of simulated time;
//   - export: one 1 GiB backup exported into a versitygw bucket: the
//     manager's RSS growth and its throughput next to a plain copy.
//
// BENCH_SCALE (e.g. 0.1) shrinks every count for a quick look, BENCH_RUNS
// sets the runs per burst, BENCH_SCENARIOS picks scenarios. Run it with
// --help for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is the benchmark's parameters.
type config struct {
	scale     float64
	runs      int
	scenarios map[string]bool
	out       string
	keep      bool
	workers   int

	// backupDuration is how long a simulated backup takes.
	backupDuration time.Duration
	// dcsRPS and dcsBurst are the manager's client-side DCS rate limit;
	// gatewayRPS and gatewayBurst the simulator's API gateway (429 beyond).
	dcsRPS       float64
	dcsBurst     int
	gatewayRPS   float64
	gatewayBurst int
	// idleInterval is the manager's --restore-poll-interval in the idle
	// scenario, idleSpan the simulated time the fleet is held.
	idleInterval time.Duration
	idleSpan     time.Duration
	managerArgs  []string
}

// Scenario names.
const (
	scenarioBurst   = "burst"
	scenarioScaling = "scaling"
	scenarioFleet   = "fleet"
	scenarioIdle    = "idle"
	// scenarioExport needs $VERSITYGW; it takes about 30 s at scale 1.
	scenarioExport = "export"
	// scenarioFleetScale is not in the default set: it takes about 20
	// minutes (BENCH_SCENARIOS=fleet-scale).
	scenarioFleetScale = "fleet-scale"
)

const usageHeader = `bench measures the operator: the real manager against a real control plane and
the DCS simulator. It prints a table and writes bench/results.json.

Usage: bench [flags]   (make bench; BENCH_SCALE=0.1 make bench for a quick look)

Flags:
`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var scenarios, managerArgs string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Float64Var(&c.scale, "scale", envFloat("BENCH_SCALE", 1), "shrink every count by this factor ($BENCH_SCALE)")
	fs.IntVar(&c.runs, "runs", envInt("BENCH_RUNS", 3), "runs of the burst; figures are their median ($BENCH_RUNS)")
	fs.StringVar(&scenarios, "scenarios", envString("BENCH_SCENARIOS", "burst,scaling,fleet,idle,export"),
		"comma-separated scenarios to run: burst, scaling, fleet, idle, export (needs $VERSITYGW, as make bench sets), "+
			"and fleet-scale (about 20 minutes, not in the default set) ($BENCH_SCENARIOS)")
	fs.StringVar(&c.out, "out", "", "results file (default <checkout>/bench/results.json)")
	fs.BoolVar(&c.keep, "keep", envBool("BENCH_KEEP"), "keep the state directory with the logs ($BENCH_KEEP)")
	fs.IntVar(&c.workers, "create-workers", 32, "parallel create calls of the benchmark's own client")
	fs.DurationVar(&c.backupDuration, "backup-duration", 3*time.Second, "simulated backup duration")
	fs.Float64Var(&c.dcsRPS, "dcs-requests-per-second", 200,
		"the manager's --dcs-requests-per-second (time runs 20x faster here than with real backups; see README)")
	fs.IntVar(&c.dcsBurst, "dcs-burst", 20, "the manager's --dcs-burst")
	fs.Float64Var(&c.gatewayRPS, "gateway-requests-per-second", 250, "the simulator's API gateway limit (--rate-limit)")
	fs.IntVar(&c.gatewayBurst, "gateway-burst", 50, "the simulator's --rate-burst")
	fs.DurationVar(&c.idleInterval, "idle-restore-poll-interval", 15*time.Second,
		"the manager's --restore-poll-interval in the idle scenario: 1m/4 runs simulated time 4x faster")
	fs.DurationVar(&c.idleSpan, "idle-simulated", 10*time.Minute, "simulated time the idle fleet is held")
	fs.StringVar(&managerArgs, "manager-args", os.Getenv("BENCH_MANAGER_ARGS"),
		"extra manager flags, space-separated ($BENCH_MANAGER_ARGS)")
	fs.Usage = func() {
		_, _ = fmt.Fprint(stderr, usageHeader)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.scenarios = map[string]bool{}
	for _, s := range strings.Split(scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.scenarios[s] = true
		}
	}
	c.managerArgs = strings.Fields(managerArgs)
	return c, c.validate()
}

func (c *config) validate() error {
	if c.scale <= 0 || c.scale > 10 {
		return fmt.Errorf("scale %v: must be in (0, 10]", c.scale)
	}
	if c.runs < 1 {
		return fmt.Errorf("runs %d: must be at least 1", c.runs)
	}
	for s := range c.scenarios {
		switch s {
		case scenarioBurst, scenarioScaling, scenarioFleet, scenarioIdle, scenarioExport, scenarioFleetScale:
		default:
			return fmt.Errorf("unknown scenario %q", s)
		}
	}
	// Before the other scenarios run for minutes, not after.
	if c.scenarios[scenarioExport] {
		if _, err := localenv.VersityGWBinary(); err != nil {
			return fmt.Errorf("scenario export: %w", err)
		}
	}
	return nil
}

// scaled is n times the scale, at least 1.
func (c *config) scaled(n int) int {
	return max(1, int(float64(n)*c.scale+0.5))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	// The benchmark's watch is controller-runtime's cache, which logs
	// through this logger; the manager's log is in the state directory.
	ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	h, err := newHarness(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	res, runErr := h.runAll(ctx)
	stopErr := h.stop()
	if runErr != nil {
		return errors.Join(runErr, stopErr)
	}
	res.Meta.WallSeconds = round(time.Since(h.started).Seconds(), 1)
	printTable(stdout, res)
	out := cfg.out
	if out == "" {
		out = filepath.Join(h.env.Root, "bench", "results.json")
	}
	if err := writeResults(out, res); err != nil {
		return errors.Join(err, stopErr)
	}
	_, _ = fmt.Fprintf(stdout, "\nwrote %s (wall time %s)\n", out, time.Since(h.started).Round(time.Second))
	return stopErr
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envBool(name string) bool {
	v, _ := strconv.ParseBool(os.Getenv(name))
	return v
}
