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
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// The unit tests run the commands against controller-runtime's fake
// client with a fixed clock, for what the envtest test cannot set up
// cheaply: exports, a fleet with a skipped instance, schedules that are not
// Ready, and input errors that never reach the API server.

var testNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { return &metav1.Time{Time: testNow.Add(d)} }

func fakeClient(g Gomega, objs ...client.Object) client.WithWatch {
	scheme := runtime.NewScheme()
	g.Expect(backupv1alpha1.AddToScheme(scheme)).To(Succeed())
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

// runFake runs kubectl dcs with args against c and returns what it printed.
func runFake(c client.WithWatch, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := newCommand(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &out}, c,
		func() time.Time { return testNow })
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func connection() backupv1alpha1.Connection {
	return backupv1alpha1.Connection{ProjectID: "p1", Region: "eu-de",
		CredentialsSecretRef: backupv1alpha1.SecretReference{Name: "dcs-credentials"}}
}

func condition(t string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg}
}

// child is a DCSBackup of schedule s, created at created.
func child(s *backupv1alpha1.DCSBackupSchedule, name, instance string, created time.Duration,
	phase backupv1alpha1.BackupPhase) *backupv1alpha1.DCSBackup {
	return &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: name, CreationTimestamp: *at(created),
			Labels: map[string]string{backupv1alpha1.LabelSchedule: s.Name, backupv1alpha1.LabelScheduleUID: string(s.UID)}},
		Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
			InstanceID: instance, Connection: connection()}},
		Status: backupv1alpha1.DCSBackupStatus{Phase: phase, Restorable: phase == backupv1alpha1.PhaseSucceeded},
	}
}

func statusFixture() []client.Object {
	single := &backupv1alpha1.DCSBackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "orders", UID: types.UID("uid-orders")},
		Spec: backupv1alpha1.DCSBackupScheduleSpec{Schedule: "0 3 * * *",
			Template: backupv1alpha1.DCSBackupTemplate{Spec: backupv1alpha1.DCSBackupTemplateSpec{
				InstanceID: "inst-1", Connection: connection()}}},
		Status: backupv1alpha1.DCSBackupScheduleStatus{
			LastSuccessfulTime: at(-2 * time.Hour), LastSuccessfulBackup: "orders-202611301000",
			NextScheduleTime: at(15 * time.Hour),
			Conditions: []metav1.Condition{
				condition(backupv1alpha1.ConditionReady, metav1.ConditionTrue, backupv1alpha1.ReasonReady, ""),
				condition(backupv1alpha1.ConditionFresh, metav1.ConditionTrue, backupv1alpha1.ReasonRecentBackup, ""),
			}},
	}
	fleet := &backupv1alpha1.DCSBackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "prod", UID: types.UID("uid-prod")},
		Spec: backupv1alpha1.DCSBackupScheduleSpec{Schedule: "0 2 * * *",
			InstanceSelector: &backupv1alpha1.InstanceSelector{Tags: map[string]string{"env": "prod"}},
			Template:         backupv1alpha1.DCSBackupTemplate{Spec: backupv1alpha1.DCSBackupTemplateSpec{Connection: connection()}}},
		Status: backupv1alpha1.DCSBackupScheduleStatus{
			NextScheduleTime: at(14 * time.Hour),
			Instances: []backupv1alpha1.ScheduleInstance{
				{InstanceID: "b-id", Name: "beta", Fresh: false},
				{InstanceID: "a-id", Name: "alpha", Fresh: true, LastSuccessfulTime: at(-30 * time.Minute),
					LastSuccessfulBackup: "prod-202611301130-a-id"},
				{InstanceID: "c-id", Name: "gamma", Fresh: true, Skipped: "single-node"},
			},
			Conditions: []metav1.Condition{condition(backupv1alpha1.ConditionReady, metav1.ConditionFalse,
				backupv1alpha1.ReasonCredentialsNotFound, "Secret dcs-credentials not found")}},
	}
	exported := child(fleet, "prod-202611301130-a-id", "a-id", -31*time.Minute, backupv1alpha1.PhaseSucceeded)
	exported.Status.Export = &backupv1alpha1.ExportStatus{Phase: backupv1alpha1.ExportPhaseSucceeded,
		Storage: "offsite", Path: "shop/prod-202611301130-a-id/", CompletedAt: at(-20 * time.Minute)}
	running := child(fleet, "prod-run-6b86b273ff-b-id", "b-id", -time.Minute, backupv1alpha1.PhaseInProgress)
	running.Status.Progress = "42.50"
	// A child of an earlier schedule of the same name: not this one's.
	stranger := child(fleet, "prod-202611290200-a-id", "a-id", -34*time.Hour, backupv1alpha1.PhaseInProgress)
	stranger.Labels[backupv1alpha1.LabelScheduleUID] = "uid-earlier"
	oneOff := &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "before-upgrade", CreationTimestamp: *at(-3 * time.Hour)},
		Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
			InstanceID: "inst-1", Connection: connection()}},
		Status: backupv1alpha1.DCSBackupStatus{Phase: backupv1alpha1.PhaseSucceeded, CompletedAt: at(-170 * time.Minute)},
	}
	other := single.DeepCopy()
	other.Namespace, other.UID = "staging", "uid-staging"
	return []client.Object{single, fleet, exported, running, stranger, oneOff, other,
		child(single, "orders-202611301000", "inst-1", -2*time.Hour-time.Minute, backupv1alpha1.PhaseSucceeded)}
}

