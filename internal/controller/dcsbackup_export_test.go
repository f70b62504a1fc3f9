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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
	"github.com/dcs-operator/dcs-backup-operator/internal/export"
)

var bucketCounter int

// bucketEnv is a spec's bucket on the suite's gateway, with a Secret and a
// DCSBackupStorage for it in the spec's namespace.
type bucketEnv struct {
	env     *simEnv
	bucket  string
	storage string
	secret  string
}

// newBucket makes a bucket and a storage named "offsite" pointing at it.
func (e *simEnv) newBucket(prefix string) *bucketEnv {
	bucketCounter++
	b := &bucketEnv{env: e, bucket: fmt.Sprintf("exports-%d-%d", GinkgoParallelProcess(), bucketCounter),
		storage: "offsite", secret: "obs-credentials"}
	Expect(gateway.CreateBucket(ctx, b.bucket)).To(Succeed())
	Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: b.secret, Namespace: e.ns},
		StringData: map[string]string{backupv1alpha1.SecretKeyAccessKey: gateway.AccessKey,
			backupv1alpha1.SecretKeySecretKey: gateway.SecretKey},
	})).To(Succeed())
	b.createStorage(prefix)
	return b
}

func (b *bucketEnv) createStorage(prefix string) {
	Expect(k8sClient.Create(ctx, &backupv1alpha1.DCSBackupStorage{
		ObjectMeta: metav1.ObjectMeta{Name: b.storage, Namespace: b.env.ns},
		Spec: backupv1alpha1.DCSBackupStorageSpec{Endpoint: gateway.URL, Region: gateway.Region, Bucket: b.bucket,
			Prefix: prefix, CredentialsSecretRef: backupv1alpha1.SecretReference{Name: b.secret}},
	})).To(Succeed())
}

// restoreExport creates a DCSRestore of the export in storage's folder
// path (of a backup of inst1) into the instance target.
func (e *simEnv) restoreExport(name, storage, path, target string) *backupv1alpha1.DCSRestore {
	rs := &backupv1alpha1.DCSRestore{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: backupv1alpha1.DCSRestoreSpec{
			Source: &backupv1alpha1.RestoreSource{Connection: e.spec(inst1).Connection,
				Export: &backupv1alpha1.ExportSource{StorageRef: backupv1alpha1.LocalObjectReference{Name: storage},
					Path: path}},
			Target: &backupv1alpha1.RestoreTarget{InstanceID: target},
		},
	}
	Expect(k8sClient.Create(ctx, rs)).To(Succeed())
	return rs
}

// exporting gives a DCSBackup spec.export to the env's storage.
func exporting(b *backupv1alpha1.DCSBackup) {
	b.Spec.Export = &backupv1alpha1.ExportSpec{StorageRef: backupv1alpha1.LocalObjectReference{Name: "offsite"}}
}

// fileSHA256 is the SHA-256 of what landed in the bucket, read from the
// gateway's backend, not through S3.
func (b *bucketEnv) fileSHA256(key string) (string, int64) {
	f, err := os.Open(gateway.ObjectPath(b.bucket, key))
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = f.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, f)
	Expect(err).NotTo(HaveOccurred())
	return hex.EncodeToString(h.Sum(nil)), n
}

func (b *bucketEnv) manifest(key string) *export.Manifest {
	data, err := os.ReadFile(gateway.ObjectPath(b.bucket, key))
	Expect(err).NotTo(HaveOccurred())
	m, err := export.ParseManifest(data)
	Expect(err).NotTo(HaveOccurred())
	return m
}

// manifests lists the keys of the manifests in the bucket.
func (b *bucketEnv) manifests() []string {
	var out []string
	root := gateway.ObjectPath(b.bucket, "")
	entries, _ := os.ReadDir(root + "/" + b.env.ns)
	for _, e := range entries {
		key := b.env.ns + "/" + e.Name() + "/" + export.ManifestName
		if _, err := os.Stat(gateway.ObjectPath(b.bucket, key)); err == nil {
			out = append(out, key)
		}
	}
	return out
}

