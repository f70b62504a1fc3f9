/*
Copyright 2026 The dcs-backup-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// Following an object is a watch, as with kubectl wait: the informer of
// watchtools.UntilWithSync lists first (so the current state counts), then
// watches, and lists again when a watch ends, so no change is missed and
// nothing polls.

// listWatch lists and watches the objects of list's kind that opts select.
func listWatch(c client.WithWatch, list client.ObjectList, opts ...client.ListOption) cache.ListerWatcher {
	withRaw := func(o metav1.ListOptions) []client.ListOption {
		raw := o
		return append(append([]client.ListOption{}, opts...),
			&client.ListOptions{Raw: &raw, Limit: o.Limit, Continue: o.Continue})
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			l, _ := list.DeepCopyObject().(client.ObjectList)
			return l, c.List(ctx, l, withRaw(o)...)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			l, _ := list.DeepCopyObject().(client.ObjectList)
			return c.Watch(ctx, l, withRaw(o)...)
		},
	}
}

// nameIs selects the object of a name.
func nameIs(name string) client.ListOption {
	return client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)}
}

// until calls cond with each state of the objects that opts select, from
// their state now on, until it returns true or an error. A deleted object
// ends the wait with an error naming it.
func until[T any, PT interface {
	*T
	client.Object
}](ctx context.Context, c client.WithWatch, list client.ObjectList, kind string,
	cond func(PT) (bool, error), opts ...client.ListOption) error {
	var zero T
	_, err := watchtools.UntilWithSync(ctx, listWatch(c, list, opts...), PT(&zero), nil,
		func(ev watch.Event) (bool, error) {
			obj, ok := ev.Object.(PT)
			if !ok {
				return false, nil
			}
			if ev.Type == watch.Deleted {
				return false, fmt.Errorf("%s %s/%s was deleted", kind, obj.GetNamespace(), obj.GetName())
			}
			return cond(obj)
		})
	return err
}

// goesOn is what happens to a backup or restore the plugin stops
// following.
const goesOn = "the operator goes on with it"

// timedOut turns the end of the wait's deadline (or Ctrl-C) into a message
// that says what was waited for and what happens now (hint); errors of the
// condition pass unchanged.
func timedOut(ctx context.Context, err error, timeout time.Duration, what func() string, hint string) error {
	if err == nil {
		return nil
	}
	// The wait ends with wait.ErrorInterrupted, or an error of the first
	// list, when ctx is done: ctx says which.
	if ctx.Err() == nil {
		return err
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("stopped waiting for %s; %s", what(), hint)
	}
	return fmt.Errorf("timed out after %s waiting for %s; %s", timeout, what(), hint)
}

// progressPrinter writes a line each time what it is shown changes, with
// the time since it started.
type progressPrinter struct {
	o     *options
	start time.Time
	last  map[string]string
}

func newProgressPrinter(o *options) *progressPrinter {
	return &progressPrinter{o: o, start: o.now(), last: map[string]string{}}
}

func (p *progressPrinter) show(object, state string) {
	if p.last[object] == state {
		return
	}
	p.last[object] = state
	elapsed := p.o.now().Sub(p.start).Round(time.Second)
	p.o.printf("%6s  %s  %s\n", elapsed, object, state)
}

// backupState is how a following line shows a backup: its phase, progress
// and the reasons that explain a wait.
func backupState(b *backupv1alpha1.DCSBackup) string {
	s := phaseCell(b.Status.Phase, b.Status.Progress)
	switch b.Status.Phase {
	case backupv1alpha1.PhaseSucceeded:
		return s + " " + backupResult(b)
	case "", backupv1alpha1.PhasePending, backupv1alpha1.PhaseWaiting:
		if c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSucceeded); c != nil &&
			c.Reason == backupv1alpha1.ReasonWaitingForInstance {
			s += " (" + c.Message + ")"
		}
	}
	if c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSynced); c != nil &&
		c.Status == metav1.ConditionFalse {
		s += " [Synced=False " + c.Reason + ": " + c.Message + "]"
	}
	return s
}

// backupResult names a succeeded backup's DCS record.
func backupResult(b *backupv1alpha1.DCSBackup) string {
	return fmt.Sprintf("(DCS backup %s, %s, %d bytes)", b.Status.BackupName, b.Status.BackupID, b.Status.Size)
}

// backupFailure is the error of a backup that ended without success.
func backupFailure(b *backupv1alpha1.DCSBackup) error {
	msg := ""
	if c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSucceeded); c != nil {
		msg = ": " + c.Reason + ": " + c.Message
	}
	return fmt.Errorf("dcsbackup/%s ended %s%s", b.Name, b.Status.Phase, msg)
}

// followBackups prints the progress of the named DCSBackups of namespace
// ns until every one has finished, and returns an error naming those that
// did not succeed. opts select a set of objects that holds them all.
func (o *options) followBackups(ctx context.Context, c client.WithWatch, ns string, names []string,
	timeout time.Duration, opts ...client.ListOption) error {
	p := newProgressPrinter(o)
	ended := map[string]*backupv1alpha1.DCSBackup{}
	wanted := map[string]bool{}
	for _, n := range names {
		wanted[n] = true
	}
	err := until(ctx, c, &backupv1alpha1.DCSBackupList{}, "DCSBackup", func(b *backupv1alpha1.DCSBackup) (bool, error) {
		if !wanted[b.Name] {
			return false, nil
		}
		p.show("dcsbackup/"+b.Name, backupState(b))
		if finished(b.Status.Phase) {
			ended[b.Name] = b
		}
		return len(ended) == len(wanted), nil
	}, append([]client.ListOption{client.InNamespace(ns)}, opts...)...)
	err = timedOut(ctx, err, timeout, func() string {
		var open []string
		for _, n := range names {
			if ended[n] == nil {
				open = append(open, "dcsbackup/"+n+" ("+p.last["dcsbackup/"+n]+")")
			}
		}
		return join(open)
	}, goesOn)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if b := ended[n]; b.Status.Phase != backupv1alpha1.PhaseSucceeded {
			errs = append(errs, backupFailure(b))
		}
	}
	return errors.Join(errs...)
}
