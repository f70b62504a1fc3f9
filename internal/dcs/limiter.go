package dcs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Default client-side rate limit per endpoint and project.
//
// No DCS-specific limit is documented; the API gateway throttles per user
// or IP with a policy such as "limit:N,time:1 minute" (SPEC.md 4.2). The
// operator's steady traffic is small (one list per instance per poll, which
// controllers share), so 10 requests/s with a burst of 20 keeps a manager
// that just started, or that serves hundreds of instances, from tripping
// the gateway, while a single reconcile is never slowed down noticeably.
// Past the limit, calls wait instead of collecting 429s.
const (
	DefaultRateLimit = 10.0
	DefaultRateBurst = 20
)

var (
	defaultLimiterOnce sync.Once
	defaultLimiter     *Limiter
)

// DefaultLimiter is the process-wide limiter used by every Client whose
// Config has no Limiter: clients built per resource still share a budget.
func DefaultLimiter() *Limiter {
	defaultLimiterOnce.Do(func() { defaultLimiter = NewLimiter(DefaultRateLimit, DefaultRateBurst) })
	return defaultLimiter
}

// Priority is the class of a request in the budget. Higher classes go
// first: a request waits while one of a higher class is queued.
//
//   - Start: requests that start or stop work in DCS (create a backup, a
//     restore, an import, delete a backup). The client gives them this
//     class by itself. Starting 2,000 backups of a fleet before polling the
//     first ones shortens the whole run: DCS runs them in parallel, and a
//     finished backup seen a little later costs nothing.
//   - Foreground: work a user waits for, the default: polls of running
//     backups and restores.
//   - Background: observation of idle instances (restore lists of finished
//     backups, record re-checks). It uses at most the limiter's background
//     share of the budget.
type Priority int

const (
	// Background is observation of idle instances.
	Background Priority = iota
	// Foreground is work a user waits for; the default.
	Foreground
	// Start is a request that starts or stops work in DCS.
	Start
	numPriorities
)

// String is the class's name in metrics.
func (p Priority) String() string {
	switch p {
	case Background:
		return "background"
	case Start:
		return "start"
	}
	return "foreground"
}

type priorityKey struct{}

// WithPriority marks the requests made with ctx as of class p.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityOf returns the class of the requests made with ctx.
func PriorityOf(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok {
		return p
	}
	return Foreground
}

type yieldKey struct{}

// WithYield marks the requests made with ctx as giving their place up,
// rather than waiting behind requests of a higher class when the budget has
// no token to spare: Wait returns a *YieldError at once. A reconciler that
// polls makes its poll so, and frees its worker for the creates a fleet's
// run queues behind it, instead of holding the worker until they are all
// sent.
func WithYield(ctx context.Context) context.Context {
	return context.WithValue(ctx, yieldKey{}, true)
}

func yields(ctx context.Context) bool {
	y, _ := ctx.Value(yieldKey{}).(bool)
	return y
}

// YieldError is the answer of Wait to a request that gave its place up:
// requests of a higher class wait for the budget's tokens. After is when it
// is worth asking again: the time the budget needs for the requests ahead.
type YieldError struct {
	After time.Duration
}

func (e *YieldError) Error() string {
	return fmt.Sprintf("gave way to requests that start work in DCS; next try in %s", e.After)
}

// Yielded reports whether err is (or wraps) a YieldError, and when to try
// again.
func Yielded(err error) (time.Duration, bool) {
	var ye *YieldError
	if errors.As(err, &ye) {
		return ye.After, true
	}
	return 0, false
}

// Bounds of YieldError.After: not sooner than a few tokens' time, and not so
// late that a poll comes long after the starts ahead of it were sent.
const (
	minYield = 250 * time.Millisecond
	maxYield = 5 * time.Second
)

// DefaultBackgroundShare is the share of the budget background observation
// may use.
const DefaultBackgroundShare = 0.25

// Limiter holds one budget per (endpoint, project): the gateway's
// throttling is per user/account, and a project belongs to one account, so
// this key never lets two clients of the same account exceed the budget
// together. Reads and writes share a budget: the gateway does not tell them
// apart either. The map grows with the number of distinct endpoint+project
// pairs, which is small and bounded by configuration.
type Limiter struct {
	limit rate.Limit
	burst int
	share float64

	mu      sync.Mutex
	budgets map[limiterKey]*budget
}

type limiterKey struct{ endpoint, project string }

// budget is the token bucket of one endpoint and project, with the
// background class's own, smaller bucket and the count of requests waiting
// per class, which requests of lower classes give way to.
type budget struct {
	all        *rate.Limiter
	background *rate.Limiter

	mu      sync.Mutex
	waiting [numPriorities]int
	// idle[p] is closed when no request of class p waits any more.
	idle [numPriorities]chan struct{}

	admitted [numPriorities]atomic.Int64
}

// NewLimiter returns a limiter with rps requests per second and the given
// burst per endpoint and project, of which background requests may use
// DefaultBackgroundShare. rps <= 0 means no limit (tests).
func NewLimiter(rps float64, burst int) *Limiter {
	l := &Limiter{limit: rate.Limit(rps), burst: burst, share: DefaultBackgroundShare, budgets: map[limiterKey]*budget{}}
	if rps <= 0 || math.IsInf(rps, 1) || math.IsNaN(rps) {
		l.limit = rate.Inf
	}
	if l.burst < 1 {
		l.burst = 1
	}
	return l
}

