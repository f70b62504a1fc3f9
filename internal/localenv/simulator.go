package localenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

// DefaultSimulatorStartTimeout bounds the start of the simulator binary.
const DefaultSimulatorStartTimeout = 30 * time.Second

// SimulatorOptions configure a DCS simulator, as a process
// (StartSimulatorProcess) or in this process (StartSimulatorInProcess).
// Zero values take the simulator's defaults.
type SimulatorOptions struct {
	// Binary is hack/dcs-simulator built (see Build); needed for a process.
	Binary string
	// Listen is host:port; empty picks a free port on 127.0.0.1.
	Listen string
	// Instances are instance ids, each optionally with ":MODE" and/or
	// ":STATUS" as in the binary's --instances ("a,b:single"); a process
	// also takes the binary's other parts (":shards=4:size=96MiB").
	Instances []string
	// ProjectID, AccessKey and SecretKey are what clients must use.
	ProjectID string
	AccessKey string
	SecretKey string
	// BackupDuration and RestoreDuration: create to final state.
	BackupDuration  time.Duration
	RestoreDuration time.Duration
	// AutoBackupInterval makes automatic backups appear; 0 disables.
	AutoBackupInterval time.Duration
	// RateLimit (requests per second per key) and RateBurst: 429s beyond.
	RateLimit float64
	RateBurst int
	// DownloadRate bounds each download-link GET to this many bytes per
	// second; 0 serves links as fast as the client reads.
	DownloadRate int64
	// Faults are the initial random faults (change them with SetFaults).
	Faults simulator.Faults
	// Seed makes ids and faults reproducible; 0 is random.
	Seed uint64
	// ExtraArgs are appended to the binary's flags.
	ExtraArgs []string
	// LogPath receives the binary's request log.
	LogPath string
	// StartTimeout bounds the start of the binary; default
	// DefaultSimulatorStartTimeout.
	StartTimeout time.Duration
}

// Simulator is a running DCS simulator with the credentials it accepts.
// Its admin API (/_sim/) is read the same way for both kinds.
type Simulator struct {
	// URL is the endpoint: spec.connection.endpoint of DCSBackups.
	URL string
	// ProjectID, AccessKey and SecretKey are what clients must use: the
	// credentials Secret holds the keys.
	ProjectID string
	AccessKey string
	SecretKey string

	proc   *Process
	sim    *simulator.Simulator
	server *httptest.Server
	http   *http.Client
}

