package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

func TestParseMetricsSumsSeriesOfAName(t *testing.T) {
	text := `# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="dcsbackup",result="success"} 12
controller_runtime_reconcile_total{controller="dcsbackup",result="requeue_after"} 30
controller_runtime_reconcile_total{controller="dcsbackupschedule",result="success"} 3
go_memstats_heap_alloc_bytes 2.5e+07
rest_client_requests_total{code="200",host="127.0.0.1:1234",method="PATCH"} 7
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{metricReconciles: 45, metricHeap: 2.5e7, metricRESTCalls: 7} {
		if m[name] != want {
			t.Errorf("%s: got %v, want %v", name, m[name], want)
		}
	}
}

func TestPercentileAndMedian(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	if got := percentile(xs, 50); got != 3 {
		t.Errorf("p50: got %v, want 3", got)
	}
	if got := percentile(xs, 95); got != 5 {
		t.Errorf("p95: got %v, want 5", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median: got %v, want 2.5", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing: got %v, want 0", got)
	}
}

func TestNextMinute(t *testing.T) {
	at := time.Date(2026, 1, 1, 3, 4, 5, 0, time.UTC)
	if got, want := nextMinute(at), time.Date(2026, 1, 1, 3, 5, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := nextMinute(at.Truncate(time.Minute)); !got.Equal(at.Truncate(time.Minute)) {
		t.Errorf("a minute boundary: got %v, want itself", got)
	}
}

func TestLagsAndHandoffs(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	records := []simulator.BackupRecord{
		{ID: "a", InstanceID: "i", CreatedAt: t0, FinishedAt: t0.Add(3 * time.Second)},
		{ID: "b", InstanceID: "i", CreatedAt: t0.Add(3500 * time.Millisecond), FinishedAt: t0.Add(6500 * time.Millisecond)},
	}
	seen := map[string]success{
		"x": {at: t0.Add(3300 * time.Millisecond), backupID: "a"},
		"y": {at: t0.Add(6700 * time.Millisecond), backupID: "b"},
	}
	lag := statusLags(seen, records)
	if lag.n != 2 || lag.max < 0.299 || lag.max > 0.301 {
		t.Errorf("lags: got %+v, want 2 lags, the largest 0.3s", lag)
	}
	gaps := handoffGaps(records)
	if len(gaps) != 1 || gaps[0] < 0.499 || gaps[0] > 0.501 {
		t.Errorf("hand-off gaps: got %v, want [0.5]", gaps)
	}
}

func TestExportScenarioNeedsVersityGWUpFront(t *testing.T) {
	t.Setenv("VERSITYGW", "")
	if _, err := parseFlags([]string{"--scenarios=burst,export"}, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "VERSITYGW") {
		t.Errorf("export without $VERSITYGW: got %v, want an error naming VERSITYGW", err)
	}
	if _, err := parseFlags([]string{"--scenarios=burst"}, io.Discard); err != nil {
		t.Errorf("burst without $VERSITYGW: %v", err)
	}
}