// WithBackgroundShare sets the share (0 < share <= 1) of the budget that
// background requests may use, and returns l.
func (l *Limiter) WithBackgroundShare(share float64) *Limiter {
	if share > 0 && share <= 1 {
		l.share = share
	}
	return l
}

// Rate is the budget per endpoint and project in requests per second
// (+Inf without a limit).
func (l *Limiter) Rate() float64 { return float64(l.limit) }

// BackgroundRate is the part of Rate background requests may use.
func (l *Limiter) BackgroundRate() float64 {
	if l.limit == rate.Inf {
		return math.Inf(1)
	}
	return float64(l.limit) * l.share
}

func (l *Limiter) budget(endpoint, projectID string) *budget {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := limiterKey{endpoint, projectID}
	b, ok := l.budgets[k]
	if !ok {
		bgLimit := l.limit
		if bgLimit != rate.Inf {
			bgLimit = rate.Limit(float64(l.limit) * l.share)
		}
		b = &budget{
			all:        rate.NewLimiter(l.limit, l.burst),
			background: rate.NewLimiter(bgLimit, max(1, int(float64(l.burst)*l.share))),
		}
		l.budgets[k] = b
	}
	return b
}

// Bucket returns the token bucket every request of an endpoint and project
// takes from.
func (l *Limiter) Bucket(endpoint, projectID string) *rate.Limiter {
	return l.budget(endpoint, projectID).all
}

// BudgetUsage is what the limiter let through for one endpoint and
// project, per class.
type BudgetUsage struct {
	Endpoint, Project string
	Admitted          map[Priority]int64
}

// Usage lists the requests let through per endpoint and project.
func (l *Limiter) Usage() []BudgetUsage {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]BudgetUsage, 0, len(l.budgets))
	for k, b := range l.budgets {
		u := BudgetUsage{Endpoint: k.endpoint, Project: k.project, Admitted: map[Priority]int64{}}
		for p := range numPriorities {
			u.Admitted[p] = b.admitted[p].Load()
		}
		out = append(out, u)
	}
	return out
}

// Admitted returns how many requests of a class the limiter let through
// for an endpoint and project.
func (l *Limiter) Admitted(endpoint, projectID string, p Priority) int64 {
	return l.budget(endpoint, projectID).admitted[p].Load()
}

// Wait blocks until a request to endpoint/projectID may be sent, or fails
// at once if ctx ends first or its deadline is too close. A request waits
// while requests of a higher class (WithPriority) are queued; a background
// request first takes from the background bucket.
//
// Only the highest class reserves tokens ahead (rate.Limiter.Wait hands out
// future tokens first come, first served, so a poll that reserved the next
// token would go before a create that asks a millisecond later). The lower
// classes take a token only when one is free right now and nobody above
// them waits, and otherwise look again when the next token comes; with
// WithYield, they return a *YieldError instead of waiting behind a higher
// class.
func (l *Limiter) Wait(ctx context.Context, endpoint, projectID string) error {
	b := l.budget(endpoint, projectID)
	p := PriorityOf(ctx)
	if p == Background {
		if err := b.background.Wait(ctx); err != nil {
			return err
		}
	}
	b.enter(p)
	defer b.leave(p)
	if p == numPriorities-1 || b.all.Limit() == rate.Inf {
		if err := b.all.Wait(ctx); err != nil {
			return err
		}
		b.admitted[p].Add(1)
		return nil
	}
	return b.waitFree(ctx, p)
}

// waitFree is Wait for the classes below the highest: it takes a token
// only when one is free now and no higher class waits.
func (b *budget) waitFree(ctx context.Context, p Priority) error {
	yield := yields(ctx)
	for {
		if yield {
			if err := b.yieldTo(p); err != nil {
				return err
			}
		}
		if err := b.giveWay(ctx, p); err != nil {
			return err
		}
		r := b.all.Reserve()
		delay := r.Delay()
		if delay == 0 {
			b.admitted[p].Add(1)
			return nil
		}
		r.Cancel()
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return fmt.Errorf("rate: Wait(n=1) would exceed context deadline")
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

func (b *budget) enter(p Priority) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.waiting[p] == 0 {
		b.idle[p] = make(chan struct{})
	}
	b.waiting[p]++
}

func (b *budget) leave(p Priority) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting[p]--
	if b.waiting[p] == 0 {
		close(b.idle[p])
	}
}

// yieldTo returns a *YieldError when requests of a class above p wait and
// no token is free for them now: a request of class p would wait until
// they are all served. While a token is free, giving way costs at most a
// moment, and the request waits in giveWay as usual.
func (b *budget) yieldTo(p Priority) error {
	b.mu.Lock()
	above := 0
	for q := p + 1; q < numPriorities; q++ {
		above += b.waiting[q]
	}
	b.mu.Unlock()
	if above == 0 || b.all.Tokens() >= 1 {
		return nil
	}
	after := time.Duration(float64(above+1) / float64(b.all.Limit()) * float64(time.Second))
	return &YieldError{After: min(max(after, minYield), maxYield)}
}

// giveWay waits until no request of a class above p waits.
func (b *budget) giveWay(ctx context.Context, p Priority) error {
	for {
		var busy chan struct{}
		b.mu.Lock()
		for q := numPriorities - 1; q > p; q-- {
			if b.waiting[q] > 0 {
				busy = b.idle[q]
				break
			}
		}
		b.mu.Unlock()
		if busy == nil {
			return nil
		}
		select {
		case <-busy:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
