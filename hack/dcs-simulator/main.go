// Command dcs-simulator serves the DCS backup API simulator
// (internal/dcs/simulator) over HTTP, for the demo and for testing against
// DCS without a cloud account:
//
//	go run ./hack/dcs-simulator --instances=inst-1,inst-2:single --backup-duration=20s
//	go run ./hack/dcs-simulator --instances='a:tag.env=prod,b:cluster:shards=6:size=1GiB:tag.env=prod' \
//	    --import-duration=1m --import-password-check=task --link-expiry=2m --download-rate=8MiB
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
	"strconv"
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
	backupSize   string
	pwCheck      string
	downloadRate string
}

const usageHeader = `dcs-simulator serves a simulated DCS (Distributed Cache Service) backup API,
signed with SDK-HMAC-SHA256, under /v2/{project_id} and /v1.0/{project_id}: backups, restores,
instances with tags, backup imports (migration tasks, v2 only) and backup file download links,
which it serves itself under /_obs/ with S3-style presigned URLs.

Usage: dcs-simulator [flags]

Flags:
`

const instancesHelp = `comma-separated instance ids, each optionally followed by colon-separated parts:
MODE, STATUS, shards=N, size=SIZE and tag.KEY=VALUE, e.g.
"a,b:single,c:cluster:ERROR,d:cluster:shards=6:size=1GiB:tag.env=prod:tag.team=shop".
MODE is single, ha (default), ha_rw_split, proxy or cluster; single-node instances refuse backups
(DCS.4095). STATUS is RUNNING (default), ERROR, RESTARTING, ... shards is a cluster's shard count
(1-64, default 3: one backup file per shard). size is the size of the instance's backups (bytes,
or with KiB, MiB, GiB; overrides --backup-size). Tags are listed and filtered by GET /v2/{project_id}/instances.
A Redis password (for imports into the instance) is set with the admin API only, never on the
command line, which other users can read`

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
	fs.IntVar(&c.opts.MaxBackupsPerInstance, "max-backups", simulator.DefaultMaxBackupsPerInstance,
		"live backups per instance (manual and automatic); one more evicts the oldest, listed as deleted; negative: no cap")
	fs.StringVar(&c.backupSize, "backup-size", "",
		"size of every backup (bytes, or with KiB, MiB, GiB; split over a cluster's shard files); empty: random 1-64 MiB")
	fs.DurationVar(&c.opts.ImportDuration, "import-duration", simulator.DefaultImportDuration,
		"time from a backup import's create to SUCCESS/FAILED (MIGRATING meanwhile; the target is busy, DCS.4017)")
	fs.StringVar(&c.pwCheck, "import-password-check", string(simulator.PasswordCheckAtCreate),
		"when a wrong target password fails an import: 'create' (400 DCS.4080) or 'task' (the task ends FAILED)")
	fs.DurationVar(&c.opts.LinkExpiry, "link-expiry", 0,
		"download links expire this long after they are issued when that is sooner than asked; 0: as asked (5 min-24 h)")
	fs.BoolVar(&c.opts.LinkHEADForbidden, "link-head-forbidden", false,
		"answer HEAD on a download link 403, as S3 v2 query auth does for a URL signed for GET")
	fs.StringVar(&c.downloadRate, "download-rate", "",
		"bytes per second of each download-link GET (bytes, or with KiB, MiB, GiB), like a connection of limited bandwidth; "+
			"empty: as fast as the client reads")
	fs.Float64Var(&c.opts.RateLimit, "rate-limit", 0, "requests per second per access key before 429 APIG.0308 (token bucket); 0 disables")
	fs.IntVar(&c.opts.RateBurst, "rate-burst", 0, "token bucket size for --rate-limit (default ceil(rate-limit))")
	fs.Float64Var(&c.opts.Faults.ErrorRate, "error-rate", 0, "fraction of requests answered 500 DCS.5000, 502 or 504")
	fs.Float64Var(&c.opts.Faults.ThrottleRate, "throttle-rate", 0, "fraction of requests answered 429 APIG.0308 with Retry-After")
	fs.DurationVar(&c.opts.Faults.Latency, "latency", 0, "maximum random latency added to each API request")
	fs.Float64Var(&c.opts.Faults.LostResponseRate, "lost-response-rate", 0,
		"fraction of successful create/delete/restore requests answered 504 anyway")
	fs.Float64Var(&c.opts.Faults.BackupFailRate, "backup-fail-rate", 0, "fraction of backups that end failed (dcs.08.0002)")
	fs.Float64Var(&c.opts.Faults.RestoreFailRate, "restore-fail-rate", 0, "fraction of restores that end failed (dcs.08.0007)")
	fs.Float64Var(&c.opts.Faults.ImportFailRate, "import-fail-rate", 0, "fraction of backup imports that end FAILED")
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
		c.opts.Faults.BackupFailRate, c.opts.Faults.RestoreFailRate, c.opts.Faults.ImportFailRate} {
		if rate < 0 || rate > 1 {
			return fmt.Errorf("rates must be between 0 and 1, got %v", rate)
		}
	}
	switch simulator.PasswordCheck(c.pwCheck) {
	case simulator.PasswordCheckAtCreate, simulator.PasswordCheckInTask:
		c.opts.ImportPasswordCheck = simulator.PasswordCheck(c.pwCheck)
	default:
		return fmt.Errorf("--import-password-check must be %q or %q", simulator.PasswordCheckAtCreate, simulator.PasswordCheckInTask)
	}
	if c.opts.ImportDuration <= 0 || c.opts.LinkExpiry < 0 {
		return errors.New("--import-duration must be positive and --link-expiry not negative")
	}
	c.opts.Credentials = map[string]simulator.Credential{c.accessKey: {SecretKey: c.secretKey, SecurityToken: c.token}}
	return c.completeSizes()
}

