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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

func TestBackupInputErrors(t *testing.T) {
	g := NewWithT(t)
	c := fakeClient(g, statusFixture()...)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"backup"}, "name a DCSBackupSchedule to run now, or give --instance and --connection-from"},
		{[]string{"backup", "orders", "--instance", "inst-1"}, "name a schedule or give --instance, not both"},
		{[]string{"backup", "--instance", "inst-1"}, "--connection-from is required with --instance"},
		{[]string{"backup", "orders", "--name", "x"}, "--connection-from, --name, --format and --remark are for one-off backups"},
		{[]string{"backup", "--instance", "inst-1", "--connection-from", "orders", "--format", "zip"}, `--format "zip": use rdb or aof`},
		{[]string{"backup", "nightly"}, `DCSBackupSchedule "nightly" not found in namespace "shop"`},
		{[]string{"backup", "--instance", "inst-1", "--connection-from", "schedule/nightly"},
			`--connection-from: DCSBackupSchedule "nightly" not found in namespace "shop"`},
		{[]string{"backup", "--instance", "inst-1", "--connection-from", "dcsb/nightly"},
			`--connection-from: DCSBackup "nightly" not found in namespace "shop"`},
		{[]string{"backup", "--instance", "inst-1", "--connection-from", "nightly"},
			`--connection-from: no DCSBackupSchedule or DCSBackup named "nightly" in namespace "shop"`},
		{[]string{"backup", "--instance", "inst-1", "--connection-from", "secret/nightly"},
			`--connection-from "secret/nightly": use schedule/NAME or backup/NAME`},
	} {
		_, err := runFake(c, append(tc.args, "-n", "shop")...)
		g.Expect(err).To(MatchError(ContainSubstring(tc.want)), "%v", tc.args)
	}
}

func TestOneOffBackupCopiesTheConnection(t *testing.T) {
	g := NewWithT(t)
	c := fakeClient(g, statusFixture()...)
	out, err := runFake(c, "backup", "--instance", "inst-9", "--connection-from", "orders", "-n", "shop", "--remark", "adhoc")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal("dcsbackup/inst-9-20261130120000 created (instance inst-9, connection of dcsbackupschedule/orders)\n"))
	var b backupv1alpha1.DCSBackup
	g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: "shop", Name: "inst-9-20261130120000"}, &b)).To(Succeed())
	g.Expect(b.Spec.InstanceID).To(Equal("inst-9"))
	g.Expect(b.Spec.Connection).To(Equal(connection()))
	g.Expect(b.Spec.Remark).To(Equal("adhoc"))

	_, err = runFake(c, "backup", "--instance", "inst-9", "--connection-from", "backup/before-upgrade", "-n", "shop",
		"--name", "inst-9-20261130120000")
	g.Expect(err).To(MatchError(`DCSBackup "inst-9-20261130120000" already exists in namespace "shop": choose another --name`))
}

