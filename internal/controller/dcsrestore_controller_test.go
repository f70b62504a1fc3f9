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
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

const (
	// targetPassword is the Redis password of the import target in these
	// specs: it must appear in no status, event or log.
	targetPassword = "Redis-PASSWORD-for-import-9f3c"
)

// restore creates a DCSRestore; mods edit it first.
func (e *simEnv) restore(name string, mods ...func(*backupv1alpha1.DCSRestore)) *backupv1alpha1.DCSRestore {
	rs := &backupv1alpha1.DCSRestore{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}}
	for _, m := range mods {
		m(rs)
	}
	Expect(k8sClient.Create(ctx, rs)).To(Succeed())
	return rs
}

func fromBackup(name string) func(*backupv1alpha1.DCSRestore) {
	return func(rs *backupv1alpha1.DCSRestore) {
		rs.Spec.BackupRef = &backupv1alpha1.LocalObjectReference{Name: name}
	}
}

func (e *simEnv) fromSource(instanceID, backupID string) func(*backupv1alpha1.DCSRestore) {
	return func(rs *backupv1alpha1.DCSRestore) {
		rs.Spec.Source = &backupv1alpha1.RestoreSource{InstanceID: instanceID, BackupID: backupID,
			Connection: e.spec(instanceID).Connection}
	}
}

func fetchRestore(g Gomega, rs *backupv1alpha1.DCSRestore) *backupv1alpha1.DCSRestore {
	got := &backupv1alpha1.DCSRestore{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rs), got)).To(Succeed())
	return got
}

func restoreCond(rs *backupv1alpha1.DCSRestore, typ string) metav1.Condition {
	return cond(&backupv1alpha1.DCSBackup{Status: backupv1alpha1.DCSBackupStatus{Conditions: rs.Status.Conditions}}, typ)
}

// succeededBackup creates a DCSBackup and waits for it to succeed.
func (e *simEnv) succeededBackup(name, instanceID string) *backupv1alpha1.DCSBackup {
	b := e.backup(name, instanceID)
	Eventually(func(g Gomega) {
		expectCondition(g, fetch(g, b), backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue, backupv1alpha1.ReasonBackupSucceeded)
	}).WithTimeout(30 * time.Second).Should(Succeed())
	return fetch(Default, b)
}

// kubectl runs the real kubectl of the control plane, as a user would,
// and returns what it printed.
func kubectl(ns string, args ...string) string {
	kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(os.WriteFile(kubeconfig, testEnv.KubeConfig, 0o600)).To(Succeed())
	cmd := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"),
		append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)...)
	out, err := cmd.CombinedOutput()
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "kubectl %v: %s", args, out)
	return string(out)
}

// kubectlWait waits with kubectl until what has Succeeded=True.
func kubectlWait(ns, what string) {
	out := kubectl(ns, "wait", "--for=condition=Succeeded", what, "--timeout=60s")
	Expect(out).To(ContainSubstring("condition met"))
}

// simRestoresOf returns the simulator's restore records of an instance.
func simRestoresOf(sim *simulator.Simulator, instanceID string) []simulator.RestoreRecord {
	var out []simulator.RestoreRecord
	for _, r := range sim.Restores() {
		if r.InstanceID == instanceID {
			out = append(out, r)
		}
	}
	return out
}

