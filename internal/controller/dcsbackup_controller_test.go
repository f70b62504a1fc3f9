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
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

const (
	inst1 = "5560df16-cebf-4473-95c4-d1b573c16e79"
	inst2 = "7a1c0e55-1111-4a2b-9c3d-000000000002"
)

var _ = Describe("DCSBackup", func() {
	for _, version := range []backupv1alpha1.APIVersion{backupv1alpha1.APIVersionV2, backupv1alpha1.APIVersionV1} {
		It("goes Waiting, InProgress with rising progress, then Succeeded with API "+string(version), func() {
			env := newSimEnv(simulator.Options{BackupDuration: 8 * time.Second})
			id := env.instance(inst1)
			b := env.backup("nightly", id, func(b *backupv1alpha1.DCSBackup) {
				b.Spec.Connection.APIVersion = version
				b.Spec.Remark = "before upgrade"
			})

			var progress []string
			Eventually(func(g Gomega) {
				got := fetch(g, b)
				if got.Status.Phase == backupv1alpha1.PhaseInProgress && (len(progress) == 0 ||
					progress[len(progress)-1] != got.Status.Progress) {
					progress = append(progress, got.Status.Progress)
				}
				expectCondition(g, got, backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue, backupv1alpha1.ReasonBackupSucceeded)
			}).WithTimeout(40 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())

			Expect(len(progress)).To(BeNumerically(">=", 2), "progress seen while InProgress: %v", progress)
			Expect(parseProgress(progress[len(progress)-1])).To(BeNumerically(">", parseProgress(progress[0])))

			got := fetch(Default, b)
			Expect(got.Status.Phase).To(Equal(backupv1alpha1.PhaseSucceeded))
			Expect(got.Status.Progress).To(Equal("100.00"))
			Expect(got.Status.Size).To(BeNumerically(">", 0))
			Expect(got.Status.Restorable).To(BeTrue())
			Expect(got.Status.Format).To(Equal(backupv1alpha1.BackupFormatRDB))
			Expect(got.Status.BackupType).To(Equal("manual"))
			Expect(got.Status.BackupName).To(HavePrefix("backup_"))
			Expect(got.Status.StartedAt).NotTo(BeNil())
			Expect(got.Status.CompletedAt).NotTo(BeNil())
			Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			expectCondition(Default, got, backupv1alpha1.ConditionSynced, metav1.ConditionTrue, backupv1alpha1.ReasonSynced)

			records := simBackupsOf(env.sim, id)
			Expect(records).To(HaveLen(1))
			Expect(records[0].ID).To(Equal(got.Status.BackupID))
			Expect(records[0].Remark).To(Equal("before upgrade k8s:" + string(got.UID)))
			Eventually(func(g Gomega) []string { return eventReasons(g, got) }).Should(
				ContainElements("BackupStarted", "BackupSucceeded"))
		})
	}

	It("ends Succeeded=False with the DCS error code when the backup fails", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		env.sim.FailNextBackups(id, 1)
		b := env.backup("doomed", id)

		Eventually(func(g Gomega) {
			got := fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionSucceeded, metav1.ConditionFalse, backupv1alpha1.ReasonBackupFailed)
			g.Expect(cond(got, backupv1alpha1.ConditionSucceeded).Message).To(ContainSubstring("dcs.08.000"))
			g.Expect(got.Status.Phase).To(Equal(backupv1alpha1.PhaseFailed))
			g.Expect(got.Status.ErrorCode).To(HavePrefix("dcs.08.000"))
		}).WithTimeout(20 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) []string { return eventReasons(g, b) }).Should(ContainElement("BackupFailed"))
	})

	It("runs two backups of one instance one after the other, without busy errors", func() {
		env := newSimEnv(simulator.Options{BackupDuration: 3 * time.Second})
		id := env.instance(inst1)
		first := env.backup("first", id)
		Eventually(func(g Gomega) string { return fetch(g, first).Status.BackupID }).ShouldNot(BeEmpty())
		second := env.backup("second", id)

		Eventually(func(g Gomega) {
			got := fetch(g, second)
			expectCondition(g, got, backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonWaitingForInstance)
			g.Expect(got.Status.Phase).To(Equal(backupv1alpha1.PhaseWaiting))
		}).WithTimeout(5 * time.Second).Should(Succeed())

		for _, b := range []*backupv1alpha1.DCSBackup{first, second} {
			Eventually(func(g Gomega) {
				expectCondition(g, fetch(g, b), backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue,
					backupv1alpha1.ReasonBackupSucceeded)
			}).WithTimeout(30 * time.Second).Should(Succeed())
		}
		Expect(simBackupsOf(env.sim, id)).To(HaveLen(2))
		Expect(env.sim.CodeCount("DCS.4096")).To(BeZero(), "the operator collided with its own backup")
		a, b := fetch(Default, first), fetch(Default, second)
		Expect(b.Status.StartedAt.Time).NotTo(BeTemporally("<", a.Status.CompletedAt.Time))
	})

	It("waits out a backup it did not start (a console or automatic backup)", func() {
		env := newSimEnv(simulator.Options{BackupDuration: 3 * time.Second})
		id := env.instance(inst1)
		_, err := env.sim.AddAutoBackup(id)
		Expect(err).NotTo(HaveOccurred())
		b := env.backup("after-auto", id)

		Eventually(func(g Gomega) {
			got := fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonWaitingForInstance)
			expectCondition(g, got, backupv1alpha1.ConditionSynced, metav1.ConditionFalse, backupv1alpha1.ReasonInstanceBusy)
		}).WithTimeout(5 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			got := fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue, backupv1alpha1.ReasonBackupSucceeded)
			expectCondition(g, got, backupv1alpha1.ConditionSynced, metav1.ConditionTrue, backupv1alpha1.ReasonSynced)
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})

	It("succeeds through throttling and server errors, with a bounded number of requests", func() {
		// A third of the requests fail. The operator backs off
		// exponentially over consecutive failures, so a run of bad luck can
		// cost tens of seconds: the timeout allows for it.
		env := newSimEnv(simulator.Options{BackupDuration: 2 * time.Second, Faults: simulator.Faults{
			ErrorRate: 0.2, ThrottleRate: 0.13, RetryAfter: 500 * time.Millisecond,
		}})
		id := env.instance(inst1)
		b := env.backup("stormy", id)

		Eventually(func(g Gomega) {
			expectCondition(g, fetch(g, b), backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue,
				backupv1alpha1.ReasonBackupSucceeded)
		}).WithTimeout(150 * time.Second).Should(Succeed())
		Expect(simBackupsOf(env.sim, id)).To(HaveLen(1), "a lost or failed answer must not cause a second backup")
		stats := env.sim.Stats()
		Expect(stats.Total).To(BeNumerically("<=", 40), "requests: %+v", stats.Requests)
	})

	It("reports a missing Secret and recovers when it is created", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		b := env.backup("waits-for-secret", id, func(b *backupv1alpha1.DCSBackup) {
			b.Spec.Connection.CredentialsSecretRef.Name = "later"
		})
		Eventually(func(g Gomega) {
			got := fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionSynced, metav1.ConditionFalse, backupv1alpha1.ReasonCredentialsNotFound)
			g.Expect(cond(got, backupv1alpha1.ConditionSynced).Message).To(ContainSubstring(`"later"`))
			expectCondition(g, got, backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonPending)
		}).Should(Succeed())

		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "later", Namespace: env.ns},
			StringData: map[string]string{"accessKey": simulator.DefaultAccessKey, "secretKey": simulator.DefaultSecretKey},
		})).To(Succeed())
		Eventually(func(g Gomega) {
			got := fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue, backupv1alpha1.ReasonBackupSucceeded)
			expectCondition(g, got, backupv1alpha1.ConditionSynced, metav1.ConditionTrue, backupv1alpha1.ReasonSynced)
		}).WithTimeout(20 * time.Second).Should(Succeed())
	})

	It("reports a wrong secret key as Unauthorized without a hot loop, and recovers when it is fixed", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: env.ns, Name: env.secret}, secret)).To(Succeed())
		secret.Data["secretKey"] = []byte("not-the-right-secret-key")
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())

		b := env.backup("bad-key", id)
		Eventually(func(g Gomega) {
			got := fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionSynced, metav1.ConditionFalse, backupv1alpha1.ReasonUnauthorized)
			g.Expect(cond(got, backupv1alpha1.ConditionSynced).Message).To(ContainSubstring("APIG.0301"))
			g.Expect(cond(got, backupv1alpha1.ConditionSynced).Message).NotTo(ContainSubstring("not-the-right-secret-key"))
		}).Should(Succeed())
		before := env.sim.Stats().Total
		Consistently(func() int { return env.sim.Stats().Total - before }).
			WithTimeout(5 * time.Second).Should(BeNumerically("<=", 2))

		secret.Data["secretKey"] = []byte(simulator.DefaultSecretKey)
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		Eventually(func(g Gomega) {
			expectCondition(g, fetch(g, b), backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue,
				backupv1alpha1.ReasonBackupSucceeded)
		}).WithTimeout(20 * time.Second).Should(Succeed())
	})

	It("adopts its own backup after losing the create answer, making exactly one", func() {
		env := newSimEnv(simulator.Options{BackupDuration: 2 * time.Second})
		id := env.instance(inst1)
		b := env.backup("crash-after-post", id, func(b *backupv1alpha1.DCSBackup) {
			b.Spec.Remark = loseCreateAnswerMarker
		})
		Eventually(func(g Gomega) {
			expectCondition(g, fetch(g, b), backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue,
				backupv1alpha1.ReasonBackupSucceeded)
		}).WithTimeout(30 * time.Second).Should(Succeed())
		records := simBackupsOf(env.sim, id)
		Expect(records).To(HaveLen(1))
		Expect(fetch(Default, b).Status.BackupID).To(Equal(records[0].ID))
		Eventually(func(g Gomega) []string { return eventReasons(g, b) }).Should(ContainElement("BackupAdopted"))
	})

	It("shows a restore made outside the operator as Restored, Unknown then True", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second, RestoreDuration: 4 * time.Second})
		id := env.instance(inst1)
		b := env.backup("restored-later", id)
		Eventually(func(g Gomega) string {
			return string(fetch(g, b).Status.Phase)
		}).WithTimeout(20 * time.Second).Should(Equal(string(backupv1alpha1.PhaseSucceeded)))
		Expect(cond(fetch(Default, b), backupv1alpha1.ConditionRestored).Type).To(BeEmpty(),
			"Restored appears only once a restore exists")

		backupID := fetch(Default, b).Status.BackupID
		restoreID, err := env.sim.StartRestore(id, backupID, "restored from the console")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			got := fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionRestored, metav1.ConditionUnknown, backupv1alpha1.ReasonRestoreInProgress)
			g.Expect(got.Status.Restores).To(HaveLen(1))
			g.Expect(got.Status.Restores[0].RestoreID).To(Equal(restoreID))
		}).WithTimeout(10 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
		Eventually(func(g Gomega) {
			got := fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionRestored, metav1.ConditionTrue, backupv1alpha1.ReasonRestoreSucceeded)
			g.Expect(got.Status.Restores[0].Status).To(Equal("succeed"))
			g.Expect(got.Status.Restores[0].Remark).To(Equal("restored from the console"))
		}).WithTimeout(20 * time.Second).Should(Succeed())
	})

	It("adopts an existing backup by spec.backupID", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		existing, err := env.sim.AddAutoBackup(id)
		Expect(err).NotTo(HaveOccurred())
		b := env.backup("adopted", id, func(b *backupv1alpha1.DCSBackup) { b.Spec.BackupID = existing })
		Eventually(func(g Gomega) {
			got := fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue, backupv1alpha1.ReasonBackupSucceeded)
			g.Expect(got.Status.BackupID).To(Equal(existing))
			g.Expect(got.Status.BackupType).To(Equal("auto"))
		}).WithTimeout(20 * time.Second).Should(Succeed())
		Expect(simBackupsOf(env.sim, id)).To(HaveLen(1), "adopting must not create a backup")
		Eventually(func(g Gomega) []string { return eventReasons(g, b) }).Should(ContainElement("BackupAdopted"))
	})

	It("reports an adopted backup ID that DCS does not know", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		b := env.backup("adopt-missing", id, func(b *backupv1alpha1.DCSBackup) {
			b.Spec.BackupID = "00000000-0000-0000-0000-000000000000"
		})
		Eventually(func(g Gomega) {
			got := fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionSucceeded, metav1.ConditionFalse, backupv1alpha1.ReasonBackupNotFound)
			g.Expect(cond(got, backupv1alpha1.ConditionSucceeded).Message).To(ContainSubstring("spec.backupID"))
		}).WithTimeout(20 * time.Second).Should(Succeed())
	})

	DescribeTable("deletion of the resource",
		func(policy backupv1alpha1.DeletionPolicy, wantStatus string) {
			env := newSimEnv(simulator.Options{BackupDuration: time.Second})
			id := env.instance(inst1)
			b := env.backup("to-delete", id, func(b *backupv1alpha1.DCSBackup) { b.Spec.DeletionPolicy = policy })
			Eventually(func(g Gomega) string {
				return string(fetch(g, b).Status.Phase)
			}).WithTimeout(20 * time.Second).Should(Equal(string(backupv1alpha1.PhaseSucceeded)))

			Expect(k8sClient.Delete(ctx, b)).To(Succeed())
			Eventually(func() bool {
				return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(b), &backupv1alpha1.DCSBackup{}))
			}).WithTimeout(20 * time.Second).Should(BeTrue())
			records := simBackupsOf(env.sim, id)
			Expect(records).To(HaveLen(1))
			Expect(records[0].Status).To(Equal(wantStatus))
		},
		Entry("Retain keeps the cloud backup", backupv1alpha1.DeletionPolicyRetain, "succeed"),
		Entry("Delete deletes the cloud backup", backupv1alpha1.DeletionPolicyDelete, "deleted"),
	)

	It("deletes the cloud backup of a resource deleted while its backup runs, once it finished", func() {
		env := newSimEnv(simulator.Options{BackupDuration: 4 * time.Second})
		id := env.instance(inst1)
		b := env.backup("delete-while-running", id, func(b *backupv1alpha1.DCSBackup) {
			b.Spec.DeletionPolicy = backupv1alpha1.DeletionPolicyDelete
		})
		Eventually(func(g Gomega) string { return fetch(g, b).Status.BackupID }).ShouldNot(BeEmpty())
		Expect(k8sClient.Delete(ctx, b)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(b), &backupv1alpha1.DCSBackup{}))
		}).WithTimeout(30 * time.Second).Should(BeTrue())
		records := simBackupsOf(env.sim, id)
		Expect(records).To(HaveLen(1))
		Expect(records[0].Status).To(Equal("deleted"))
	})

	It("refuses a plain-http endpoint only when the operator does not allow it", func() {
		_, err := ResolveEndpoint(backupv1alpha1.Connection{Endpoint: "http://127.0.0.1:8080"}, false)
		Expect(err).To(MatchError(ContainSubstring("spec.connection.endpoint")))
		ep, err := ResolveEndpoint(backupv1alpha1.Connection{Endpoint: "http://127.0.0.1:8080/"}, true)
		Expect(err).NotTo(HaveOccurred())
		Expect(ep).To(Equal("http://127.0.0.1:8080"))
	})

	It("counts DCS requests by operation and result in the metrics", func() {
		before := counterValue("list_backups", "ok")
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst2)
		b := env.backup("metered", id)
		Eventually(func(g Gomega) string {
			return string(fetch(g, b).Status.Phase)
		}).WithTimeout(20 * time.Second).Should(Equal(string(backupv1alpha1.PhaseSucceeded)))
		Expect(counterValue("list_backups", "ok")).To(BeNumerically(">", before))
	})
})

