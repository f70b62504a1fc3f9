package dcs

import (
	"context"
	"math"
	"sync"

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

// Limiter holds one token bucket per (endpoint, project): the gateway's
// throttling is per user/account, and a project belongs to one account, so
// this key never lets two clients of the same account exceed the budget
// together. Reads and writes share the bucket: the gateway does not tell
// them apart either. The map grows with the number of distinct
// endpoint+project pairs, which is small and bounded by configuration.
type Limiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[limiterKey]*rate.Limiter
}

type limiterKey struct{ endpoint, project string }

// NewLimiter returns a limiter with rps requests per second and the given
// burst per endpoint and project. rps <= 0 means no limit (tests).
func NewLimiter(rps float64, burst int) *Limiter {
	l := &Limiter{limit: rate.Limit(rps), burst: burst, buckets: map[limiterKey]*rate.Limiter{}}
	if rps <= 0 || math.IsInf(rps, 1) || math.IsNaN(rps) {
		l.limit = rate.Inf
	}
	if l.burst < 1 {
		l.burst = 1
	}
	return l
}

// Bucket returns the token bucket of an endpoint and project.
func (l *Limiter) Bucket(endpoint, projectID string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := limiterKey{endpoint, projectID}
	b, ok := l.buckets[k]
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[k] = b
	}
	return b
}

// Wait blocks until a request to endpoint/projectID may be sent, or fails
// at once if ctx ends first or its deadline is too close.
func (l *Limiter) Wait(ctx context.Context, endpoint, projectID string) error {
	return l.Bucket(endpoint, projectID).Wait(ctx)
}