// StartSimulatorProcess runs opts.Binary and waits until it serves.
func StartSimulatorProcess(ctx context.Context, opts SimulatorOptions) (*Simulator, error) {
	if opts.Binary == "" {
		return nil, errors.New("localenv: SimulatorOptions.Binary is required for a simulator process")
	}
	opts = opts.withDefaults()
	if opts.Listen == "" {
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		opts.Listen = addr
	}
	proc, err := StartProcess(ProcessSpec{
		Name: "dcs-simulator", Path: opts.Binary, Args: opts.args(), LogPath: opts.LogPath,
		// The secret key goes by environment, not by a flag visible in ps.
		Env:         []string{"DCS_SIMULATOR_SECRET_KEY=" + opts.SecretKey},
		StopTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	s := opts.simulator("http://" + opts.Listen)
	s.proc = proc
	if err := WaitHTTP(ctx, proc, s.AdminURL()+"stats", opts.StartTimeout); err != nil {
		return nil, errors.Join(err, proc.Kill())
	}
	return s, nil
}

// StartSimulatorInProcess serves a simulator from this process
// (httptest). Binary, Listen, ExtraArgs, LogPath and StartTimeout do not
// apply. InProcess gives the *simulator.Simulator for its Go controls.
func StartSimulatorInProcess(opts SimulatorOptions) (*Simulator, error) {
	opts = opts.withDefaults()
	insts, err := parseInstances(opts.Instances)
	if err != nil {
		return nil, err
	}
	sim, server := simulator.NewServer(simulator.Options{
		ProjectID:          opts.ProjectID,
		Credentials:        map[string]simulator.Credential{opts.AccessKey: {SecretKey: opts.SecretKey}},
		Instances:          insts,
		BackupDuration:     opts.BackupDuration,
		RestoreDuration:    opts.RestoreDuration,
		AutoBackupInterval: opts.AutoBackupInterval,
		RateLimit:          opts.RateLimit,
		RateBurst:          opts.RateBurst,
		DownloadRate:       opts.DownloadRate,
		Faults:             opts.Faults,
		Seed:               opts.Seed,
	})
	s := opts.simulator(server.URL)
	s.sim, s.server = sim, server
	return s, nil
}

func (o SimulatorOptions) withDefaults() SimulatorOptions {
	if o.ProjectID == "" {
		o.ProjectID = simulator.DefaultProjectID
	}
	if o.AccessKey == "" {
		o.AccessKey = simulator.DefaultAccessKey
	}
	if o.SecretKey == "" {
		o.SecretKey = simulator.DefaultSecretKey
	}
	if len(o.Instances) == 0 {
		o.Instances = []string{simulator.DefaultInstanceID}
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultSimulatorStartTimeout
	}
	return o
}

func (o SimulatorOptions) simulator(url string) *Simulator {
	return &Simulator{
		URL: url, ProjectID: o.ProjectID, AccessKey: o.AccessKey, SecretKey: o.SecretKey,
		http: &http.Client{Timeout: 10 * time.Second},
	}
}

// args are the binary's flags for o; zero values are left to its defaults.
func (o SimulatorOptions) args() []string {
	args := []string{
		"--listen=" + o.Listen,
		"--project-id=" + o.ProjectID,
		"--access-key=" + o.AccessKey,
		"--instances=" + strings.Join(o.Instances, ","),
	}
	durations := []struct {
		flag string
		d    time.Duration
	}{
		{"backup-duration", o.BackupDuration}, {"restore-duration", o.RestoreDuration},
		{"auto-backup-interval", o.AutoBackupInterval}, {"latency", o.Faults.Latency},
	}
	for _, f := range durations {
		if f.d > 0 {
			args = append(args, "--"+f.flag+"="+f.d.String())
		}
	}
	rates := []struct {
		flag string
		v    float64
	}{
		{"rate-limit", o.RateLimit}, {"error-rate", o.Faults.ErrorRate}, {"throttle-rate", o.Faults.ThrottleRate},
		{"lost-response-rate", o.Faults.LostResponseRate}, {"backup-fail-rate", o.Faults.BackupFailRate},
		{"restore-fail-rate", o.Faults.RestoreFailRate},
	}
	for _, f := range rates {
		if f.v > 0 {
			args = append(args, "--"+f.flag+"="+strconv.FormatFloat(f.v, 'g', -1, 64))
		}
	}
	if o.RateBurst > 0 {
		args = append(args, "--rate-burst="+strconv.Itoa(o.RateBurst))
	}
	if o.DownloadRate > 0 {
		args = append(args, "--download-rate="+strconv.FormatInt(o.DownloadRate, 10))
	}
	if o.Seed != 0 {
		args = append(args, "--seed="+strconv.FormatUint(o.Seed, 10))
	}
	return append(args, o.ExtraArgs...)
}

// parseInstances reads "id[:MODE][:STATUS]" like the binary's --instances.
func parseInstances(specs []string) ([]simulator.Instance, error) {
	modes := map[string]bool{"single": true, "ha": true, "ha_rw_split": true, "proxy": true, "cluster": true}
	out := make([]simulator.Instance, 0, len(specs))
	for _, spec := range specs {
		parts := strings.Split(spec, ":")
		inst := simulator.Instance{ID: parts[0]}
		for _, p := range parts[1:] {
			switch {
			case modes[p]:
				inst.CacheMode = p
			case p != "" && p == strings.ToUpper(p):
				inst.Status = p
			default:
				return nil, fmt.Errorf("instance %q: %q is neither a cache mode nor an upper-case status", spec, p)
			}
		}
		out = append(out, inst)
	}
	return out, nil
}

// AdminURL is the base of the admin API, ending in "/": AdminURL()+"stats".
func (s *Simulator) AdminURL() string { return s.URL + simulator.AdminPrefix }

// Process is the simulator's process (Kill, Restart, PID, LogPath), nil
// when it runs in this process. A restarted simulator forgets its backups.
func (s *Simulator) Process() *Process { return s.proc }

// InProcess is the simulator served from this process, nil for a process.
func (s *Simulator) InProcess() *simulator.Simulator { return s.sim }

// Stats returns the request counters (GET /_sim/stats).
func (s *Simulator) Stats(ctx context.Context) (simulator.Stats, error) {
	var st simulator.Stats
	return st, s.Admin(ctx, http.MethodGet, "stats", nil, &st)
}

// Backups returns every backup the simulator knows (GET /_sim/backups).
func (s *Simulator) Backups(ctx context.Context) ([]simulator.BackupRecord, error) {
	var b []simulator.BackupRecord
	return b, s.Admin(ctx, http.MethodGet, "backups", nil, &b)
}

// Restores returns every restore the simulator knows (GET /_sim/restores).
func (s *Simulator) Restores(ctx context.Context) ([]simulator.RestoreRecord, error) {
	var r []simulator.RestoreRecord
	return r, s.Admin(ctx, http.MethodGet, "restores", nil, &r)
}

// SetFaults replaces the random faults (POST /_sim/faults).
func (s *Simulator) SetFaults(ctx context.Context, f simulator.Faults) error {
	return s.Admin(ctx, http.MethodPost, "faults", f, nil)
}

// Admin calls the admin endpoint path (without /_sim/) with in as the JSON
// body (nil: none) and decodes the answer into out (nil: ignored).
func (s *Simulator) Admin(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.AdminURL()+path, body)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, req.URL, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// Stop stops the simulator (SIGTERM for a process).
func (s *Simulator) Stop() error {
	if s.server != nil {
		s.server.Close()
		return nil
	}
	return s.proc.Stop()
}
