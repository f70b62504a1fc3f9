// Command demo is `make demo`: a local control plane (kube-apiserver and
// etcd), the DCS simulator with the instances of config/samples, a
// versitygw S3 gateway with the bucket of the sample DCSBackupStorage, the
// operator, and the samples applied against the simulator and the gateway,
// with a live table of what happens. Ctrl-C stops every process it started.
//
//	make demo                                            # until Ctrl-C
//	make demo DEMO_ARGS="--until-succeeded --for=3m"     # bounded, for tests and CI
//
// make builds it into bin/demo and runs that: `go run` would exit 1 after
// a Ctrl-C whatever the demo returns. Run it with --help for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdout)
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	samples        string
	namespace      string
	schedule       string
	backupDuration time.Duration
	refresh        time.Duration
	runFor         time.Duration
	untilSucceeded bool
	requireChild   bool
	plain          bool
	keep           bool
}

// Exit codes of run.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

const usageHeader = `demo starts a local control plane, the DCS simulator, versitygw (an S3 gateway)
and the operator, applies config/samples against the simulator and the gateway and
shows the backups, their exports and the schedules live.
Ctrl-C stops everything it started.

Usage: demo [flags]   (make demo DEMO_ARGS="...")

Flags:
`

func parseFlags(args []string, out io.Writer) (config, error) {
	c := config{}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.samples, "samples", "", "sample manifests, a file or directory (default <checkout>/config/samples)")
	fs.StringVar(&c.namespace, "namespace", "default", "namespace to apply the samples to")
	fs.StringVar(&c.schedule, "schedule", "* * * * *",
		"spec.schedule given to the sample schedules, so that they fire during the demo (empty: keep theirs)")
	fs.DurationVar(&c.backupDuration, "backup-duration", 12*time.Second, "how long a simulated backup takes")
	fs.DurationVar(&c.refresh, "refresh", 2*time.Second, "how often the table is refreshed")
	fs.DurationVar(&c.runFor, "for", envDuration("DEMO_DURATION"),
		"stop after this long (default $DEMO_DURATION; 0: until Ctrl-C)")
	fs.BoolVar(&c.untilSucceeded, "until-succeeded", false,
		"exit 0 as soon as every sample DCSBackup is Succeeded (and exported, with spec.export) and each sample "+
			"schedule has a child; exit 1 if --for runs out first")
	fs.BoolVar(&c.requireChild, "require-schedule-child", true,
		"with --until-succeeded, also wait for a child DCSBackup of each sample schedule")
	fs.BoolVar(&c.plain, "plain", false, "print a new table when something changes instead of redrawing the screen "+
		"(the default when stdout is not a terminal)")
	fs.BoolVar(&c.keep, "keep", false, "keep the state directory (kubeconfig, logs) after exit")
	fs.Usage = func() {
		_, _ = fmt.Fprint(out, usageHeader)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.untilSucceeded && c.runFor <= 0 {
		return c, errors.New("--until-succeeded needs a bound: --for (or DEMO_DURATION)")
	}
	if c.refresh <= 0 || c.backupDuration <= 0 {
		return c, errors.New("--refresh and --backup-duration must be positive")
	}
	return c, nil
}

// envDuration reads a duration from the environment; unset or invalid is 0
// (an invalid value is reported by the flag default shown in --help).
func envDuration(name string) time.Duration {
	d, err := time.ParseDuration(os.Getenv(name))
	if err != nil {
		return 0
	}
	return d
}

// run is the demo; it returns the process exit code. It stops everything it
// started before it returns, also when ctx ends (Ctrl-C).
func run(ctx context.Context, args []string, stdout io.Writer) int {
	cfg, err := parseFlags(args, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		_, _ = fmt.Fprintln(stdout, "demo:", err)
		return exitUsage
	}
	out := &syncWriter{w: stdout}
	d := &demo{cfg: cfg, out: out, terminal: !cfg.plain && isTerminal(stdout)}
	err = d.run(ctx)
	stopErr := d.stop()
	if err = errors.Join(err, stopErr); err != nil {
		d.printf("demo: FAILED: %v", err)
		return exitFailed
	}
	return exitOK
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
