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

package controller

import (
	"context"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// A backup that sat queued in DCS for 0.3 s and is 25.9% done 1 s after the
// create: extrapolated over its writing time it ends at 3 s, over the whole
// elapsed time at about 3.9 s.
func TestActivePollDelayExtrapolatesFromWritingTime(t *testing.T) {
	elapsed, running := time.Second, 700*time.Millisecond
	got := activePollDelay(elapsed, running, "25.93", 0)
	want := 2*time.Second + 2*time.Second/20 + pollSlack
	if diff := got - want; diff < -50*time.Millisecond || diff > 50*time.Millisecond {
		t.Errorf("with the writing time: got %v, want about %v", got, want)
	}
	if without := activePollDelay(elapsed, 0, "25.93", 0); without <= got+500*time.Millisecond {
		t.Errorf("without the writing time: got %v, want clearly later than %v", without, got)
	}
	// A writing time DCS does not give (or one that makes no sense) falls
	// back to the elapsed time.
	if odd := activePollDelay(elapsed, 2*time.Second, "25.93", 0); odd != activePollDelay(elapsed, 0, "25.93", 0) {
		t.Errorf("running > elapsed: got %v, want the elapsed-time estimate", odd)
	}
}

func TestWaitingDelayGrowsWithTheWaitAndIsBounded(t *testing.T) {
	for _, tc := range []struct {
		waited   time.Duration
		min, max time.Duration
	}{
		{0, waitingRequeue, waitingRequeue * 11 / 10},
		{4 * time.Minute, 2 * time.Minute, 2 * time.Minute * 11 / 10},
		{time.Hour, maxWaitingRequeue, maxWaitingRequeue * 11 / 10},
	} {
		if got := waitingDelay(tc.waited); got < tc.min || got > tc.max {
			t.Errorf("waited %v: got %v, want %v to %v", tc.waited, got, tc.min, tc.max)
		}
	}
}

// The coordinator wakes the backup that has waited longest, among those
// that were turned away for their turn and can take it when woken.
func TestOccupantsListOnlyBackupsThatCanTakeTheTurn(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	key := instanceKeyFor(backupv1alpha1.DCSBackupTemplateSpec{InstanceID: "i-1",
		Connection: backupv1alpha1.Connection{ProjectID: "p", Endpoint: "https://dcs.example"}})
	backup := func(name string, created time.Duration, reason string, mods ...func(*backupv1alpha1.DCSBackup)) *backupv1alpha1.DCSBackup {
		b := &backupv1alpha1.DCSBackup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name),
			CreationTimestamp: metav1.NewTime(base.Add(created))}}
		b.Spec.InstanceID = "i-1"
		b.Spec.Connection = backupv1alpha1.Connection{ProjectID: "p", Endpoint: "https://dcs.example"}
		setCondition(&b.Status.Conditions, 1, base, backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, reason, "")
		for _, m := range mods {
			m(b)
		}
		return b
	}
	noSecret := func(b *backupv1alpha1.DCSBackup) {
		setCondition(&b.Status.Conditions, 1, base, backupv1alpha1.ConditionSynced, metav1.ConditionFalse,
			backupv1alpha1.ReasonCredentialsNotFound, "")
	}
	running := func(b *backupv1alpha1.DCSBackup) {
		b.Status.BackupID, b.Status.Phase = "bk-1", backupv1alpha1.PhaseInProgress
	}
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithIndex(&backupv1alpha1.DCSBackup{}, indexInstance, func(o client.Object) []string {
			return []string{instanceKeyOf(o.(*backupv1alpha1.DCSBackup)).String()}
		}).
		WithObjects(
			backup("running", 0, backupv1alpha1.ReasonInProgress, running),
			backup("pending", time.Second, backupv1alpha1.ReasonPending),
			backup("no-secret", 2*time.Second, backupv1alpha1.ReasonWaitingForInstance, noSecret),
			backup("second", 3*time.Second, backupv1alpha1.ReasonWaitingForInstance),
			backup("third", 4*time.Second, backupv1alpha1.ReasonWaitingForInstance),
		).Build()
	occ := backupOccupants{c: c}
	ctx := context.Background()

	waiting, err := occ.Waiting(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := holderNames(waiting); !slices.Equal(got, []string{"second", "third"}) {
		t.Errorf("waiting: got %v, want the backups turned away that can take the turn", got)
	}
	occupying, err := occ.Occupying(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := holderNames(occupying); !slices.Equal(got, []string{"running"}) {
		t.Errorf("occupying: got %v, want the running backup", got)
	}

	coord := instance.New(instance.Options{Clock: clocktesting.NewFakeClock(base)})
	var woken []string
	coord.Register(kindBackup, occ, func(n types.NamespacedName) { woken = append(woken, n.Name) })
	if err := coord.Freed(ctx, key); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(woken, []string{"second"}) {
		t.Errorf("woken: got %v, want only the one that waited longest", woken)
	}
}

func holderNames(hs []instance.Holder) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.Name.Name)
	}
	slices.Sort(out)
	return out
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := backupv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}
