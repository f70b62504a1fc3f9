package localenv

import (
	"context"
	"errors"
	"io"
	"time"
)

// DefaultManagerStartTimeout bounds the wait for the manager's /readyz.
const DefaultManagerStartTimeout = time.Minute

// ManagerOptions configure StartManager.
type ManagerOptions struct {
	// Binary is the manager built (see Build). Required.
	Binary string
	// Kubeconfig is the kubeconfig file it connects with (--kubeconfig).
	// Required.
	Kubeconfig string
	// Metrics serves plain-http metrics on a free port (MetricsURL); off
	// by default.
	Metrics bool
	// Args are appended to the flags StartManager sets, which are
	// --kubeconfig, --insecure-endpoints (the simulator speaks plain http;
	// pass --insecure-endpoints=false to undo), --health-probe-bind-address
	// and --metrics-bind-address.
	Args []string
	// Env is added to the environment.
	Env []string
	// LogPath receives the manager's log; Output also gets it if set.
	LogPath string
	Output  io.Writer
	// StartTimeout bounds the wait for /readyz; default
	// DefaultManagerStartTimeout. StopTimeout is the SIGTERM grace period
	// (default DefaultStopTimeout).
	StartTimeout time.Duration
	StopTimeout  time.Duration
}

// Manager is the operator's manager running as a process. The embedded
// Process gives PID, Kill, Stop, Wait and LogPath.
type Manager struct {
	*Process
	// HealthAddr serves /healthz and /readyz.
	HealthAddr string
	// MetricsURL is the metrics endpoint ("" unless Options.Metrics).
	MetricsURL string

	startTimeout time.Duration
}

// StartManager starts the manager and waits until it is ready.
func StartManager(ctx context.Context, opts ManagerOptions) (*Manager, error) {
	if opts.Binary == "" || opts.Kubeconfig == "" {
		return nil, errors.New("localenv: ManagerOptions need Binary and Kubeconfig")
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultManagerStartTimeout
	}
	m := &Manager{startTimeout: opts.StartTimeout}
	args, err := m.flags(opts)
	if err != nil {
		return nil, err
	}
	m.Process, err = StartProcess(ProcessSpec{
		Name: "manager", Path: opts.Binary, Args: append(args, opts.Args...), Env: opts.Env,
		LogPath: opts.LogPath, Output: opts.Output, StopTimeout: opts.StopTimeout,
	})
	if err != nil {
		return nil, err
	}
	if err := m.WaitReady(ctx); err != nil {
		return nil, errors.Join(err, m.Kill())
	}
	return m, nil
}

// flags picks the ports and returns the flags StartManager sets.
func (m *Manager) flags(opts ManagerOptions) ([]string, error) {
	var err error
	if m.HealthAddr, err = FreeAddr(); err != nil {
		return nil, err
	}
	metrics := "0"
	if opts.Metrics {
		if metrics, err = FreeAddr(); err != nil {
			return nil, err
		}
		m.MetricsURL = "http://" + metrics + "/metrics"
	}
	return []string{
		"--kubeconfig=" + opts.Kubeconfig,
		"--insecure-endpoints",
		"--health-probe-bind-address=" + m.HealthAddr,
		"--metrics-bind-address=" + metrics,
		"--metrics-secure=false",
	}, nil
}

// WaitReady waits until the manager answers /readyz.
func (m *Manager) WaitReady(ctx context.Context) error {
	return WaitHTTP(ctx, m.Process, "http://"+m.HealthAddr+"/readyz", m.startTimeout)
}

// Restart stops the manager gracefully (SIGTERM), starts it again with the
// same flags and ports, and waits until it is ready.
func (m *Manager) Restart(ctx context.Context) error {
	if err := m.Process.Restart(); err != nil {
		return err
	}
	return m.WaitReady(ctx)
}

// Start starts the manager again after it exited (Kill, a crash) and waits
// until it is ready.
func (m *Manager) Start(ctx context.Context) error {
	if err := m.Process.Start(); err != nil {
		return err
	}
	return m.WaitReady(ctx)
}
