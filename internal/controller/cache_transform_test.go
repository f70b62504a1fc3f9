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
	"maps"
	"strings"
	"testing"
	"unsafe"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// decodedBackup is a DCSBackup as the informer decodes it: every string
// its own allocation.
func decodedBackup(name string) *backupv1alpha1.DCSBackup {
	own := func(s string) string { return strings.Clone(s) }
	b := &backupv1alpha1.DCSBackup{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: own("shop"),
		Labels: map[string]string{own(backupv1alpha1.LabelSchedule): own("nightly")},
		Annotations: map[string]string{own(lastAppliedAnnotation): own(`{"spec":{}}`), own("team"): own("payments"),
			own(backupv1alpha1.AnnotationScheduledTime): own("2026-12-01T03:00:00Z"),
			own(backupv1alpha1.AnnotationPrunedBy):      own("nightly")},
		Finalizers:    []string{own(backupv1alpha1.Finalizer)},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "argocd", Operation: metav1.ManagedFieldsOperationApply}},
	}}
	b.Spec.InstanceID = own("i-1")
	b.Spec.Connection.ProjectID, b.Spec.Connection.Region = own("p1"), own("eu-de")
	b.Spec.Connection.CredentialsSecretRef.Name = own("dcs-credentials")
	b.Status.Phase = backupv1alpha1.BackupPhase(own(string(backupv1alpha1.PhaseSucceeded)))
	b.Status.BackupID = "backup-of-" + name
	b.Status.Conditions = []metav1.Condition{{Type: own(backupv1alpha1.ConditionSynced), Status: metav1.ConditionStatus(own("True")),
		Reason: own("Succeeded"), Message: "DCS backup " + name + " succeeded"}}
	return b
}

func sameMemory(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

// The cache keeps what the controllers read, unchanged, and one copy of
// the strings that repeat from backup to backup.
func TestCacheTransformKeepsValuesAndSharesRepeatedStrings(t *testing.T) {
	transform := cacheTransform()
	cached := make([]*backupv1alpha1.DCSBackup, 0, 3)
	for i := range 3 {
		in := decodedBackup(fmt.Sprintf("b%d", i))
		want := in.DeepCopy()
		// The operator reads no managedFields, nor annotations outside its
		// domain, nor the slot a child was made for.
		want.ManagedFields = nil
		want.Annotations = map[string]string{backupv1alpha1.AnnotationPrunedBy: "nightly"}
		out, err := transform(in)
		if err != nil {
			t.Fatal(err)
		}
		b := out.(*backupv1alpha1.DCSBackup)
		if !equality.Semantic.DeepEqual(b, want) {
			t.Fatalf("the transform changed what the controllers read:\n got %+v\nwant %+v", b, want)
		}
		cached = append(cached, b)
	}
	first, last := cached[0], cached[2]
	for what, pair := range map[string][2]string{
		"namespace":   {first.Namespace, last.Namespace},
		"label value": {first.Labels[backupv1alpha1.LabelSchedule], last.Labels[backupv1alpha1.LabelSchedule]},
		"annotation":  {first.Annotations["team"], last.Annotations["team"]},
		"finalizer":   {first.Finalizers[0], last.Finalizers[0]},
		"instance ID": {first.Spec.InstanceID, last.Spec.InstanceID},
		"secret name": {first.Spec.Connection.CredentialsSecretRef.Name, last.Spec.Connection.CredentialsSecretRef.Name},
		"phase":       {string(first.Status.Phase), string(last.Status.Phase)},
		"condition":   {first.Status.Conditions[0].Reason, last.Status.Conditions[0].Reason},
	} {
		if !sameMemory(pair[0], pair[1]) {
			t.Errorf("the %s %q is held twice", what, pair[0])
		}
	}
}

// Other kinds keep their annotations, but not kubectl's copy of the object.
func TestCacheTransformKeepsOtherKindsAnnotations(t *testing.T) {
	s := &backupv1alpha1.DCSBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Annotations: map[string]string{
		lastAppliedAnnotation: "{}", "team": "payments", backupv1alpha1.AnnotationRunNow: "1"}}}
	out, err := cacheTransform()(s)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"team": "payments", backupv1alpha1.AnnotationRunNow: "1"}
	if got := out.(*backupv1alpha1.DCSBackupSchedule).Annotations; !maps.Equal(got, want) {
		t.Fatalf("annotations %v, want %v", got, want)
	}
}

// The pool starts over when full instead of growing without bound.
func TestInternPoolIsBounded(t *testing.T) {
	p := &internPool{m: map[string]string{}}
	for i := range maxInterned + 10 {
		_ = intern(p, fmt.Sprint("value-", i))
	}
	if n := len(p.m); n > maxInterned {
		t.Fatalf("pool holds %d strings, more than %d", n, maxInterned)
	}
	a := intern(p, strings.Clone("shop"))
	if b := intern(p, strings.Clone("shop")); !sameMemory(a, b) {
		t.Fatal("after starting over, the pool shares strings again")
	}
}
