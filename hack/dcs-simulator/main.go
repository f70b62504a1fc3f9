// Command dcs-simulator serves the DCS backup API simulator
// (internal/dcs/simulator) over HTTP, for the demo and for testing against
// DCS without a cloud account:
//
//	go run ./hack/dcs-simulator --instances=inst-1,inst-2:single --backup-duration=20s
//
// Run it with --help for the flags and the admin endpoints.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "dcs-simulator:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// config is the parsed command line.
type config struct {
	listen       string
	opts         simulator.Options
	accessKey    string
	secretKey    string
	token        string
	instances    string
	shutdownWait time.Duration
}

const usageHeader = `dcs-simulator serves a simulated DCS (Distributed Cache Service) backup API,
signed with SDK-HMAC-SHA256, under /v2/{project_id} and /v1.0/{project_id}.

Usage: dcs-simulator [flags]

Flags:
`

const instancesHelp = `comma-separated instance ids, each optionally followed by :MODE and/or :STATUS,
e.g. "a,b:single,c:cluster:ERROR". MODE is single, ha (default), ha_rw_split, proxy or cluster;
single-node instances refuse backups (DCS.4095). STATUS is RUNNING (default), ERROR, RESTARTING, ...`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("dcs-simulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8787", "address to listen on (host:port; port 0 picks one)")
	fs.StringVar(&c.opts.ProjectID, "project-id", simulator.DefaultProjectID, "the project id clients must use")
	// Key defaults are resolved after parsing, so that --help never prints
	// a key taken from the environment.
	fs.StringVar(&c.accessKey, "access-key", "",
		"access key clients sign with (else env DCS_SIMULATOR_ACCESS_KEY, else "+simulator.DefaultAccessKey+")")
	fs.StringVar(&c.secretKey, "secret-key", "",
		"secret key (else env DCS_SIMULATOR_SECRET_KEY, else the demo key simulator.DefaultSecretKey; a flag value is visible in ps)")
	fs.StringVar(&c.token, "security-token", "",
		"if set, the key is temporary and requests must send this X-Security-Token (else env DCS_SIMULATOR_SECURITY_TOKEN)")
	fs.StringVar(&c.instances, "instances", simulator.DefaultInstanceID, instancesHelp)
	fs.DurationVar(&c.opts.BackupDuration, "backup-duration", simulator.DefaultBackupDuration,
		"time from create to succeed/failed (the first tenth is 'waiting')")
	fs.DurationVar(&c.opts.RestoreDuration, "restore-duration", simulator.DefaultRestoreDuration, "time from restore to succeed/failed")
	fs.DurationVar(&c.opts.AutoBackupInterval, "auto-backup-interval", 0,
		"automatic backups (backup_type auto) appear at this interval; 0 disables")
	fs.Float64Var(&c.opts.RateLimit, "rate-limit", 0, "requests per second per access key before 429 APIG.0308 (token bucket); 0 disables")
	fs.IntVar(&c.opts.RateBurst, "rate-burst", 0, "token bucket size for --rate-limit (default ceil(rate-limit))")
	fs.Float64Var(&c.opts.Faults.ErrorRate, "error-rate", 0, "fraction of requests answered 500 DCS.5000, 502 or 504")
	fs.Float64Var(&c.opts.Faults.ThrottleRate, "throttle-rate", 0, "fraction of requests answered 429 APIG.0308 with Retry-After")
	fs.DurationVar(&c.opts.Faults.Latency, "latency", 0, "maximum random latency added to each API request")
	fs.Float64Var(&c.opts.Faults.LostResponseRate, "lost-response-rate", 0,
		"fraction of successful create/delete/restore requests answered 504 anyway")
	fs.Float64Var(&c.opts.Faults.BackupFailRate, "backup-fail-rate", 0, "fraction of backups that end failed (dcs.08.0002)")
	fs.Float64Var(&c.opts.Faults.RestoreFailRate, "restore-fail-rate", 0, "fraction of restores that end failed (dcs.08.0007)")
	fs.Uint64Var(&c.opts.Seed, "seed", 0, "random seed for ids and faults (0: random)")
	fs.DurationVar(&c.shutdownWait, "shutdown-timeout", 5*time.Second, "how long to wait for requests on shutdown")
	fs.Usage = func() {
		_, _ = fmt.Fprint(stderr, usageHeader)
		fs.PrintDefaults()
		_, _ = fmt.Fprint(stderr, "\n"+simulator.AdminHelp)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, errUsage
	}
	if fs.NArg() > 0 {
		_, _ = fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		return c, errUsage
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	c.accessKey = flagEnvOr(explicit["access-key"], c.accessKey, "DCS_SIMULATOR_ACCESS_KEY", simulator.DefaultAccessKey)
	c.secretKey = flagEnvOr(explicit["secret-key"], c.secretKey, "DCS_SIMULATOR_SECRET_KEY", simulator.DefaultSecretKey)
	c.token = flagEnvOr(explicit["security-token"], c.token, "DCS_SIMULATOR_SECURITY_TOKEN", "")
	return c, c.complete()
}

