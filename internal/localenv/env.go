package localenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
)

// Options configure New.
type Options struct {
	// Dir holds the environment's state: kubeconfig, binaries, logs. Empty
	// means a new temporary directory, which Stop removes unless KeepDir.
	// A given Dir is created if needed and never removed.
	Dir     string
	KeepDir bool
	// Root is the checkout; empty means RepoRoot().
	Root string
	// Progress gets one line per step (building, starting, stopping); nil
	// discards them.
	Progress io.Writer
}

// Env is a local environment: a state directory and the parts started in
// it, which Stop ends in reverse order. The fields are set by the Start
// methods (the latest of each kind); the methods are safe to call from one
// goroutine while another calls Stop.
type Env struct {
	// Root is the checkout, Dir the state directory.
	Root string
	Dir  string

	ControlPlane *ControlPlane
	Simulator    *Simulator
	Manager      *Manager
	VersityGW    *VersityGW

	progress  io.Writer
	removeDir bool

	mu      sync.Mutex
	stops   []namedStop
	stopped bool
	bins    Binaries
}

type namedStop struct {
	name string
	stop func() error
}

// errStopped is returned by a Start method that finished after Stop.
var errStopped = errors.New("localenv: the environment was stopped")

// New makes an environment; nothing runs yet.
func New(opts Options) (*Env, error) {
	e := &Env{Root: opts.Root, Dir: opts.Dir, progress: opts.Progress}
	if e.progress == nil {
		e.progress = io.Discard
	}
	var err error
	if e.Root == "" {
		if e.Root, err = RepoRoot(); err != nil {
			return nil, err
		}
	}
	if e.Dir == "" {
		if e.Dir, err = os.MkdirTemp("", "dcs-localenv-"); err != nil {
			return nil, err
		}
		e.removeDir = !opts.KeepDir
	} else if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return nil, err
	}
	return e, nil
}

// Path returns name inside the state directory.
func (e *Env) Path(name string) string { return filepath.Join(e.Dir, name) }

func (e *Env) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(e.progress, format+"\n", args...)
}

