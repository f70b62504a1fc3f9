package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// observer watches the DCSBackups of a namespace and notes when it first
// saw each one, and when it first saw it Succeeded=True. The condition's
// lastTransitionTime has one-second precision, too coarse for a status lag
// of a fraction of a second, so the lag is measured as a watcher sees it
// (like `kubectl wait`).
type observer struct {
	cancel context.CancelFunc

	mu        sync.Mutex
	added     map[string]time.Time
	succeeded map[string]time.Time
	failed    map[string]string
	backupID  map[string]string
}

func startObserver(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, ns string) (*observer, error) {
	c, err := cache.New(cfg, cache.Options{
		Scheme:            scheme,
		DefaultNamespaces: map[string]cache.Config{ns: {}},
		DefaultTransform:  cache.TransformStripManagedFields(),
	})
	if err != nil {
		return nil, err
	}
	inf, err := c.GetInformer(ctx, &backupv1alpha1.DCSBackup{})
	if err != nil {
		return nil, err
	}
	o := &observer{
		added: map[string]time.Time{}, succeeded: map[string]time.Time{},
		failed: map[string]string{}, backupID: map[string]string{},
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    o.see,
		UpdateFunc: func(_, obj any) { o.see(obj) },
	}); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	go func() { _ = c.Start(runCtx) }()
	if !c.WaitForCacheSync(ctx) {
		cancel()
		return nil, fmt.Errorf("watching DCSBackups in %s: cache did not sync", ns)
	}
	return o, nil
}

func (o *observer) see(obj any) {
	b, ok := obj.(*backupv1alpha1.DCSBackup)
	if !ok {
		return
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, seen := o.added[b.Name]; !seen {
		o.added[b.Name] = now
	}
	if _, done := o.succeeded[b.Name]; done {
		return
	}
	if meta.IsStatusConditionTrue(b.Status.Conditions, backupv1alpha1.ConditionSucceeded) {
		o.succeeded[b.Name] = now
		o.backupID[b.Name] = b.Status.BackupID
		return
	}
	if c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSucceeded); c != nil &&
		c.Status == metav1.ConditionFalse {
		o.failed[b.Name] = c.Reason + ": " + c.Message
	}
}

// finished counts the backups that succeeded and those that ended otherwise.
func (o *observer) finished() (succeeded, failed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.succeeded), len(o.failed)
}

// waitFinished waits until n backups have finished, or timeout.
func (o *observer) waitFinished(ctx context.Context, n int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		ok, failed := o.finished()
		if ok+failed >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d backups succeeded and %d failed after %s: %w", ok, n, failed, timeout, ctx.Err())
		case <-t.C:
		}
	}
}

// successes returns when each backup was seen Succeeded, and its backup ID.
// waitSucceededMatching waits until n DCSBackups whose names match have
// succeeded.
func (o *observer) waitSucceededMatching(ctx context.Context, match func(string) bool, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got := 0
		for name := range o.successes() {
			if match(name) {
				got++
			}
		}
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d backups succeeded after %s", got, n, timeout)
		}
		if err := sleepUntil(ctx, time.Now().Add(500*time.Millisecond)); err != nil {
			return err
		}
	}
}

func (o *observer) successes() map[string]success {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]success, len(o.succeeded))
	for name, at := range o.succeeded {
		out[name] = success{at: at, backupID: o.backupID[name]}
	}
	return out
}

type success struct {
	at       time.Time
	backupID string
}

// addedTimes returns when each backup was first seen.
func (o *observer) addedTimes() map[string]time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]time.Time, len(o.added))
	for k, v := range o.added {
		out[k] = v
	}
	return out
}

func (o *observer) stop() { o.cancel() }

// warnings counts the Warning events of a namespace by reason and keeps one
// note of each: a run that went slower than it should says why.
func (r *runEnv) warnings(ctx context.Context) (map[string]int, map[string]string, error) {
	list := &eventsv1.EventList{}
	if err := r.h.c.List(ctx, list, client.InNamespace(r.ns)); err != nil {
		return nil, nil, err
	}
	counts, notes := map[string]int{}, map[string]string{}
	for i := range list.Items {
		e := &list.Items[i]
		if e.Type != "Warning" {
			continue
		}
		n := max(1, int(e.DeprecatedCount))
		if e.Series != nil {
			n = max(n, int(e.Series.Count))
		}
		counts[e.Reason] += n
		notes[e.Reason] = e.Note
	}
	return counts, notes, nil
}