var _ = Describe("DCSRestore", func() {
	It("restores a DCSBackup in place: Pending, Restoring, Succeeded, shown on the backup too", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second, RestoreDuration: 4 * time.Second})
		id := env.instance(inst1)
		b := env.succeededBackup("before-upgrade", id)
		rs := env.restore("rollback", fromBackup(b.Name), func(rs *backupv1alpha1.DCSRestore) {
			rs.Spec.Remark = "rollback after failed upgrade"
		})

		var phases []backupv1alpha1.RestorePhase
		Eventually(func(g Gomega) {
			got := fetchRestore(g, rs)
			if n := len(phases); n == 0 || phases[n-1] != got.Status.Phase {
				phases = append(phases, got.Status.Phase)
			}
			g.Expect(got.Status.Phase).To(Equal(backupv1alpha1.RestorePhaseSucceeded))
		}).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
		Expect(phases).To(ContainElement(backupv1alpha1.RestorePhaseRestoring))
		kubectlWait(env.ns, "dcsrestore/rollback")

		got := fetchRestore(Default, rs)
		Expect(got.Status.Kind).To(Equal(backupv1alpha1.RestoreKindInPlace))
		Expect(got.Status.BackupID).To(Equal(b.Status.BackupID))
		Expect(got.Status.InstanceID).To(Equal(id))
		Expect(got.Status.Progress).To(Equal("100.00"))
		Expect(got.Status.StartedAt).NotTo(BeNil())
		Expect(got.Status.CompletedAt).NotTo(BeNil())
		Expect(restoreCond(got, backupv1alpha1.ConditionSynced).Status).To(Equal(metav1.ConditionTrue))
		records := simRestoresOf(env.sim, id)
		Expect(records).To(HaveLen(1))
		Expect(records[0].ID).To(Equal(got.Status.RestoreID))
		Expect(records[0].Remark).To(HavePrefix("rollback after failed upgrade dcsr-"))
		Eventually(func(g Gomega) []string { return eventReasons(g, got) }).Should(
			ContainElements("RestoreStarted", backupv1alpha1.ReasonRestoreSucceeded))

		// The DCSBackup restored from shows the restore like any other.
		Eventually(func(g Gomega) {
			gb := fetch(g, b)
			expectCondition(g, gb, backupv1alpha1.ConditionRestored, metav1.ConditionTrue, backupv1alpha1.ReasonRestoreSucceeded)
			g.Expect(gb.Status.Restores).To(HaveLen(1))
			g.Expect(gb.Status.Restores[0].RestoreID).To(Equal(got.Status.RestoreID))
		}).WithTimeout(20 * time.Second).Should(Succeed())
	})

	It("restores an automatic backup named by its DCS ids (spec.source)", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second, RestoreDuration: 2 * time.Second})
		id := env.instance(inst1)
		auto, err := env.sim.AddAutoBackup(id)
		Expect(err).NotTo(HaveOccurred())
		rs := env.restore("from-auto", env.fromSource(id, auto))
		kubectlWait(env.ns, "dcsrestore/from-auto")
		got := fetchRestore(Default, rs)
		Expect(got.Status.BackupID).To(Equal(auto))
		Expect(got.Status.BackupName).To(HavePrefix("backup_"))
		Expect(simRestoresOf(env.sim, id)).To(HaveLen(1))
	})

	It("imports a backup into another instance once, and keeps the target's password to itself", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second, ImportDuration: 3 * time.Second})
		id, target := env.instance(inst1), env.instance(inst2)
		Expect(env.sim.SetInstancePassword(target, targetPassword)).To(Succeed())
		env.passwordSecret("staging-redis", targetPassword)
		b := env.succeededBackup("to-staging", id)
		rs := env.restore("into-staging", fromBackup(b.Name), func(rs *backupv1alpha1.DCSRestore) {
			rs.Spec.Target = &backupv1alpha1.RestoreTarget{InstanceID: target,
				PasswordSecretRef: &backupv1alpha1.SecretKeySelector{Name: "staging-redis", Key: "password"}}
		})
		kubectlWait(env.ns, "dcsrestore/into-staging")

		got := fetchRestore(Default, rs)
		Expect(got.Status.Kind).To(Equal(backupv1alpha1.RestoreKindImport))
		Expect(got.Status.InstanceID).To(Equal(target))
		imports := env.sim.Imports()
		Expect(imports).To(HaveLen(1))
		Expect(imports[0].ID).To(Equal(got.Status.MigrationTaskID))
		Expect(imports[0].TargetInstanceID).To(Equal(target))
		Expect(simRestoresOf(env.sim, id)).To(BeEmpty(), "an import is not an in-place restore of the source")
		expectNoPassword(got)
	})

	It("fails with WrongPassword when the target refuses the password, and says so nowhere else", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second, ImportDuration: 2 * time.Second})
		id, target := env.instance(inst1), env.instance(inst2)
		Expect(env.sim.SetInstancePassword(target, "the-real-one")).To(Succeed())
		env.passwordSecret("staging-redis", targetPassword)
		b := env.succeededBackup("to-staging", id)
		rs := env.restore("wrong-password", fromBackup(b.Name), func(rs *backupv1alpha1.DCSRestore) {
			rs.Spec.Target = &backupv1alpha1.RestoreTarget{InstanceID: target,
				PasswordSecretRef: &backupv1alpha1.SecretKeySelector{Name: "staging-redis", Key: "password"}}
		})
		Eventually(func(g Gomega) {
			got := fetchRestore(g, rs)
			c := restoreCond(got, backupv1alpha1.ConditionSucceeded)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(backupv1alpha1.ReasonWrongPassword))
			g.Expect(c.Message).To(ContainSubstring("DCS.4080"))
			g.Expect(got.Status.Phase).To(Equal(backupv1alpha1.RestorePhaseFailed))
		}).WithTimeout(20 * time.Second).Should(Succeed())
		Expect(env.sim.Imports()).To(BeEmpty())
		expectNoPassword(fetchRestore(Default, rs))
	})

	It("backs up the target first when asked, and restores once that backup succeeded", func() {
		env := newSimEnv(simulator.Options{BackupDuration: 2 * time.Second, RestoreDuration: 2 * time.Second})
		id := env.instance(inst1)
		b := env.succeededBackup("known-good", id)
		rs := env.restore("careful", fromBackup(b.Name), func(rs *backupv1alpha1.DCSRestore) {
			rs.Spec.PreRestoreBackup = true
		})
		kubectlWait(env.ns, "dcsrestore/careful")
		got := fetchRestore(Default, rs)
		Expect(got.Status.PreRestoreBackup).To(Equal("careful-pre"))
		pre := fetch(Default, &backupv1alpha1.DCSBackup{ObjectMeta: metav1.ObjectMeta{Name: "careful-pre", Namespace: env.ns}})
		Expect(pre.Status.Phase).To(Equal(backupv1alpha1.PhaseSucceeded))
		Expect(pre.Spec.InstanceID).To(Equal(id))
		Expect(pre.Labels).To(HaveKeyWithValue(backupv1alpha1.LabelRestore, "careful"))
		records := simRestoresOf(env.sim, id)
		Expect(records).To(HaveLen(1))
		var preRecord simulator.BackupRecord
		for _, r := range simBackupsOf(env.sim, id) {
			if r.ID == pre.Status.BackupID {
				preRecord = r
			}
		}
		Expect(records[0].CreatedAt).NotTo(BeTemporally("<", preRecord.FinishedAt),
			"the restore started before the pre-restore backup ended")
	})

	It("makes a backup created while a restore runs wait its turn, without a busy answer", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second, RestoreDuration: 5 * time.Second})
		id := env.instance(inst1)
		b := env.succeededBackup("base", id)
		rs := env.restore("long-restore", fromBackup(b.Name))
		Eventually(func(g Gomega) string { return fetchRestore(g, rs).Status.RestoreID }).ShouldNot(BeEmpty())
		during := env.backup("during-restore", id)
		Eventually(func(g Gomega) {
			expectCondition(g, fetch(g, during), backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown,
				backupv1alpha1.ReasonWaitingForInstance)
		}).Should(Succeed())
		kubectlWait(env.ns, "dcsrestore/long-restore")
		Eventually(func(g Gomega) {
			expectCondition(g, fetch(g, during), backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue,
				backupv1alpha1.ReasonBackupSucceeded)
		}).WithTimeout(30 * time.Second).Should(Succeed())
		for _, code := range []string{"DCS.4096", "DCS.4097", "DCS.4017"} {
			Expect(env.sim.CodeCount(code)).To(BeZero(), "the operator collided with its own restore: %s", code)
		}
	})

	It("adopts its restore after losing the answer, and after being deleted and re-created: exactly one", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second, RestoreDuration: 2 * time.Second})
		id := env.instance(inst1)
		b := env.succeededBackup("base", id)
		mods := []func(*backupv1alpha1.DCSRestore){fromBackup(b.Name), func(rs *backupv1alpha1.DCSRestore) {
			rs.Spec.Remark = loseRestoreAnswerMarker
		}}
		rs := env.restore("lost-answer", mods...)
		kubectlWait(env.ns, "dcsrestore/lost-answer")
		Expect(simRestoresOf(env.sim, id)).To(HaveLen(1))
		first := fetchRestore(Default, rs)
		Expect(first.Status.RestoreID).To(Equal(simRestoresOf(env.sim, id)[0].ID))
		Eventually(func(g Gomega) []string { return eventReasons(g, first) }).Should(ContainElement("RestoreAdopted"))

		// A GitOps tool prunes and re-applies it: same namespace, name,
		// backup and target.
		Expect(k8sClient.Delete(ctx, first)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(rs), &backupv1alpha1.DCSRestore{}))
		}).Should(BeTrue())
		again := env.restore("lost-answer", mods...)
		kubectlWait(env.ns, "dcsrestore/lost-answer")
		Expect(simRestoresOf(env.sim, id)).To(HaveLen(1), "the re-created DCSRestore restored a second time")
		Expect(fetchRestore(Default, again).Status.RestoreID).To(Equal(first.Status.RestoreID))
	})

	DescribeTable("ends with a reason naming the check that failed",
		func(setup func(env *simEnv, id string) func(*backupv1alpha1.DCSRestore), reason string) {
			env := newSimEnv(simulator.Options{BackupDuration: time.Second})
			id := env.instance(inst1)
			rs := env.restore("checked", setup(env, id))
			Eventually(func(g Gomega) {
				got := fetchRestore(g, rs)
				c := restoreCond(got, backupv1alpha1.ConditionSucceeded)
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(reason))
			}).Should(Succeed())
			Eventually(func(g Gomega) []string { return eventReasons(g, rs) }).Should(ContainElement(reason))
			Expect(env.sim.Restores()).To(BeEmpty())
		},
		Entry("a backup that failed", func(env *simEnv, id string) func(*backupv1alpha1.DCSRestore) {
			env.sim.FailNextBackups(id, 1)
			b := env.backup("failed", id)
			Eventually(func(g Gomega) backupv1alpha1.BackupPhase { return fetch(g, b).Status.Phase }).
				WithTimeout(20 * time.Second).Should(Equal(backupv1alpha1.PhaseFailed))
			return fromBackup("failed")
		}, backupv1alpha1.ReasonBackupNotRestorable),
		Entry("a backup ID DCS does not know", func(env *simEnv, id string) func(*backupv1alpha1.DCSRestore) {
			return env.fromSource(id, "00000000-0000-0000-0000-000000000000")
		}, backupv1alpha1.ReasonBackupNotFound),
		Entry("a DCSBackup that does not exist", func(*simEnv, string) func(*backupv1alpha1.DCSRestore) {
			return fromBackup("no-such-backup")
		}, backupv1alpha1.ReasonBackupNotFound),
		Entry("a single-node target", func(env *simEnv, id string) func(*backupv1alpha1.DCSRestore) {
			env.sim.AddInstance(simulator.Instance{ID: inst2, CacheMode: "single"})
			auto, err := env.sim.AddAutoBackup(id)
			Expect(err).NotTo(HaveOccurred())
			src := env.fromSource(id, auto)
			return func(rs *backupv1alpha1.DCSRestore) {
				src(rs)
				rs.Spec.Target = &backupv1alpha1.RestoreTarget{InstanceID: inst2}
			}
		}, backupv1alpha1.ReasonInstanceNotSupported),
		Entry("a target DCS does not know", func(env *simEnv, id string) func(*backupv1alpha1.DCSRestore) {
			auto, err := env.sim.AddAutoBackup(id)
			Expect(err).NotTo(HaveOccurred())
			src := env.fromSource(id, auto)
			return func(rs *backupv1alpha1.DCSRestore) {
				src(rs)
				rs.Spec.Target = &backupv1alpha1.RestoreTarget{InstanceID: "d00d0000-0000-0000-0000-000000000000"}
			}
		}, backupv1alpha1.ReasonInstanceNotFound),
	)
})