// track registers stop to run on Stop; after Stop it runs stop at once
// and returns errStopped.
func (e *Env) track(name string, stop func() error) error {
	e.mu.Lock()
	if !e.stopped {
		e.stops = append(e.stops, namedStop{name, stop})
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	return errors.Join(errStopped, stop())
}

// StartControlPlane starts kube-apiserver and etcd with the operator's
// CRDs. Empty options default to: the binaries of ControlPlaneAssets (built
// on the first run), <Root>/config/crd/bases, and <Dir>/kubeconfig.
func (e *Env) StartControlPlane(ctx context.Context, opts ControlPlaneOptions) (*ControlPlane, error) {
	if opts.AssetsDir == "" {
		dir, err := ControlPlaneAssets(ctx, e.Root, e.progress)
		if err != nil {
			return nil, err
		}
		opts.AssetsDir = dir
	}
	if opts.CRDDirs == nil {
		opts.CRDDirs = []string{filepath.Join(e.Root, "config", "crd", "bases")}
	}
	if opts.KubeconfigPath == "" {
		opts.KubeconfigPath = e.Path("kubeconfig")
	}
	e.logf("starting kube-apiserver and etcd (%s)", opts.AssetsDir)
	cp, err := StartControlPlane(opts)
	if err != nil {
		return nil, err
	}
	if err := e.track("control plane", cp.Stop); err != nil {
		return nil, err
	}
	e.ControlPlane = cp
	return cp, nil
}

// Build builds the manager and the simulator into <Dir>/bin, once per Env.
func (e *Env) Build(ctx context.Context) (Binaries, error) {
	e.mu.Lock()
	bins := e.bins
	e.mu.Unlock()
	if bins.Manager != "" {
		return bins, nil
	}
	e.logf("building the manager and the DCS simulator (go build)")
	bins, err := Build(ctx, e.Root, e.Path("bin"))
	if err != nil {
		return bins, err
	}
	e.mu.Lock()
	e.bins = bins
	e.mu.Unlock()
	return bins, nil
}

// StartSimulator runs the simulator binary (built by Build if
// opts.Binary is empty), logging to <Dir>/dcs-simulator.log by default.
func (e *Env) StartSimulator(ctx context.Context, opts SimulatorOptions) (*Simulator, error) {
	if opts.Binary == "" {
		bins, err := e.Build(ctx)
		if err != nil {
			return nil, err
		}
		opts.Binary = bins.Simulator
	}
	if opts.LogPath == "" {
		opts.LogPath = e.Path("dcs-simulator.log")
	}
	e.logf("starting the DCS simulator")
	sim, err := StartSimulatorProcess(ctx, opts)
	if err != nil {
		return nil, err
	}
	return sim, e.addSimulator(sim)
}

// StartSimulatorInProcess serves a simulator from this process.
func (e *Env) StartSimulatorInProcess(opts SimulatorOptions) (*Simulator, error) {
	sim, err := StartSimulatorInProcess(opts)
	if err != nil {
		return nil, err
	}
	return sim, e.addSimulator(sim)
}

func (e *Env) addSimulator(sim *Simulator) error {
	if err := e.track("dcs-simulator", sim.Stop); err != nil {
		return err
	}
	e.Simulator = sim
	return nil
}

// StartVersityGW runs the versitygw S3 gateway (the binary of
// $VERSITYGW if opts.Binary is empty) with its state in <Dir>/versitygw.
func (e *Env) StartVersityGW(ctx context.Context, opts VersityGWOptions) (*VersityGW, error) {
	if opts.Dir == "" {
		opts.Dir = e.Path("versitygw")
	}
	e.logf("starting versitygw")
	gw, err := StartVersityGW(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := e.track("versitygw", gw.Stop); err != nil {
		return nil, err
	}
	e.VersityGW = gw
	return gw, nil
}

// StartManager runs the manager against the control plane. Empty options
// default to: the binary of Build, the control plane's kubeconfig, and
// <Dir>/manager.log.
func (e *Env) StartManager(ctx context.Context, opts ManagerOptions) (*Manager, error) {
	if opts.Binary == "" {
		bins, err := e.Build(ctx)
		if err != nil {
			return nil, err
		}
		opts.Binary = bins.Manager
	}
	if opts.Kubeconfig == "" && e.ControlPlane != nil {
		opts.Kubeconfig = e.ControlPlane.KubeconfigPath
	}
	if opts.LogPath == "" {
		opts.LogPath = e.Path("manager.log")
	}
	e.logf("starting the manager")
	m, err := StartManager(ctx, opts)
	if err != nil {
		return nil, err
	}
	// Stop, not Kill: a manager the caller killed is just gone already.
	if err := e.track("manager", m.Stop); err != nil {
		return nil, err
	}
	e.Manager = m
	return m, nil
}

// Stop stops everything the environment started, newest first, and
// removes the state directory if New made it (and KeepDir is false). It
// tries every part even if one fails, and may be called more than once.
func (e *Env) Stop() error {
	e.mu.Lock()
	stops := e.stops
	e.stops, e.stopped = nil, true
	e.mu.Unlock()
	var errs []error
	for i := len(stops) - 1; i >= 0; i-- {
		e.logf("stopping %s", stops[i].name)
		if err := stops[i].stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", stops[i].name, err))
		}
	}
	if e.removeDir {
		if err := os.RemoveAll(e.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// StopOnSignal stops the environment when the process gets SIGINT,
// SIGTERM or SIGHUP, then lets the signal take its default course (the
// process exits), so that an interrupted test leaves nothing running. The
// returned function cancels it. Programs with their own signal handling
// (hack/demo) call Stop themselves instead.
func (e *Env) StopOnSignal() (cancel func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			_ = e.Stop()
			signal.Stop(ch)
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Signal(sig)
			}
		case <-done:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
		})
	}
}
