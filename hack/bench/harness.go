package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// secretName is the credentials Secret of every run.
const secretName = "dcs-credentials"

// harness holds what every scenario shares: the control plane, the built
// binaries and a fast client.
type harness struct {
	cfg     config
	env     *localenv.Env
	cp      *localenv.ControlPlane
	bins    localenv.Binaries
	rest    *rest.Config
	c       client.Client
	log     io.Writer
	started time.Time

	mu  sync.Mutex
	seq int
}

func newHarness(ctx context.Context, cfg config, log io.Writer) (*harness, error) {
	h := &harness{cfg: cfg, log: log, started: time.Now()}
	env, err := localenv.New(localenv.Options{KeepDir: cfg.keep, Progress: &prefixWriter{h: h}})
	if err != nil {
		return nil, err
	}
	h.env = env
	if h.bins, err = env.Build(ctx); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	if h.cp, err = env.StartControlPlane(ctx, localenv.ControlPlaneOptions{}); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	// The benchmark's own client must never be what limits a scenario: no
	// client-side rate limit (the API server's priority and fairness still
	// applies), and parallel calls (see createAll).
	h.rest = rest.CopyConfig(h.cp.Config)
	h.rest.QPS = -1
	h.rest.Timeout = time.Minute
	if h.c, err = client.New(h.rest, client.Options{Scheme: h.cp.Scheme}); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	return h, nil
}

func (h *harness) stop() error {
	if h.cfg.keep {
		h.logf("state directory kept: %s", h.env.Dir)
	}
	return h.env.Stop()
}

func (h *harness) logf(format string, args ...any) {
	elapsed := time.Since(h.started).Round(time.Second)
	_, _ = fmt.Fprintf(h.log, "[%5s] %s\n", elapsed, fmt.Sprintf(format, args...))
}

// prefixWriter puts localenv's progress lines into the benchmark's log.
type prefixWriter struct{ h *harness }

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.h.logf("%s", trimNewline(string(p)))
	return len(p), nil
}

func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// runAll runs the scenarios the configuration asks for.
func (h *harness) runAll(ctx context.Context) (*results, error) {
	res := newResults(h.cfg)
	steps := []struct {
		name string
		run  func(context.Context, *results) error
	}{
		{scenarioBurst, h.burstScenario},
		{scenarioScaling, h.scalingScenario},
		{scenarioFleet, h.fleetScenario},
		{scenarioIdle, h.idleScenario},
		{scenarioExport, h.exportScenario},
		{scenarioFleetScale, h.fleetScaleScenario},
	}
	for _, s := range steps {
		if !h.cfg.scenarios[s.name] {
			continue
		}
		if err := s.run(ctx, res); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return res, nil
}

// runEnv is one run of a scenario: its namespace, simulator and manager.
// The manager watches only the run's namespace and the simulator serves
// only the run's instances, so runs do not see each other's objects.
type runEnv struct {
	h       *harness
	name    string
	ns      string
	sim     *localenv.Simulator
	mgr     *localenv.Manager
	obs     *observer
	sampler *sampler
	// managerEnv is added to the manager's environment.
	managerEnv []string
}

// newRun makes a namespace with the credentials Secret and starts a
// simulator serving instances.
func (h *harness) newRun(ctx context.Context, name string, instances []string, backupDuration time.Duration) (*runEnv, error) {
	return h.newRunWith(ctx, name, instances, backupDuration)
}

// newRunWith is newRun with extra flags for the simulator.
func (h *harness) newRunWith(ctx context.Context, name string, instances []string, backupDuration time.Duration,
	simArgs ...string) (*runEnv, error) {
	h.mu.Lock()
	h.seq++
	ns := name + "-" + strconv.Itoa(h.seq)
	h.mu.Unlock()
	r := &runEnv{h: h, name: name, ns: ns}
	if err := localenv.CreateNamespace(ctx, h.c, ns); err != nil {
		return nil, err
	}
	sim, err := localenv.StartSimulatorProcess(ctx, localenv.SimulatorOptions{
		Binary:         h.bins.Simulator,
		Instances:      instances,
		BackupDuration: backupDuration,
		RateLimit:      h.cfg.gatewayRPS,
		RateBurst:      h.cfg.gatewayBurst,
		ExtraArgs:      simArgs,
		LogPath:        h.env.Path(ns + "-dcs-simulator.log"),
	})
	if err != nil {
		return nil, err
	}
	r.sim = sim
	if err := localenv.CreateCredentialsSecret(ctx, h.c, ns, secretName, sim.AccessKey, sim.SecretKey); err != nil {
		return nil, errors.Join(err, r.stop())
	}
	return r, nil
}

// observe starts watching the run's DCSBackups.
func (r *runEnv) observe(ctx context.Context) error {
	obs, err := startObserver(ctx, r.h.rest, r.h.cp.Scheme, r.ns)
	if err != nil {
		return err
	}
	r.obs = obs
	return nil
}

// startManager starts the manager for the run's namespace, with metrics
// on a plain-http port, and starts sampling its heap.
func (r *runEnv) startManager(ctx context.Context, extra ...string) error {
	args := []string{
		"--watch-namespaces=" + r.ns,
		"--dcs-requests-per-second=" + strconv.FormatFloat(r.h.cfg.dcsRPS, 'g', -1, 64),
		"--dcs-burst=" + strconv.Itoa(r.h.cfg.dcsBurst),
	}
	args = append(append(args, extra...), r.h.cfg.managerArgs...)
	mgr, err := localenv.StartManager(ctx, localenv.ManagerOptions{
		Binary:     r.h.bins.Manager,
		Kubeconfig: r.h.cp.KubeconfigPath,
		Metrics:    true,
		Args:       args,
		Env:        r.managerEnv,
		LogPath:    r.h.env.Path(r.ns + "-manager.log"),
	})
	if err != nil {
		return err
	}
	r.mgr = mgr
	r.sampler = startSampler(mgr.MetricsURL, mgr.PID())
	return nil
}

// stop ends the run's processes and watch.
func (r *runEnv) stop() error {
	var errs []error
	if r.sampler != nil {
		r.sampler.stop()
	}
	if r.mgr != nil {
		errs = append(errs, r.mgr.Stop())
	}
	if r.sim != nil {
		errs = append(errs, r.sim.Stop())
	}
	if r.obs != nil {
		r.obs.stop()
	}
	return errors.Join(errs...)
}

// cores is the machine's core count, for the results.
func cores() int { return runtime.NumCPU() }
