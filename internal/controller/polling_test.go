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
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
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

func TestNextInLineWakesOnlyTheOldestWaitingBackup(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	backup := func(name string, created time.Duration, reason string) *backupv1alpha1.DCSBackup {
		b := &backupv1alpha1.DCSBackup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns",
			CreationTimestamp: metav1.NewTime(base.Add(created))}}
		setCondition(b, backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, reason, "")
		return b
	}
	newest := backup("c", 3*time.Second, backupv1alpha1.ReasonWaitingForInstance)
	oldest := backup("b", time.Second, backupv1alpha1.ReasonWaitingForInstance)
	pending := backup("a", 0, backupv1alpha1.ReasonPending)
	got := nextInLine([]*backupv1alpha1.DCSBackup{newest, pending, oldest})
	if len(got) != 1 || got[0] != oldest {
		t.Errorf("got %v, want only the oldest backup waiting for the turn (b)", names(got))
	}
	// No backup was turned away yet: wake every candidate.
	if got := nextInLine([]*backupv1alpha1.DCSBackup{pending}); len(got) != 1 || got[0] != pending {
		t.Errorf("got %v, want the pending backup", names(got))
	}
	// The oldest cannot take the turn (its Secret is gone): the next one.
	setCondition(oldest, backupv1alpha1.ConditionSynced, metav1.ConditionFalse, backupv1alpha1.ReasonCredentialsNotFound, "")
	if got := nextInLine([]*backupv1alpha1.DCSBackup{newest, pending, oldest}); len(got) != 1 || got[0] != newest {
		t.Errorf("got %v, want the oldest backup that can take the turn (c)", names(got))
	}
}

func names(bs []*backupv1alpha1.DCSBackup) []string {
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return out
}

func TestStartTimesRefineOnlyTheRecordedIntent(t *testing.T) {
	s := newStartTimes()
	uid := types.UID("u")
	precise := time.Date(2026, 1, 1, 0, 0, 7, 900_000_000, time.UTC)
	s.set(uid, precise)
	recorded := precise.Truncate(time.Second)
	if got := s.refine(uid, recorded); !got.Equal(precise) {
		t.Errorf("got %v, want %v", got, precise)
	}
	// Another intent (a later create after a failed one) is not refined.
	later := recorded.Add(time.Minute)
	if got := s.refine(uid, later); !got.Equal(later) {
		t.Errorf("got %v, want the recorded %v", got, later)
	}
	s.forget(uid)
	if got := s.refine(uid, recorded); !got.Equal(recorded) {
		t.Errorf("after forget: got %v, want %v", got, recorded)
	}
}
