package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// Metrics read from the manager's /metrics.
const (
	metricReconciles = "controller_runtime_reconcile_total"
	metricRESTCalls  = "rest_client_requests_total"
	metricHeap       = "go_memstats_heap_alloc_bytes"
)

// snapshot is the counters of a run at one moment; two of them give what
// happened in between.
type snapshot struct {
	at         time.Time
	cpu        time.Duration
	reconciles float64
	restCalls  float64
	sim        simulator.Stats
}

func (r *runEnv) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{at: time.Now()}
	usage, err := localenv.ProcUsage(r.mgr.PID())
	if err != nil {
		return s, err
	}
	s.cpu = usage.CPU
	m, err := scrape(ctx, r.mgr.MetricsURL)
	if err != nil {
		return s, err
	}
	s.reconciles, s.restCalls = m[metricReconciles], m[metricRESTCalls]
	s.sim, err = r.sim.Stats(ctx)
	return s, err
}

// delta is what happened between two snapshots.
type delta struct {
	seconds    float64
	cpu        float64
	reconciles float64
	restCalls  float64
	requests   map[string]int
	total      int
	throttled  int
	busy       int
}

func between(a, b snapshot) delta {
	d := delta{
		seconds:    b.at.Sub(a.at).Seconds(),
		cpu:        (b.cpu - a.cpu).Seconds(),
		reconciles: b.reconciles - a.reconciles,
		restCalls:  b.restCalls - a.restCalls,
		requests:   map[string]int{},
		total:      b.sim.Total - a.sim.Total,
		throttled:  b.sim.Codes["APIG.0308"] - a.sim.Codes["APIG.0308"],
		busy:       b.sim.Codes["DCS.4096"] - a.sim.Codes["DCS.4096"],
	}
	for op, n := range b.sim.Requests {
		if n -= a.sim.Requests[op]; n > 0 {
			d.requests[string(op)] = n
		}
	}
	return d
}

// scrape reads a Prometheus text exposition and sums the samples of each
// metric name over its labels. The format is simple enough that a parser
// of a few lines beats another module dependency.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if j := strings.LastIndexByte(rest, '}'); j >= 0 {
			rest = rest[j+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out, sc.Err()
}

// sampler scrapes the manager's heap and RSS every second and keeps the
// largest values: the heap is only visible through the metrics endpoint.
type sampler struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	peakHeap float64
	lastRSS  int64
}

const sampleEvery = time.Second

func startSampler(url string, pid int) *sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			s.sample(ctx, url, pid)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) sample(ctx context.Context, url string, pid int) {
	m, err := scrape(ctx, url)
	u, uerr := localenv.ProcUsage(pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.peakHeap = max(s.peakHeap, m[metricHeap])
	}
	if uerr == nil {
		s.lastRSS = u.RSSBytes
	}
}

// peaks returns the largest heap seen and the current RSS.
func (s *sampler) peaks() (heap float64, rss int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakHeap, s.lastRSS
}

// resetPeak forgets the heap peak, so that a phase is measured alone.
func (s *sampler) resetPeak() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peakHeap = 0
}

func (s *sampler) stop() {
	s.cancel()
	<-s.done
}

// managerFootprint reads the manager's peak RSS (VmHWM, over its whole
// life) and the largest heap the sampler saw, in MiB.
func (r *runEnv) managerFootprint(ctx context.Context) (rssMiB, heapMiB float64, err error) {
	r.sampler.sample(ctx, r.mgr.MetricsURL, r.mgr.PID())
	peak, err := localenv.ProcPeakRSS(r.mgr.PID())
	if err != nil {
		return 0, 0, err
	}
	heap, _ := r.sampler.peaks()
	return mib(float64(peak)), mib(heap), nil
}

func mib(b float64) float64 { return round(b/(1<<20), 1) }
