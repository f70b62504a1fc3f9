package localenv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// DefaultStopTimeout is how long Stop waits after SIGTERM before SIGKILL.
const DefaultStopTimeout = 30 * time.Second

// ProcessSpec describes a process to run.
type ProcessSpec struct {
	// Name identifies the process in messages ("manager", "dcs-simulator").
	Name string
	// Path is the binary; Args its arguments (without the binary).
	Path string
	Args []string
	// Env is added to the parent's environment.
	Env []string
	// Dir is the working directory; empty means the parent's.
	Dir string
	// LogPath receives stdout and stderr, appended across restarts. Empty
	// discards them.
	LogPath string
	// Output, if set, also receives stdout and stderr.
	Output io.Writer
	// StopTimeout is the grace period of Stop; default DefaultStopTimeout.
	StopTimeout time.Duration
}

// Process is a child process in its own process group. Signals go to the
// whole group, so anything it forks goes with it. It can be stopped and
// started again (Restart); PID, Done and Wait refer to the current run.
type Process struct {
	spec ProcessSpec

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *os.File
}

// StartProcess starts a process described by spec.
func StartProcess(spec ProcessSpec) (*Process, error) {
	if spec.StopTimeout <= 0 {
		spec.StopTimeout = DefaultStopTimeout
	}
	p := &Process{spec: spec}
	if err := p.start(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Process) start() error {
	cmd := exec.Command(p.spec.Path, p.spec.Args...)
	cmd.Env = append(os.Environ(), p.spec.Env...)
	cmd.Dir = p.spec.Dir
	cmd.SysProcAttr = sysProcAttr()
	logFile, err := p.openLog()
	if err != nil {
		return err
	}
	out := p.output(logFile)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		closeQuietly(logFile)
		return fmt.Errorf("start %s: %w", p.spec.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.err, p.log = cmd, done, nil, logFile
	p.mu.Unlock()
	go p.reap(cmd, done, logFile)
	return nil
}

func (p *Process) openLog() (*os.File, error) {
	if p.spec.LogPath == "" {
		return nil, nil
	}
	f, err := os.OpenFile(p.spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log of %s: %w", p.spec.Name, err)
	}
	return f, nil
}

// output is where the child writes: the log file, the extra writer, both
// or nowhere. A bare *os.File is handed to the child without a copying
// goroutine.
func (p *Process) output(logFile *os.File) io.Writer {
	switch {
	case logFile != nil && p.spec.Output != nil:
		return io.MultiWriter(logFile, p.spec.Output)
	case logFile != nil:
		return logFile
	case p.spec.Output != nil:
		return p.spec.Output
	default:
		return nil
	}
}

func (p *Process) reap(cmd *exec.Cmd, done chan struct{}, logFile *os.File) {
	err := cmd.Wait()
	closeQuietly(logFile)
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
	close(done)
}

func closeQuietly(f *os.File) {
	if f != nil {
		_ = f.Close()
	}
}

// Name returns the process's name.
func (p *Process) Name() string { return p.spec.Name }

// LogPath returns the file that gets the process's output ("" if none).
func (p *Process) LogPath() string { return p.spec.LogPath }

// PID returns the process id of the current run, also the id of its
// process group. Read /proc/PID/status (VmRSS) and /proc/PID/stat (utime,
// stime) for its memory and CPU.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Done is closed when the current run has exited.
func (p *Process) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Exited reports whether the current run has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// Wait waits for the current run to exit and returns its exit error
// (nil for status 0).
func (p *Process) Wait() error {
	<-p.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Signal sends sig to the process group of the current run, if it still
// runs.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	err := signalGroup(p.PID(), sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Kill sends SIGKILL to the process group and waits for the process to
// exit: a crash, as far as the process can tell.
func (p *Process) Kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", p.spec.Name, err)
	}
	<-p.Done()
	return nil
}

// Stop sends SIGTERM to the process group and waits for the process to
// exit; after the spec's StopTimeout it kills the group and reports that
// the process did not stop in time. Stopping an exited process is a no-op.
func (p *Process) Stop() error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop %s: %w", p.spec.Name, err)
	}
	timer := time.NewTimer(p.spec.StopTimeout)
	defer timer.Stop()
	select {
	case <-p.Done():
		return nil
	case <-timer.C:
	}
	if err := p.Kill(); err != nil {
		return err
	}
	return fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", p.spec.Name, p.spec.StopTimeout)
}

// Restart stops the process (SIGTERM, see Stop) and starts it again with
// the same spec. A process that already exited is just started.
func (p *Process) Restart() error {
	stopErr := p.Stop()
	if err := p.start(); err != nil {
		return errors.Join(stopErr, err)
	}
	return stopErr
}

// Start starts the process again after it exited (a Kill, a crash). It
// fails if the process still runs.
func (p *Process) Start() error {
	if !p.Exited() {
		return fmt.Errorf("%s is still running (pid %d)", p.spec.Name, p.PID())
	}
	return p.start()
}