func fetchStorage(g Gomega, b *bucketEnv) *backupv1alpha1.DCSBackupStorage {
	got := &backupv1alpha1.DCSBackupStorage{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: b.env.ns, Name: b.storage}, got)).To(Succeed())
	return got
}

func expectExported(b *backupv1alpha1.DCSBackup) *backupv1alpha1.DCSBackup {
	var got *backupv1alpha1.DCSBackup
	EventuallyWithOffset(1, func(g Gomega) {
		got = fetch(g, b)
		g.Expect(got.Status.Export).NotTo(BeNil())
		g.Expect(got.Status.Export.Phase).To(Equal(backupv1alpha1.ExportPhaseSucceeded), "%+v", got.Status.Export)
		expectCondition(g, got, backupv1alpha1.ConditionExported, metav1.ConditionTrue, backupv1alpha1.ReasonExportSucceeded)
	}).WithTimeout(30 * time.Second).Should(Succeed())
	return got
}

var _ = Describe("Exports", func() {
	It("copies every shard of a cluster backup into the bucket with a manifest whose checksums match the bytes", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		env.sim.AddInstance(simulator.Instance{ID: "cluster-1", CacheMode: "cluster", ShardCount: 3, BackupSize: 6<<20 + 5})
		bk := env.newBucket("prod/")
		b := env.backup("orders", "cluster-1", exporting)
		got := expectExported(b)

		exp := got.Status.Export
		Expect(exp.Path).To(Equal(env.ns + "/orders/"))
		Expect(exp.Bucket).To(Equal(bk.bucket))
		Expect(exp.Objects).To(HaveLen(3))
		m := bk.manifest("prod/" + env.ns + "/orders/" + export.ManifestName)
		Expect(m.Backup.ID).To(Equal(got.Status.BackupID))
		Expect(m.Backup.InstanceID).To(Equal("cluster-1"))
		Expect(m.Backup.Name).To(Equal(got.Status.BackupName))
		Expect(m.Source).To(Equal(export.ManifestSource{Namespace: env.ns, Name: "orders", UID: string(got.UID)}))
		Expect(m.TotalSize).To(Equal(got.Status.Size))
		files, err := env.sim.BackupFiles("cluster-1", got.Status.BackupID)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Files).To(HaveLen(3))
		for i, f := range m.Files {
			key := "prod/" + env.ns + "/orders/" + f.Name
			sum, size := bk.fileSHA256(key)
			Expect(sum).To(Equal(f.SHA256), "the bytes of %s in the bucket", key)
			Expect(size).To(Equal(f.Size))
			Expect(f.Name).To(Equal(files[i].Name))
			Expect(f.SHA256).To(Equal(files[i].Content().SHA256()), "the bytes the link served")
			Expect(exp.Objects[i]).To(Equal(backupv1alpha1.ExportedObject{Key: key, Size: f.Size, SHA256: f.SHA256}))
		}
		Eventually(func(g Gomega) []string { return eventReasons(g, b) }).Should(ContainElements("ExportStarted",
			backupv1alpha1.ReasonExportSucceeded))
	})

	It("asks DCS for new links when the ones it has expired", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		env.sim.AddInstance(simulator.Instance{ID: "expiring", BackupSize: 1 << 20})
		env.newBucket("")
		expireLinksOf.Store("expiring", env.sim.ExpireLinks)
		DeferCleanup(func() { expireLinksOf.Delete("expiring") })
		expectExported(env.backup("expiring", "expiring", exporting))
		stats := env.sim.Stats()
		Expect(stats.Requests[simulator.OpLinks]).To(Equal(2), "the first links and one renewal")
		Expect(stats.Outcomes[simulator.OpDownload]).To(HaveKey("AccessDenied"), "the expired link was tried")
	})

	It("shows a wrong bucket key in Ready and the export, and recovers when the Secret is fixed", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		env.instance(inst1)
		bk := &bucketEnv{env: env, bucket: fmt.Sprintf("exports-wrong-%d", GinkgoParallelProcess()), storage: "offsite",
			secret: "obs-credentials"}
		Expect(gateway.CreateBucket(ctx, bk.bucket)).To(Succeed())
		b := env.backup("waits", inst1, exporting)
		Eventually(func(g Gomega) {
			expectCondition(g, fetch(g, b), backupv1alpha1.ConditionExported, metav1.ConditionFalse,
				backupv1alpha1.ReasonStorageNotFound)
		}).Should(Succeed())

		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: bk.secret, Namespace: env.ns},
			StringData: map[string]string{backupv1alpha1.SecretKeyAccessKey: gateway.AccessKey,
				backupv1alpha1.SecretKeySecretKey: "not-the-" + gateway.SecretKey}}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		bk.createStorage("")
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(fetchStorage(g, bk).Status.Conditions, backupv1alpha1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(backupv1alpha1.ReasonUnauthorized))
			g.Expect(c.Message).NotTo(ContainSubstring(gateway.SecretKey))
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			expectCondition(g, fetch(g, b), backupv1alpha1.ConditionExported, metav1.ConditionFalse,
				backupv1alpha1.ReasonStorageNotReady)
		}).Should(Succeed())

		secret.StringData = map[string]string{backupv1alpha1.SecretKeySecretKey: gateway.SecretKey}
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(fetchStorage(g, bk).Status.Conditions, backupv1alpha1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(backupv1alpha1.ReasonBucketReachable))
		}).Should(Succeed())
		expectExported(b)
	})

	It("keeps 3 backups in DCS and 7 daily exports in the bucket over simulated days, the newest always", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		bk := env.newBucket("")
		// The first slot after the schedule's creation: the clock jumps to
		// it and the next ones, one day at a time.
		start := time.Now().UTC().Truncate(24 * time.Hour).Add(27 * time.Hour)
		s := env.schedule("daily", id, "0 3 * * *", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.Retention = &backupv1alpha1.Retention{KeepLast: ptr.To[int32](3)}
			s.Spec.ExportRetention = &backupv1alpha1.ExportRetention{KeepDaily: ptr.To[int32](7)}
			s.Spec.Template.Spec.Export = &backupv1alpha1.ExportSpec{
				StorageRef: backupv1alpha1.LocalObjectReference{Name: bk.storage}}
		})
		const days = 10
		for d := range days {
			slot := start.AddDate(0, 0, d)
			jump(slot.Add(5 * time.Second))
			poke(s)
			name := slotName(s.Name, slot)
			Eventually(func(g Gomega) *backupv1alpha1.ExportStatus {
				b := &backupv1alpha1.DCSBackup{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: env.ns, Name: name}, b)).To(Succeed())
				return b.Status.Export
			}).WithTimeout(30*time.Second).Should(HaveField("Phase", backupv1alpha1.ExportPhaseSucceeded), "day %d", d)
			want := min(d+1, 7)
			Eventually(func(g Gomega) {
				g.Expect(bk.manifests()).To(HaveLen(want))
				g.Expect(bk.manifests()).To(ContainElement(env.ns + "/" + name + "/" + export.ManifestName))
				g.Expect(fetchSchedule(g, s).Status.ExportsKept).To(HaveValue(BeEquivalentTo(want)))
			}).Should(Succeed(), "day %d", d)
		}
		Eventually(func() map[string]int {
			count := map[string]int{}
			for _, b := range simBackupsOf(env.sim, id) {
				count[b.Status]++
			}
			return count
		}).Should(Equal(map[string]int{"succeed": 3, "deleted": days - 3}))
		// The exports of pruned DCSBackups are still there: the bucket is
		// the catalogue.
		Expect(childNames(Default, s)).To(HaveLen(3))
		Eventually(func(g Gomega) []string { return eventReasons(g, s) }).Should(ContainElement("ExportsPruned"))
	})

	It("keeps exportRetention's count of exports for each instance of a fleet", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		ids := []string{"e4f1ee70-0000-4000-8000-000000000001", "e4f1ee70-0000-4000-8000-000000000002"}
		for _, id := range ids {
			env.sim.AddInstance(simulator.Instance{ID: id, Tags: map[string]string{"export": "yes"}})
		}
		bk := env.newBucket("")
		s := env.fleet("fleet-exports", map[string]string{"export": "yes"}, "0 0 1 1 *", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.Retention = &backupv1alpha1.Retention{KeepLast: ptr.To[int32](1)}
			s.Spec.ExportRetention = &backupv1alpha1.ExportRetention{KeepLast: ptr.To[int32](2)}
			s.Spec.Template.Spec.Export = &backupv1alpha1.ExportSpec{
				StorageRef: backupv1alpha1.LocalObjectReference{Name: bk.storage}}
		})
		for i := range 3 {
			token := fmt.Sprint("export-", i)
			setAnnotation(s, backupv1alpha1.AnnotationRunNow, token)
			for _, id := range ids {
				name := fleetChildName(s.Name, runNowRun(token), id)
				Eventually(func(g Gomega) *backupv1alpha1.ExportStatus {
					b := &backupv1alpha1.DCSBackup{}
					g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: env.ns, Name: name}, b)).To(Succeed())
					return b.Status.Export
				}).WithTimeout(30*time.Second).Should(HaveField("Phase", backupv1alpha1.ExportPhaseSucceeded), name)
			}
		}
		// Two runs' exports of each instance stay; the first run's go.
		want := make([]string, 0, 2*len(ids))
		for _, token := range []string{"export-1", "export-2"} {
			for _, id := range ids {
				want = append(want, env.ns+"/"+fleetChildName(s.Name, runNowRun(token), id)+"/"+export.ManifestName)
			}
		}
		Eventually(func(g Gomega) {
			g.Expect(bk.manifests()).To(ConsistOf(want))
			g.Expect(fetchSchedule(g, s).Status.ExportsKept).To(HaveValue(BeEquivalentTo(4)))
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})

	It("says in Ready when retention.keepLast cannot fit DCS's cap, and evicted backups show Deleted", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second, MaxBackupsPerInstance: 2})
		id := env.instance(inst1)
		s := env.schedule("too-many", id, "0 0 1 1 *", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.Retention = &backupv1alpha1.Retention{KeepLast: ptr.To[int32](30)}
		})
		Eventually(func(g Gomega) {
			c := scheduleCond(fetchSchedule(g, s), backupv1alpha1.ConditionReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Message).To(And(ContainSubstring("keepLast 30 cannot fit"), ContainSubstring("exportRetention")))
		}).Should(Succeed())
		Eventually(func(g Gomega) []string { return eventReasons(g, s) }).
			Should(ContainElement(backupv1alpha1.ReasonRetentionExceedsDCSCap))

		names := make([]string, 0, 3)
		for i := range 3 {
			token := fmt.Sprint("cap-", i)
			setAnnotation(s, backupv1alpha1.AnnotationRunNow, token)
			names = append(names, runNowName(s.Name, token))
			Eventually(func(g Gomega) string { return fetchSchedule(g, s).Status.LastSuccessfulBackup }).
				WithTimeout(20 * time.Second).Should(Equal(names[i]))
		}
		// The third backup evicted the first in DCS: its DCSBackup sees it
		// deleted, and it no longer counts as a kept backup.
		Eventually(func(g Gomega) backupv1alpha1.BackupPhase {
			b := &backupv1alpha1.DCSBackup{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: env.ns, Name: names[0]}, b)).To(Succeed())
			return b.Status.Phase
		}).WithTimeout(30 * time.Second).Should(Equal(backupv1alpha1.PhaseDeleted))
		Expect(env.sim.Stats().Evictions).To(Equal(1))
	})

	It("restores an export into another instance with an import task from the bucket", func() {
		var checked []string
		env := newSimEnv(simulator.Options{BackupDuration: time.Second, ImportDuration: time.Second,
			ImportFileCheck: func(bucket, key string) error {
				// DCS reads the files from the bucket: they must be there.
				if _, err := os.Stat(gateway.ObjectPath(bucket, key)); err != nil {
					return err
				}
				checked = append(checked, key)
				return nil
			}})
		env.instance(inst1)
		env.instance("target-1")
		env.newBucket("dr/")
		got := expectExported(env.backup("source", inst1, exporting))
		rs := env.restoreExport("from-export", "offsite", got.Status.Export.Path, "target-1")
		Eventually(func(g Gomega) {
			cur := &backupv1alpha1.DCSRestore{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rs), cur)).To(Succeed())
			g.Expect(cur.Status.Phase).To(Equal(backupv1alpha1.RestorePhaseSucceeded), "%+v", cur.Status.Conditions)
			g.Expect(cur.Status.Kind).To(Equal(backupv1alpha1.RestoreKindImport))
			g.Expect(cur.Status.BackupID).To(Equal(got.Status.BackupID))
			g.Expect(cur.Status.SourceInstanceID).To(Equal(inst1))
			g.Expect(cur.Status.InstanceID).To(Equal("target-1"))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		imports := env.sim.Imports()
		Expect(imports).To(HaveLen(1))
		Expect(imports[0].FileSource).To(Equal("self_build_obs"))
		Expect(checked).To(ConsistOf(got.Status.Export.Objects[0].Key))
	})

	It("starts a restore from an export as soon as the storage it names appears", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second, ImportDuration: time.Second})
		env.instance(inst1)
		env.instance("target-1")
		bucket := env.newBucket("dr/")
		got := expectExported(env.backup("source", inst1, exporting))
		// The restore names a storage that is not there yet (GitOps applies
		// both, in any order).
		rs := env.restoreExport("before-storage", "archive", got.Status.Export.Path, "target-1")
		Eventually(func(g Gomega) string {
			cur := &backupv1alpha1.DCSRestore{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rs), cur)).To(Succeed())
			c := meta.FindStatusCondition(cur.Status.Conditions, backupv1alpha1.ConditionSucceeded)
			g.Expect(c).NotTo(BeNil())
			return c.Reason
		}).Should(Equal(backupv1alpha1.ReasonStorageNotFound))
		bucket.storage = "archive"
		bucket.createStorage("dr/")
		// Well before the restore would look again by itself (exportWait).
		Eventually(func(g Gomega) backupv1alpha1.RestorePhase {
			cur := &backupv1alpha1.DCSRestore{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rs), cur)).To(Succeed())
			return cur.Status.Phase
		}).WithTimeout(exportWait / 2).Should(Equal(backupv1alpha1.RestorePhaseSucceeded))
	})

	It("waits with BackupNotFound for an export folder without a manifest", func() {
		env := newSimEnv(simulator.Options{})
		env.instance(inst1)
		bucket := env.newBucket("")
		// The storage exists and works before the restore comes, as a user
		// would have it: the restore's answer is about the path alone.
		Eventually(func(g Gomega) {
			st := &backupv1alpha1.DCSBackupStorage{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: env.ns, Name: bucket.storage}, st)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(st.Status.Conditions, backupv1alpha1.ConditionReady)).To(BeTrue())
		}).Should(Succeed())
		rs := &backupv1alpha1.DCSRestore{
			ObjectMeta: metav1.ObjectMeta{Name: "nothing-there", Namespace: env.ns},
			Spec: backupv1alpha1.DCSRestoreSpec{Source: &backupv1alpha1.RestoreSource{
				Connection: env.spec(inst1).Connection,
				Export: &backupv1alpha1.ExportSource{StorageRef: backupv1alpha1.LocalObjectReference{Name: "offsite"},
					Path: env.ns + "/missing/"}}},
		}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		Eventually(func(g Gomega) {
			cur := &backupv1alpha1.DCSRestore{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rs), cur)).To(Succeed())
			c := meta.FindStatusCondition(cur.Status.Conditions, backupv1alpha1.ConditionSucceeded)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(backupv1alpha1.ReasonBackupNotFound))
			g.Expect(c.Message).To(ContainSubstring("spec.source.export.path"))
		}).Should(Succeed())
		Expect(env.sim.Imports()).To(BeEmpty())
	})
})