func TestRestoreBuildsTheDCSRestore(t *testing.T) {
	g := NewWithT(t)
	objs := statusFixture()
	failed := &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "broken"},
		Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
			InstanceID: "inst-1", Connection: connection()}},
		Status: backupv1alpha1.DCSBackupStatus{Phase: backupv1alpha1.PhaseFailed, Conditions: []metav1.Condition{
			condition(backupv1alpha1.ConditionSucceeded, metav1.ConditionFalse, backupv1alpha1.ReasonBackupFailed, "dcs.08.0002")}},
	}
	c := fakeClient(g, append(objs, failed)...)
	ctx := context.Background()
	restores := func() []backupv1alpha1.DCSRestore {
		var l backupv1alpha1.DCSRestoreList
		g.Expect(c.List(ctx, &l)).To(Succeed())
		return l.Items
	}

	out, err := runFake(c, "restore", "orders-202611301000", "-n", "shop")
	g.Expect(err).To(MatchError(ContainSubstring("confirm with --yes (standard input is not a terminal")))
	g.Expect(out).To(ContainSubstring("into instance inst-1, in place: ITS DATA IS REPLACED"), "it says what it would do")
	g.Expect(restores()).To(BeEmpty())

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"restore", "nightly"}, `DCSBackup "nightly" not found in namespace "shop"`},
		{[]string{"restore", "broken"}, `DCSBackup "broken" cannot be restored: dcsbackup/broken ended Failed: BackupFailed: dcs.08.0002`},
		{[]string{"restore", "before-upgrade"}, `DCSBackup "before-upgrade" cannot be restored: DCS reports it is not restorable`},
		{[]string{"restore", "orders-202611301000", "--target-password-secret", "redis"}, "--target-password-secret is for a restore into another"},
		{[]string{"restore", "orders-202611301000", "--from-export"}, `DCSBackup "orders-202611301000" has no complete export`},
	} {
		_, err := runFake(c, append(tc.args, "-n", "shop", "--yes")...)
		g.Expect(err).To(MatchError(ContainSubstring(tc.want)), "%v", tc.args)
	}
	g.Expect(restores()).To(BeEmpty())

	out, err = runFake(c, "restore", "orders-202611301000", "-n", "shop", "--yes", "--wait=false")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("after backing the target up as dcsbackup/orders-202611301000-restore-20261130120000-pre\n"))
	g.Expect(out).To(HaveSuffix("dcsrestore/orders-202611301000-restore-20261130120000 created\n"))
	g.Expect(restores()).To(ConsistOf(HaveField("Spec", backupv1alpha1.DCSRestoreSpec{
		BackupRef: &backupv1alpha1.LocalObjectReference{Name: "orders-202611301000"}, PreRestoreBackup: true})))

	_, err = runFake(c, "restore", "prod-202611301130-a-id", "-n", "shop", "--yes", "--wait=false", "--from-export",
		"--target-instance", "staging-1", "--target-password-secret", "redis", "--name", "to-staging", "--pre-restore-backup=false")
	g.Expect(err).NotTo(HaveOccurred())
	var r backupv1alpha1.DCSRestore
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "to-staging"}, &r)).To(Succeed())
	g.Expect(r.Spec).To(Equal(backupv1alpha1.DCSRestoreSpec{
		Source: &backupv1alpha1.RestoreSource{Connection: connection(), Export: &backupv1alpha1.ExportSource{
			StorageRef: backupv1alpha1.LocalObjectReference{Name: "offsite"}, Path: "shop/prod-202611301130-a-id/"}},
		Target: &backupv1alpha1.RestoreTarget{InstanceID: "staging-1",
			PasswordSecretRef: &backupv1alpha1.SecretKeySelector{Name: "redis", Key: "password"}},
	}))

	_, err = runFake(c, "restore", "orders-202611301000", "-n", "shop", "--yes", "--wait=false", "--name", "to-staging")
	g.Expect(err).To(MatchError(ContainSubstring(`DCSRestore "to-staging" already exists in namespace "shop"`)))
}

func TestVersion(t *testing.T) {
	g := NewWithT(t)
	out, err := runFake(fakeClient(g), "version")
	g.Expect(err).NotTo(HaveOccurred())
	// An unstamped build (go test) reports the defaults of internal/version.
	g.Expect(out).To(MatchRegexp(`^kubectl-dcs dev \(commit unknown, unknown, go\S+\)\n$`))
}

func TestTimedOutSaysWhatWasAwaited(t *testing.T) {
	g := NewWithT(t)
	what := func() string { return "dcsbackup/b (InProgress 40%)" }
	cond := errors.New("DCSBackup shop/b was deleted")

	g.Expect(timedOut(context.Background(), nil, time.Minute, what, goesOn)).To(Succeed())
	g.Expect(timedOut(context.Background(), cond, time.Minute, what, goesOn)).To(BeIdenticalTo(cond),
		"an error of the wait itself passes unchanged")

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	g.Expect(timedOut(expired, errors.New("interrupted"), 90*time.Second, what, goesOn)).To(MatchError(
		"timed out after 1m30s waiting for dcsbackup/b (InProgress 40%); the operator goes on with it"))

	stopped, stop := context.WithCancel(context.Background())
	stop()
	g.Expect(timedOut(stopped, errors.New("interrupted"), 0, what, goesOn)).To(MatchError(
		"stopped waiting for dcsbackup/b (InProgress 40%); the operator goes on with it"))
}