var _ = Describe("DCSBackup validation at admission", func() {
	valid := func() *backupv1alpha1.DCSBackup {
		return &backupv1alpha1.DCSBackup{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "invalid-", Namespace: "default"},
			Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
				InstanceID: inst1,
				Connection: backupv1alpha1.Connection{
					ProjectID:            simulator.DefaultProjectID,
					Region:               "eu-west-0",
					CredentialsSecretRef: backupv1alpha1.SecretReference{Name: "creds"},
				},
			}},
		}
	}
	DescribeTable("rejects an invalid spec with a message naming the field",
		func(mutate func(*backupv1alpha1.DCSBackup), field string) {
			b := valid()
			mutate(b)
			err := k8sClient.Create(ctx, b)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
		},
		Entry("instance ID with a slash", func(b *backupv1alpha1.DCSBackup) { b.Spec.InstanceID = "../etc" }, "spec.instanceID"),
		Entry("empty instance ID", func(b *backupv1alpha1.DCSBackup) { b.Spec.InstanceID = "" }, "spec.instanceID"),
		Entry("10 kB instance ID", func(b *backupv1alpha1.DCSBackup) { b.Spec.InstanceID = strings.Repeat("a", 10240) },
			"spec.instanceID"),
		Entry("project ID with spaces", func(b *backupv1alpha1.DCSBackup) { b.Spec.Connection.ProjectID = "my project" },
			"spec.connection.projectID"),
		Entry("neither region nor endpoint", func(b *backupv1alpha1.DCSBackup) { b.Spec.Connection.Region = "" },
			"spec.connection"),
		Entry("endpoint with a path", func(b *backupv1alpha1.DCSBackup) {
			b.Spec.Connection.Endpoint = "https://dcs.example.com/v2/project"
		}, "spec.connection.endpoint"),
		Entry("endpoint with another scheme", func(b *backupv1alpha1.DCSBackup) {
			b.Spec.Connection.Endpoint = "ftp://dcs.example.com"
		}, "spec.connection.endpoint"),
		Entry("unknown API version", func(b *backupv1alpha1.DCSBackup) { b.Spec.Connection.APIVersion = "v3" },
			"spec.connection.apiVersion"),
		Entry("no Secret name", func(b *backupv1alpha1.DCSBackup) { b.Spec.Connection.CredentialsSecretRef.Name = "" },
			"spec.connection.credentialsSecretRef.name"),
		Entry("unknown format", func(b *backupv1alpha1.DCSBackup) { b.Spec.Format = "zip" }, "spec.format"),
		Entry("aof with the v1 API", func(b *backupv1alpha1.DCSBackup) {
			b.Spec.Format = backupv1alpha1.BackupFormatAOF
			b.Spec.Connection.APIVersion = backupv1alpha1.APIVersionV1
		}, "spec.format"),
		Entry("unknown deletion policy", func(b *backupv1alpha1.DCSBackup) { b.Spec.DeletionPolicy = "Orphan" },
			"spec.deletionPolicy"),
		Entry("remark over 87 characters (128 with the operator's token)", func(b *backupv1alpha1.DCSBackup) { b.Spec.Remark = strings.Repeat("r", 88) },
			"spec.remark"),
		Entry("region in upper case", func(b *backupv1alpha1.DCSBackup) { b.Spec.Connection.Region = "EU-WEST-0" },
			"spec.connection.region"),
		Entry("project ID over 64 characters", func(b *backupv1alpha1.DCSBackup) {
			b.Spec.Connection.ProjectID = strings.Repeat("0", 65)
		}, "spec.connection.projectID"),
		Entry("Secret name that is not a DNS name", func(b *backupv1alpha1.DCSBackup) {
			b.Spec.Connection.CredentialsSecretRef.Name = "../kube-system/admin"
		}, "spec.connection.credentialsSecretRef.name"),
		Entry("backup ID with a slash", func(b *backupv1alpha1.DCSBackup) { b.Spec.BackupID = "../restores" },
			"spec.backupID"),
	)

	DescribeTable("rejects changes to immutable fields",
		func(mutate func(*backupv1alpha1.DCSBackup), field string) {
			b := valid()
			Expect(k8sClient.Create(ctx, b)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, b))).To(Succeed()) })
			// The controller writes status meanwhile: retry on conflicts only.
			var err error
			Eventually(func() bool {
				got := fetch(Default, b)
				mutate(got)
				err = k8sClient.Update(ctx, got)
				return apierrors.IsConflict(err)
			}).Should(BeFalse())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
			Expect(err.Error()).To(ContainSubstring("immutable"))
		},
		Entry("instanceID", func(b *backupv1alpha1.DCSBackup) { b.Spec.InstanceID = inst2 }, "spec.instanceID"),
		Entry("connection", func(b *backupv1alpha1.DCSBackup) { b.Spec.Connection.Region = "eu-west-101" }, "spec.connection"),
		Entry("format", func(b *backupv1alpha1.DCSBackup) { b.Spec.Format = backupv1alpha1.BackupFormatAOF }, "spec.format"),
		Entry("remark", func(b *backupv1alpha1.DCSBackup) { b.Spec.Remark = "changed" }, "spec.remark"),
		Entry("backupID", func(b *backupv1alpha1.DCSBackup) { b.Spec.BackupID = "4631832a-14c6-45b0-a0b3-3abd8f591ad1" },
			"spec.backupID"),
	)

	It("accepts a change of deletionPolicy", func() {
		b := valid()
		Expect(k8sClient.Create(ctx, b)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, b))).To(Succeed()) })
		Eventually(func(g Gomega) {
			got := fetch(g, b)
			got.Spec.DeletionPolicy = backupv1alpha1.DeletionPolicyDelete
			g.Expect(k8sClient.Update(ctx, got)).To(Succeed())
		}).Should(Succeed())
	})
})

// counterValue reads dcs_backup_operator_dcs_requests_total.
func counterValue(operation, result string) float64 {
	m, err := dcsRequestsTotal.GetMetricWithLabelValues(operation, result)
	Expect(err).NotTo(HaveOccurred())
	return testutil.ToFloat64(m)
}
