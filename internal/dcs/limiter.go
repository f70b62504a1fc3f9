package dcs

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

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

// Priority is the class of a request in the budget: work a user waits for
// (creates, polls of running backups and restores) goes before background
// observation (restore lists of finished backups, record re-checks).
type Priority int

const (
	// Foreground is work a user waits for; the default.
	Foreground Priority = iota
	// Background is observation of idle instances. It uses at most the
	// limiter's background share of the budget, and only when no
	// foreground request waits.
	Background
)

// String is the class's name in metrics: foreground or background.
func (p Priority) String() string {
	if p == Background {
		return "background"
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
// background class's own, smaller bucket and the count of foreground
// requests waiting, which background requests give way to.
type budget struct {
	all        *rate.Limiter
	background *rate.Limiter

	mu        sync.Mutex
	fgWaiting int
	// fgIdle is closed when no foreground request waits any more.
	fgIdle chan struct{}

	admitted [2]atomic.Int64
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
// project.
type BudgetUsage struct {
	Endpoint, Project      string
	Foreground, Background int64
}

// Usage lists the requests let through per endpoint and project.
func (l *Limiter) Usage() []BudgetUsage {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]BudgetUsage, 0, len(l.budgets))
	for k, b := range l.budgets {
		out = append(out, BudgetUsage{Endpoint: k.endpoint, Project: k.project,
			Foreground: b.admitted[Foreground].Load(), Background: b.admitted[Background].Load()})
	}
	return out
}

// Admitted returns how many requests of each class the limiter let through
// for an endpoint and project.
func (l *Limiter) Admitted(endpoint, projectID string) (foreground, background int64) {
	b := l.budget(endpoint, projectID)
	return b.admitted[Foreground].Load(), b.admitted[Background].Load()
}

// Wait blocks until a request to endpoint/projectID may be sent, or fails
// at once if ctx ends first or its deadline is too close. A background
// request (WithPriority) first takes from the background bucket, then waits
// while foreground requests queue, then takes from the common bucket.
func (l *Limiter) Wait(ctx context.Context, endpoint, projectID string) error {
	b := l.budget(endpoint, projectID)
	p := PriorityOf(ctx)
	if p == Background {
		if err := b.background.Wait(ctx); err != nil {
			return err
		}
		if err := b.giveWay(ctx); err != nil {
			return err
		}
	} else {
		b.enterForeground()
		defer b.leaveForeground()
	}
	if err := b.all.Wait(ctx); err != nil {
		return err
	}
	b.admitted[p].Add(1)
	return nil
}

func (b *budget) enterForeground() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fgWaiting == 0 {
		b.fgIdle = make(chan struct{})
	}
	b.fgWaiting++
}

func (b *budget) leaveForeground() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fgWaiting--
	if b.fgWaiting == 0 {
		close(b.fgIdle)
	}
}

// giveWay waits until no foreground request waits.
func (b *budget) giveWay(ctx context.Context) error {
	for {
		b.mu.Lock()
		waiting, idle := b.fgWaiting, b.fgIdle
		b.mu.Unlock()
		if waiting == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
