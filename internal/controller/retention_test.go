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
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// child is a finished (or running) child that completed ago before unitNow.
func child(name string, phase backupv1alpha1.BackupPhase, ago time.Duration, restorable bool) backupv1alpha1.DCSBackup {
	done := metav1.NewTime(unitNow.Add(-ago))
	b := backupv1alpha1.DCSBackup{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(done.Add(-time.Minute))}}
	b.Status.Phase = phase
	b.Status.Restorable = restorable
	if isTerminalPhase(phase) {
		b.Status.CompletedAt = &done
	}
	return b
}

func pruned(plan []*backupv1alpha1.DCSBackup) []string {
	out := make([]string, 0, len(plan))
	for _, b := range plan {
		out = append(out, b.Name)
	}
	slices.Sort(out)
	return out
}

func TestRetentionPlan(t *testing.T) {
	const (
		ok   = backupv1alpha1.PhaseSucceeded
		bad  = backupv1alpha1.PhaseFailed
		gone = backupv1alpha1.PhaseDeleted
		run  = backupv1alpha1.PhaseInProgress
	)
	day := 24 * time.Hour
	tests := []struct {
		name     string
		children []backupv1alpha1.DCSBackup // newest first, as loadChildren sorts them
		keepLast *int32
		maxAge   *time.Duration
		failed   int
		want     []string
	}{
		{
			name:     "keepLast keeps the newest succeeded",
			children: []backupv1alpha1.DCSBackup{child("s4", ok, 1*day, true), child("s3", ok, 2*day, true), child("s2", ok, 3*day, true), child("s1", ok, 4*day, true)},
			keepLast: ptr.To[int32](2), failed: 3,
			want: []string{"s1", "s2"},
		},
		{
			name: "the newest restorable backup survives keepLast",
			children: []backupv1alpha1.DCSBackup{child("s3", ok, 1*day, false), child("s2", ok, 2*day, false),
				child("s1", ok, 3*day, true)},
			keepLast: ptr.To[int32](1), failed: 3,
			want: []string{"s2"},
		},
		{
			name: "the newest restorable backup survives maxAge while later runs fail",
			children: []backupv1alpha1.DCSBackup{child("f3", bad, 1*day, false), child("f2", bad, 2*day, false),
				child("s1", ok, 40*day, true), child("s0", ok, 41*day, true)},
			maxAge: ptr.To(30 * day), failed: 3,
			want: []string{"s0"},
		},
		{
			name: "failed beyond the history limit, but never the latest run",
			children: []backupv1alpha1.DCSBackup{child("f4", bad, 1*day, false), child("f3", gone, 2*day, false),
				child("s2", ok, 3*day, true), child("f1", bad, 4*day, false)},
			failed: 0,
			want:   []string{"f1", "f3"},
		},
		{
			name: "running children are never touched",
			children: []backupv1alpha1.DCSBackup{child("r2", run, 0, false), child("s1", ok, 1*day, true),
				child("s0", ok, 2*day, true)},
			keepLast: ptr.To[int32](1), failed: 3,
			want: []string{"s0"},
		},
		{
			name:     "no policy keeps everything",
			children: []backupv1alpha1.DCSBackup{child("s1", ok, 1*day, true), child("f0", bad, 2*day, false)},
			failed:   3,
			want:     []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := pruned(retentionPlan(tc.children, tc.keepLast, tc.maxAge, tc.failed, unitNow))
			if !slices.Equal(got, tc.want) {
				t.Errorf("pruned %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFleetChildNamesAndOffsets(t *testing.T) {
	a := fleetChildName("nightly", "202701010300", "5560df16-cebf-4473-95c4-d1b573c16e79")
	if a != "nightly-202701010300-5560df16-cebf-4473-95c4-d1b573c16e79" {
		t.Errorf("got %q: a lower-case instance ID is used as it is", a)
	}
	// IDs that differ only in case must not share a name.
	upper, lower := fleetChildName("s", "r", "ABC-1"), fleetChildName("s", "r", "abc-1")
	if upper == lower {
		t.Errorf("%q and %q collide", upper, lower)
	}
	if errs := validation.IsDNS1123Subdomain(upper); len(errs) > 0 {
		t.Errorf("%q is not an object name: %v", upper, errs)
	}
	const window = 30 * time.Minute
	seen := map[time.Duration]bool{}
	for i := range 200 {
		id := fmt.Sprintf("instance-%03d", i)
		off := fleetOffset(id, window)
		if off < 0 || off >= window {
			t.Fatalf("offset %v of %s is outside the window", off, id)
		}
		if off != fleetOffset(id, window) {
			t.Fatal("the offset of an instance must be stable")
		}
		seen[off.Truncate(window/10)] = true
	}
	if len(seen) < 8 {
		t.Errorf("200 instances fall into %d of 10 tenths of the window, want them spread", len(seen))
	}
	if fleetOffset("x", 0) != 0 {
		t.Error("no window, no offset")
	}
}