// completeSizes reads the instances and the flags that take a size.
func (c *config) completeSizes() error {
	insts, err := parseInstances(c.instances)
	if err != nil {
		return err
	}
	if c.downloadRate != "" {
		if c.opts.DownloadRate, err = parseSize(c.downloadRate); err != nil {
			return fmt.Errorf("--download-rate: %w", err)
		}
	}
	var size int64
	if c.backupSize != "" {
		if size, err = parseSize(c.backupSize); err != nil {
			return fmt.Errorf("--backup-size: %w", err)
		}
	}
	for i := range insts {
		if insts[i].BackupSize == 0 {
			insts[i].BackupSize = size
		}
	}
	c.opts.Instances = insts
	return nil
}

var cacheModes = map[string]bool{"single": true, "ha": true, "ha_rw_split": true, "proxy": true, "cluster": true}

// parseInstances reads "id[:MODE][:STATUS][:shards=N][:size=SIZE][:tag.K=V]...,...".
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
			if err := applyInstancePart(&inst, p); err != nil {
				return nil, fmt.Errorf("--instances: %s: %w", inst.ID, err)
			}
		}
		out = append(out, inst)
	}
	return out, nil
}

// applyInstancePart applies one ":part" of an instance spec.
func applyInstancePart(inst *simulator.Instance, p string) error {
	if key, value, isKV := strings.Cut(p, "="); isKV {
		return applyInstanceSetting(inst, key, value)
	}
	switch {
	case cacheModes[p]:
		inst.CacheMode = p
	case p != "" && p == strings.ToUpper(p):
		inst.Status = p
	default:
		return fmt.Errorf("%q is neither a cache mode, an upper-case status, shards=N, size=SIZE nor tag.KEY=VALUE", p)
	}
	return nil
}

// applyInstanceSetting applies shards=N, size=SIZE or tag.KEY=VALUE.
func applyInstanceSetting(inst *simulator.Instance, key, value string) error {
	switch {
	case key == "shards":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > simulator.MaxShardCount {
			return fmt.Errorf("shards=%q must be 1 to %d", value, simulator.MaxShardCount)
		}
		inst.ShardCount = n
	case key == "size":
		size, err := parseSize(value)
		if err != nil {
			return err
		}
		inst.BackupSize = size
	case strings.HasPrefix(key, "tag.") && len(key) > len("tag."):
		if inst.Tags == nil {
			inst.Tags = map[string]string{}
		}
		inst.Tags[strings.TrimPrefix(key, "tag.")] = value
	default:
		return fmt.Errorf("%q is neither shards=N, size=SIZE nor tag.KEY=VALUE", key+"="+value)
	}
	return nil
}

var sizeUnits = map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}

// parseSize reads a byte count: a number, optionally followed by B, KiB,
// MiB or GiB.
func parseSize(s string) (int64, error) {
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit, ok := sizeUnits[s[len(num):]]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n <= 0 || n > (1<<50)/unit {
		return 0, fmt.Errorf("size %q must be a positive number of bytes, KiB, MiB or GiB", s)
	}
	return n * unit, nil
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
		"backup_duration", cfg.opts.BackupDuration, "import_duration", cfg.opts.ImportDuration,
		"import_password_check", cfg.opts.ImportPasswordCheck, "max_backups", cfg.opts.MaxBackupsPerInstance,
		"download_rate", cfg.opts.DownloadRate,
		"admin", "http://"+ln.Addr().String()+simulator.AdminPrefix)
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
