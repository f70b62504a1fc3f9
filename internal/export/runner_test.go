package export

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestRunnerBoundsConcurrencyAndHoldsResults(t *testing.T) {
	release := make(chan struct{})
	var woken sync.Map
	r := NewRunner(2, func(n types.NamespacedName) { woken.Store(n.Name, true) }).
		WithRun(func(ctx context.Context, _ Job) Result {
			select {
			case <-release:
				return Result{Manifest: &Manifest{}}
			case <-ctx.Done():
				return Result{Err: ctx.Err()}
			}
		})
	if _, err := r.Submit(Job{ID: "x"}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("submit before start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Start(ctx); close(done) }()
	waitFor(t, func() bool { ok, _ := r.Submit(Job{ID: "a", Object: types.NamespacedName{Name: "a"}}); return ok })
	for _, id := range []string{"b", "c"} {
		if ok, err := r.Submit(Job{ID: types.UID(id), Object: types.NamespacedName{Name: id}}); !ok || err != nil {
			t.Fatalf("submit %s: %v %v", id, ok, err)
		}
	}
	if ok, _ := r.Submit(Job{ID: "a"}); ok {
		t.Error("a job with a running ID was started twice")
	}
	waitFor(t, func() bool { run, q := r.Running(); return run == 2 && q == 1 })
	close(release)
	waitFor(t, func() bool {
		for _, id := range []types.UID{"a", "b", "c"} {
			if st := r.Lookup(id); st.Result == nil {
				return false
			}
		}
		return true
	})
	checkWoken(t, &woken, "a", "b", "c")
	r.Forget("a")
	if st := r.Lookup("a"); st.Known {
		t.Error("a forgotten result is still known")
	}
	if st := r.Lookup("b"); st.Result == nil || st.Result.Err != nil {
		t.Errorf("b: %+v", st)
	}
	cancel()
	<-done
	if _, err := r.Submit(Job{ID: "d"}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("submit after stop: %v", err)
	}
}

func TestRunnerStopCancelsCopies(t *testing.T) {
	started := make(chan struct{})
	r := NewRunner(1, nil).WithRun(func(ctx context.Context, _ Job) Result {
		close(started)
		<-ctx.Done()
		return Result{Err: ctx.Err()}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Start(ctx); close(done) }()
	waitFor(t, func() bool { ok, _ := r.Submit(Job{ID: "a"}); return ok })
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not return after its context ended")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func checkWoken(t *testing.T, woken *sync.Map, names ...string) {
	t.Helper()
	for _, id := range names {
		if _, ok := woken.Load(id); !ok {
			t.Errorf("%s was not woken", id)
		}
	}
}