// flagEnvOr picks an explicitly set flag (even empty), else the
// environment, else the default.
func flagEnvOr(set bool, flagValue, env, def string) string {
	if set {
		return flagValue
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// complete validates the flags and fills in Options.
func (c *config) complete() error {
	if c.accessKey == "" || c.secretKey == "" {
		return errors.New("--access-key and --secret-key must not be empty")
	}
	for _, rate := range []float64{c.opts.Faults.ErrorRate, c.opts.Faults.ThrottleRate, c.opts.Faults.LostResponseRate,
		c.opts.Faults.BackupFailRate, c.opts.Faults.RestoreFailRate} {
		if rate < 0 || rate > 1 {
			return fmt.Errorf("rates must be between 0 and 1, got %v", rate)
		}
	}
	c.opts.Credentials = map[string]simulator.Credential{c.accessKey: {SecretKey: c.secretKey, SecurityToken: c.token}}
	insts, err := parseInstances(c.instances)
	if err != nil {
		return err
	}
	c.opts.Instances = insts
	return nil
}

var cacheModes = map[string]bool{"single": true, "ha": true, "ha_rw_split": true, "proxy": true, "cluster": true}

// parseInstances reads "id[:MODE][:STATUS],...".
func parseInstances(spec string) ([]simulator.Instance, error) {
	var out []simulator.Instance
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		inst := simulator.Instance{ID: parts[0]}
		if inst.ID == "" {
			return nil, fmt.Errorf("--instances: empty id in %q", item)
		}
		for _, p := range parts[1:] {
			switch {
			case cacheModes[p]:
				inst.CacheMode = p
			case p != "" && p == strings.ToUpper(p):
				inst.Status = p
			default:
				return nil, fmt.Errorf("--instances: %q is neither a cache mode nor an upper-case status", p)
			}
		}
		out = append(out, inst)
	}
	return out, nil
}

// run serves until ctx ends. ready, if set, gets the listening address.
func run(ctx context.Context, args []string, _, stderr io.Writer, ready func(addr string)) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.opts.Logger = logger
	sim := simulator.New(cfg.opts)

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	ids := make([]string, 0, len(cfg.opts.Instances))
	for _, inst := range sim.Instances() {
		ids = append(ids, inst.ID+":"+inst.CacheMode+":"+inst.Status)
	}
	// The keys are never logged, only where they come from.
	logger.Info("dcs simulator listening", "endpoint", "http://"+ln.Addr().String(),
		"project_id", sim.ProjectID(), "instances", strings.Join(ids, ","),
		"backup_duration", cfg.opts.BackupDuration, "admin", "http://"+ln.Addr().String()+simulator.AdminPrefix)
	if ready != nil {
		ready(ln.Addr().String())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownWait)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("dcs simulator stopped")
	return nil
}