// rowOf is the table row whose cells start with the given ones.
func rowOf(out string, first ...string) []string {
	for _, line := range strings.Split(out, "\n") {
		cells := strings.Split(strings.Join(strings.Fields(line), " "), " ")
		if len(cells) >= len(first) && strings.Join(cells[:len(first)], " ") == strings.Join(first, " ") {
			return strings.Fields(line)
		}
	}
	return nil
}

func TestStatusTableShowsEachInstanceOfEachSchedule(t *testing.T) {
	g := NewWithT(t)
	out, err := runFake(fakeClient(g, statusFixture()...), "status", "-n", "shop")
	g.Expect(err).NotTo(HaveOccurred())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	g.Expect(lines).To(HaveLen(5), "%s", out)
	g.Expect(lines[0]).To(MatchRegexp(`^SCHEDULE +INSTANCE +NAME +LAST SUCCESS +FRESH +NEXT RUN +RUNNING +LAST EXPORT +READY$`))
	g.Expect(strings.Join(strings.Fields(lines[1]), " ")).To(Equal(
		"orders inst-1 <none> 120m ago True in 15h <none> <none> True"))
	g.Expect(strings.Join(strings.Fields(lines[2]), " ")).To(Equal(
		"prod a-id alpha 30m ago True in 14h <none> Succeeded 20m ago CredentialsNotFound"),
		"the newest export of the instance; the child of an earlier schedule named prod is not counted")
	g.Expect(strings.Join(strings.Fields(lines[3]), " ")).To(Equal(
		"prod b-id beta never False in 14h prod-run-6b86b273ff-b-id (InProgress 42.50%) <none> CredentialsNotFound"))
	g.Expect(strings.Join(strings.Fields(lines[4]), " ")).To(Equal(
		"prod c-id gamma never True in 14h <none> <none> Skipped: single-node"))
}

func TestStatusOfOneScheduleAllNamespacesAndLooseBackups(t *testing.T) {
	g := NewWithT(t)
	c := fakeClient(g, statusFixture()...)

	out, err := runFake(c, "status", "orders", "-n", "staging")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(strings.Split(strings.TrimSpace(out), "\n")).To(HaveLen(2))
	g.Expect(rowOf(out, "orders", "inst-1")).NotTo(BeNil(), "%s", out)

	out, err = runFake(c, "status", "-A")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rowOf(out, "NAMESPACE", "SCHEDULE")).NotTo(BeNil(), "%s", out)
	g.Expect(rowOf(out, "shop", "orders", "inst-1")).NotTo(BeNil(), "%s", out)
	g.Expect(rowOf(out, "staging", "orders", "inst-1")).NotTo(BeNil(), "%s", out)

	out, err = runFake(c, "status", "-n", "shop", "--loose")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rowOf(out, "BACKUP", "INSTANCE", "PHASE")).NotTo(BeNil(), "%s", out)
	g.Expect(strings.Join(rowOf(out, "before-upgrade"), " ")).To(Equal("before-upgrade inst-1 Succeeded 170m ago <none> <none> 3h"))
	g.Expect(strings.Join(rowOf(out, "prod-202611290200-a-id"), " ")).To(ContainSubstring(
		"dcsbackupschedule/prod (deleted or re-created)"))
	g.Expect(rowOf(out, "orders-202611301000")).To(BeNil(), "a schedule's child is not loose")
}

func TestStatusJSONAndYAML(t *testing.T) {
	g := NewWithT(t)
	c := fakeClient(g, statusFixture()...)
	out, err := runFake(c, "status", "-n", "shop", "-o", "json", "--loose")
	g.Expect(err).NotTo(HaveOccurred())
	var r Report
	g.Expect(json.Unmarshal([]byte(out), &r)).To(Succeed())
	g.Expect(r.Instances).To(HaveLen(4))
	g.Expect(r.Instances[0]).To(And(HaveField("Schedule", "orders"), HaveField("InstanceID", "inst-1"),
		HaveField("Fresh", "True"), HaveField("FreshReason", backupv1alpha1.ReasonRecentBackup),
		HaveField("LastSuccessfulBackup", "orders-202611301000"), HaveField("Ready", "True")))
	g.Expect(r.Instances[1]).To(And(HaveField("Fleet", true), HaveField("InstanceName", "alpha"),
		HaveField("ReadyReason", backupv1alpha1.ReasonCredentialsNotFound),
		HaveField("ReadyMessage", "Secret dcs-credentials not found"),
		HaveField("LastExport.Path", "shop/prod-202611301130-a-id/")))
	g.Expect(r.Instances[2].Running).To(ConsistOf(BackupSummary{Name: "prod-run-6b86b273ff-b-id",
		Phase: backupv1alpha1.PhaseInProgress, Progress: "42.50"}))
	g.Expect(r.Backups).To(HaveLen(2))

	out, err = runFake(c, "status", "-n", "shop", "-o", "yaml")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("instanceID: inst-1\n"))
	g.Expect(out).To(ContainSubstring("fresh: \"True\"\n"))
}

func TestStatusErrors(t *testing.T) {
	g := NewWithT(t)
	c := fakeClient(g, statusFixture()...)
	_, err := runFake(c, "status", "nightly", "-n", "shop")
	g.Expect(err).To(MatchError(`DCSBackupSchedule "nightly" not found in namespace "shop"`))
	_, err = runFake(c, "status", "-n", "shop", "-o", "wide")
	g.Expect(err).To(MatchError(ContainSubstring(`--output "wide": use json or yaml`)))
	out, err := runFake(c, "status", "-n", "empty")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal("No DCSBackupSchedules found in namespace empty.\n"))
}
