package export

import (
	"context"
	"errors"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// DefaultMaxConcurrent is how many copies run at once by default: each
// holds a few upload parts in memory and one download and one upload
// stream on the network.
const DefaultMaxConcurrent = 2

// Runner runs export jobs in the background of the manager, at most
// MaxConcurrent at once, and holds their results until the controller
// recorded them. It runs on the leader only (the controllers that submit
// jobs do too). Reconcilers keep no state: what a copy in flight is, lives
// here.
type Runner struct {
	limit  int
	notify func(types.NamespacedName)
	run    func(context.Context, Job) Result

	mu      sync.Mutex
	ctx     context.Context
	stopped bool
	slots   chan struct{}
	jobs    map[types.UID]*entry
	wg      sync.WaitGroup
}

type entry struct {
	job    Job
	done   bool
	queued bool
	result Result
}

var (
	_ manager.Runnable               = (*Runner)(nil)
	_ manager.LeaderElectionRunnable = (*Runner)(nil)
)

// NewRunner returns a runner of at most limit copies at once; notify is
// called with the job's object when a job ends.
func NewRunner(limit int, notify func(types.NamespacedName)) *Runner {
	if limit <= 0 {
		limit = DefaultMaxConcurrent
	}
	return &Runner{limit: limit, notify: notify, run: Run, slots: make(chan struct{}, limit),
		jobs: map[types.UID]*entry{}}
}

// WithRun replaces the copy function (tests).
func (r *Runner) WithRun(run func(context.Context, Job) Result) *Runner {
	r.run = run
	return r
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: two
// managers must never copy into the same folder.
func (r *Runner) NeedLeaderElection() bool { return true }

// Start runs until ctx ends, then cancels the copies under way and waits
// for them: their multipart uploads are aborted, and no manifest is
// written for them.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

// ErrNotRunning is returned by Submit before Start or after the stop.
var ErrNotRunning = errors.New("the export runner is not running")

// Submit starts job unless one with its ID is known (running, queued, or
// finished and not yet forgotten): it reports whether it started it.
func (r *Runner) Submit(job Job) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil || r.stopped {
		return false, ErrNotRunning
	}
	if e, ok := r.jobs[job.ID]; ok && !e.done {
		return false, nil
	}
	e := &entry{job: job, queued: true}
	r.jobs[job.ID] = e
	r.wg.Add(1)
	go r.execute(r.ctx, e)
	return true, nil
}

func (r *Runner) execute(ctx context.Context, e *entry) {
	defer r.wg.Done()
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		r.finish(e, Result{Err: context.Cause(ctx)})
		return
	}
	r.mu.Lock()
	e.queued = false
	r.mu.Unlock()
	logger := log.FromContext(ctx).WithValues("export", e.job.Object, "folder", e.job.Folder)
	logger.V(1).Info("export started")
	res := r.run(ctx, e.job)
	<-r.slots
	if res.Err != nil {
		logger.V(1).Info("export failed", "error", res.Err.Error())
	} else {
		logger.V(1).Info("export done", "bytes", res.Bytes, "adopted", res.Adopted)
	}
	r.finish(e, res)
}

func (r *Runner) finish(e *entry, res Result) {
	r.mu.Lock()
	e.done, e.queued, e.result = true, false, res
	stopped := r.stopped
	r.mu.Unlock()
	if !stopped && r.notify != nil {
		r.notify(e.job.Object)
	}
}

// State is what the runner knows about a job.
type State struct {
	// Known is false when no job with the ID was submitted since the
	// manager started (or it was forgotten).
	Known bool
	// Queued waits for a free slot; Running copies.
	Queued, Running bool
	// Result is set once the job ended.
	Result *Result
}

// Lookup returns the state of the job with id.
func (r *Runner) Lookup(id types.UID) State {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.jobs[id]
	if !ok {
		return State{}
	}
	st := State{Known: true, Queued: e.queued, Running: !e.done && !e.queued}
	if e.done {
		res := e.result
		st.Result = &res
	}
	return st
}

// Forget drops a finished job's result once the controller recorded it.
// A job still running is kept.
func (r *Runner) Forget(id types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.jobs[id]; ok && e.done {
		delete(r.jobs, id)
	}
}

// Running returns how many jobs copy now and how many wait for a slot.
func (r *Runner) Running() (running, queued int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.jobs {
		switch {
		case e.queued:
			queued++
		case !e.done:
			running++
		}
	}
	return running, queued
}