var _ = Describe("DCSRestore validation at admission", func() {
	valid := func() *backupv1alpha1.DCSRestore {
		return &backupv1alpha1.DCSRestore{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "invalid-", Namespace: "default"},
			Spec:       backupv1alpha1.DCSRestoreSpec{BackupRef: &backupv1alpha1.LocalObjectReference{Name: "b"}},
		}
	}
	source := &backupv1alpha1.RestoreSource{InstanceID: inst1, BackupID: "b-1", Connection: backupv1alpha1.Connection{
		ProjectID: "p1", Region: "eu-de", CredentialsSecretRef: backupv1alpha1.SecretReference{Name: "c"}}}

	DescribeTable("rejects, naming the field",
		func(mutate func(*backupv1alpha1.DCSRestore), field string) {
			rs := valid()
			mutate(rs)
			err := k8sClient.Create(ctx, rs)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
		},
		Entry("both backupRef and source", func(rs *backupv1alpha1.DCSRestore) { rs.Spec.Source = source.DeepCopy() },
			"spec.backupRef"),
		Entry("neither backupRef nor source", func(rs *backupv1alpha1.DCSRestore) { rs.Spec.BackupRef = nil },
			"spec.source"),
		Entry("a remark DCS would refuse", func(rs *backupv1alpha1.DCSRestore) { rs.Spec.Remark = strings.Repeat("r", 97) },
			"spec.remark"),
		Entry("a target instance ID that is not one", func(rs *backupv1alpha1.DCSRestore) {
			rs.Spec.Target = &backupv1alpha1.RestoreTarget{InstanceID: "../other"}
		}, "spec.target.instanceID"),
		Entry("a password reference without a key", func(rs *backupv1alpha1.DCSRestore) {
			rs.Spec.Target = &backupv1alpha1.RestoreTarget{InstanceID: inst2,
				PasswordSecretRef: &backupv1alpha1.SecretKeySelector{Name: "s"}}
		}, "spec.target.passwordSecretRef.key"),
	)

	It("refuses any change of the spec: a restore runs at most once", func() {
		rs := valid()
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		// A merge patch carries no resourceVersion: the controller's own
		// writes in between cannot turn the answer into a conflict.
		orig := rs.DeepCopy()
		rs.Spec.PreRestoreBackup = true
		err := k8sClient.Patch(ctx, rs, client.MergeFrom(orig))
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec is immutable"))
	})
})

// passwordSecret creates a Secret with the target's Redis password.
func (e *simEnv) passwordSecret(name, password string) {
	Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		StringData: map[string]string{"password": password},
	})).To(Succeed())
}

// expectNoPassword checks that the target's password is nowhere in the
// restore's status nor in the events of its namespace.
func expectNoPassword(rs *backupv1alpha1.DCSRestore) {
	status, err := json.Marshal(rs.Status)
	Expect(err).NotTo(HaveOccurred())
	Expect(strings.Contains(string(status), targetPassword)).To(BeFalse(), "the password is in the status")
	list := &eventsv1.EventList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(rs.Namespace))).To(Succeed())
	for _, ev := range list.Items {
		Expect(strings.Contains(ev.Note, targetPassword)).To(BeFalse(), "the password is in event %s", ev.Reason)
	}
}
