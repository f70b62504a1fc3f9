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
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

// schedule creates a DCSBackupSchedule of instanceID; mods edit it first.
func (e *simEnv) schedule(name, instanceID, cron string, mods ...func(*backupv1alpha1.DCSBackupSchedule)) *backupv1alpha1.DCSBackupSchedule {
	s := &backupv1alpha1.DCSBackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: backupv1alpha1.DCSBackupScheduleSpec{
			Schedule: cron,
			Template: backupv1alpha1.DCSBackupTemplate{
				Metadata: backupv1alpha1.BackupTemplateMetadata{Labels: map[string]string{"team": "shop"}},
				Spec:     e.spec(instanceID),
			},
		},
	}
	for _, m := range mods {
		m(s)
	}
	Expect(k8sClient.Create(ctx, s)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, s))).To(Succeed()) })
	return s
}

func fetchSchedule(g Gomega, s *backupv1alpha1.DCSBackupSchedule) *backupv1alpha1.DCSBackupSchedule {
	got := &backupv1alpha1.DCSBackupSchedule{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
	return got
}

func scheduleCond(s *backupv1alpha1.DCSBackupSchedule, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(s.Status.Conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// setAnnotation sets an annotation on the schedule; annotation changes make
// the controller look at it again (the pokes of these specs, and run-now).
func setAnnotation(s *backupv1alpha1.DCSBackupSchedule, key, value string) {
	Eventually(func(g Gomega) {
		got := fetchSchedule(g, s)
		if got.Annotations == nil {
			got.Annotations = map[string]string{}
		}
		got.Annotations[key] = value
		g.Expect(k8sClient.Update(ctx, got)).To(Succeed())
	}).Should(Succeed())
}

var pokes int

// poke makes the controller reconcile the schedule now: the specs move the
// clock further than the controller's pending RequeueAfter.
func poke(s *backupv1alpha1.DCSBackupSchedule) {
	pokes++
	setAnnotation(s, "test.dcs-operator.dev/poke", fmt.Sprint(pokes))
}

// jump moves the suite clock and restores real time after the spec.
func jump(t time.Time) {
	testClock.jumpTo(t)
	DeferCleanup(testClock.reset)
}

// children lists the schedule's DCSBackups by name.
func children(g Gomega, s *backupv1alpha1.DCSBackupSchedule) []backupv1alpha1.DCSBackup {
	list := &backupv1alpha1.DCSBackupList{}
	g.Expect(k8sClient.List(ctx, list, client.InNamespace(s.Namespace),
		client.MatchingLabels{backupv1alpha1.LabelSchedule: s.Name})).To(Succeed())
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

func childNames(g Gomega, s *backupv1alpha1.DCSBackupSchedule) []string {
	cs := children(g, s)
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}

// waitChildrenDone waits until n children exist and none is running.
func waitChildrenDone(s *backupv1alpha1.DCSBackupSchedule, n int) {
	EventuallyWithOffset(1, func(g Gomega) {
		cs := children(g, s)
		g.Expect(cs).To(HaveLen(n))
		for _, c := range cs {
			g.Expect(isTerminalPhase(c.Status.Phase)).To(BeTrue(), "%s is %s", c.Name, c.Status.Phase)
		}
	}).WithTimeout(30 * time.Second).Should(Succeed())
}

var _ = Describe("DCSBackupSchedule", func() {
	It("fires at 03:00 Europe/Berlin wall-clock time across both DST changes", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		jump(utc("2027-03-27T01:00:00Z"))
		s := env.schedule("berlin", id, "0 3 * * *", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.TimeZone = ptr.To("Europe/Berlin")
			s.Spec.StartingDeadlineSeconds = ptr.To[int64](600)
		})
		Eventually(func(g Gomega) {
			got := fetchSchedule(g, s)
			g.Expect(got.Status.NextScheduleTime).NotTo(BeNil())
			g.Expect(got.Status.NextScheduleTime.UTC()).To(Equal(utc("2027-03-27T02:00:00Z")))
		}).Should(Succeed())

		expectRunAt := func(slot string, next string, n int) {
			jump(utc(slot).Add(5 * time.Second))
			poke(s)
			name := slotName(s.Name, utc(slot))
			Eventually(func(g Gomega) []string { return childNames(g, s) }).Should(ContainElement(name))
			Eventually(func(g Gomega) {
				got := fetchSchedule(g, s)
				g.Expect(got.Status.LastScheduleTime).NotTo(BeNil())
				g.Expect(got.Status.NextScheduleTime).NotTo(BeNil())
				g.Expect(got.Status.LastScheduleTime.UTC()).To(Equal(utc(slot)))
				g.Expect(got.Status.NextScheduleTime.UTC()).To(Equal(utc(next)))
			}).Should(Succeed())
			waitChildrenDone(s, n)
		}
		// CET (+01:00), then CEST (+02:00) from the night of 2027-03-28.
		expectRunAt("2027-03-27T02:00:00Z", "2027-03-28T01:00:00Z", 1)
		expectRunAt("2027-03-28T01:00:00Z", "2027-03-29T01:00:00Z", 2)
		// CEST, then CET again from the night of 2027-10-31.
		expectRunAt("2027-10-30T01:00:00Z", "2027-10-31T02:00:00Z", 3)
		expectRunAt("2027-10-31T02:00:00Z", "2027-11-01T02:00:00Z", 4)

		child := children(Default, s)[0]
		Expect(child.Labels).To(HaveKeyWithValue("team", "shop"))
		Expect(child.Annotations).To(HaveKeyWithValue(backupv1alpha1.AnnotationScheduledTime, "2027-03-27T02:00:00Z"))
		// Linked to the schedule by labels, never by an owner reference:
		// deleting the schedule must not let the garbage collector near it.
		Expect(child.Labels).To(HaveKeyWithValue(backupv1alpha1.LabelSchedule, s.Name))
		Expect(child.Labels).To(HaveKeyWithValue(backupv1alpha1.LabelScheduleUID, string(fetchSchedule(Default, s).UID)))
		Expect(child.OwnerReferences).To(BeEmpty())
	})

	It("runs at its slot by its own requeue, with nothing else touching it", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		// Three seconds before the next minute, so the spec does not wait
		// up to a minute; no earlier slot lies between the schedule's
		// creation and then.
		slot := time.Now().Truncate(time.Minute).Add(time.Minute)
		jump(slot.Add(-3 * time.Second))
		s := env.schedule("on-time", id, "* * * * *")
		Eventually(func(g Gomega) {
			got := fetchSchedule(g, s)
			g.Expect(got.Status.NextScheduleTime).NotTo(BeNil())
			g.Expect(got.Status.NextScheduleTime.UTC()).To(Equal(slot.UTC()))
		}).Should(Succeed())
		// No annotation, no spec change: the pass at the slot comes from
		// the RequeueAfter of the pass before.
		Eventually(func(g Gomega) []string { return childNames(g, s) }).
			Should(ContainElement(slotName(s.Name, slot)))
		Eventually(func(g Gomega) {
			got := fetchSchedule(g, s)
			g.Expect(got.Status.LastScheduleTime).NotTo(BeNil())
			g.Expect(got.Status.LastScheduleTime.UTC()).To(Equal(slot.UTC()))
		}).Should(Succeed())
		got := fetchSchedule(Default, s)
		Expect(got.Generation).To(Equal(int64(1)))
		Expect(got.Annotations).To(BeEmpty())
	})

	DescribeTable("after a ten-day outage",
		func(deadline int64, wantCatchUp bool) {
			env := newSimEnv(simulator.Options{BackupDuration: time.Second})
			id := env.instance(inst1)
			// The clock is set before the schedule exists: its first pass,
			// whenever it comes, sees the 01:00 slot as the latest (its
			// creation time is the API server's, far before the test's clock).
			jump(utc("2027-01-01T01:00:05Z"))
			s := env.schedule("hourly", id, "0 * * * *", func(s *backupv1alpha1.DCSBackupSchedule) {
				s.Spec.StartingDeadlineSeconds = ptr.To(deadline)
			})
			poke(s)
			Eventually(func(g Gomega) []string { return childNames(g, s) }).Should(ConsistOf("hourly-202701010100"))
			waitChildrenDone(s, 1)

			// The operator is away for ten days: no pass runs until the poke.
			jump(utc("2027-01-11T01:30:00Z"))
			poke(s)
			if wantCatchUp {
				Eventually(func(g Gomega) []string { return childNames(g, s) }).Should(
					ConsistOf("hourly-202701010100", "hourly-202701110100"))
			} else {
				Eventually(func(g Gomega) *metav1.Time { return fetchSchedule(g, s).Status.LastSkippedTime }).ShouldNot(BeNil())
			}
			Eventually(func(g Gomega) []string { return eventReasons(g, s) }).Should(ContainElement("MissedSchedule"))
			Consistently(func(g Gomega) int { return len(children(g, s)) }).WithTimeout(3*time.Second).
				Should(Equal(map[bool]int{true: 2, false: 1}[wantCatchUp]), "no storm after the outage")

			// The schedule goes on with the next slot.
			waitChildrenDone(s, map[bool]int{true: 2, false: 1}[wantCatchUp])
			jump(utc("2027-01-11T02:00:05Z"))
			poke(s)
			Eventually(func(g Gomega) []string { return childNames(g, s) }).Should(ContainElement("hourly-202701110200"))
		},
		Entry("one catch-up run within startingDeadlineSeconds", int64(3600), true),
		Entry("none outside startingDeadlineSeconds", int64(60), false),
	)

	It("makes one run per new run-now token and none for a token it has seen", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		s := env.schedule("on-demand", id, "0 0 1 1 *")
		for _, token := range []string{"deploy-41", "deploy-42", "deploy-43"} {
			setAnnotation(s, backupv1alpha1.AnnotationRunNow, token)
			Eventually(func(g Gomega) string { return fetchSchedule(g, s).Status.LastRunNowToken }).Should(Equal(token))
		}
		Eventually(func(g Gomega) []backupv1alpha1.DCSBackup { return children(g, s) }).Should(HaveLen(3))
		setAnnotation(s, backupv1alpha1.AnnotationRunNow, "deploy-43")
		poke(s)
		Consistently(func(g Gomega) []backupv1alpha1.DCSBackup { return children(g, s) }).
			WithTimeout(3 * time.Second).Should(HaveLen(3))
		waitChildrenDone(s, 3)
		Expect(simBackupsOf(env.sim, id)).To(HaveLen(3))
	})

	It("keeps the newest keepLast succeeded backups and deletes the others' cloud backups", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		s := env.schedule("keep-two", id, "0 0 1 1 *", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.Retention = &backupv1alpha1.Retention{KeepLast: ptr.To[int32](2)}
		})
		names := make([]string, 0, 5)
		for i := range 5 {
			token := fmt.Sprint("run-", i)
			setAnnotation(s, backupv1alpha1.AnnotationRunNow, token)
			name := runNowName(s.Name, token)
			Eventually(func(g Gomega) string {
				return fetchSchedule(g, s).Status.LastSuccessfulBackup
			}).WithTimeout(20 * time.Second).Should(Equal(name))
			names = append(names, name)
		}
		Eventually(func(g Gomega) []string { return childNames(g, s) }).Should(ConsistOf(names[3], names[4]))
		Eventually(func() map[string]int {
			count := map[string]int{}
			for _, b := range simBackupsOf(env.sim, id) {
				count[b.Status]++
			}
			return count
		}).Should(Equal(map[string]int{"succeed": 2, "deleted": 3}))
		Eventually(func(g Gomega) []string { return eventReasons(g, s) }).Should(ContainElement("BackupPruned"))
	})

	It("never prunes the last succeeded backup by maxAge while later runs fail", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		s := env.schedule("max-age", id, "0 0 1 1 *", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.Retention = &backupv1alpha1.Retention{MaxAge: &metav1.Duration{Duration: time.Hour}}
			s.Spec.FailedBackupsHistoryLimit = ptr.To[int32](1)
		})
		setAnnotation(s, backupv1alpha1.AnnotationRunNow, "good")
		Eventually(func(g Gomega) string {
			return fetchSchedule(g, s).Status.LastSuccessfulBackup
		}).WithTimeout(20 * time.Second).ShouldNot(BeEmpty())
		good := fetchSchedule(Default, s).Status.LastSuccessfulBackup

		env.sim.FailNextBackups(id, 3)
		for _, token := range []string{"bad-1", "bad-2", "bad-3"} {
			setAnnotation(s, backupv1alpha1.AnnotationRunNow, token)
			// Wait for this run's own result: the previous run's "Failed"
			// would satisfy a looser check before this run even started.
			Eventually(func(g Gomega) string {
				return scheduleCond(fetchSchedule(g, s), backupv1alpha1.ConditionLastBackupSucceeded).Message
			}).WithTimeout(20 * time.Second).Should(And(ContainSubstring(runNowName(s.Name, token)), ContainSubstring("Failed")))
			Eventually(func(g Gomega) []corev1.LocalObjectReference { return fetchSchedule(g, s).Status.Active }).
				WithTimeout(10 * time.Second).Should(BeEmpty())
		}
		jump(testClock.Now().Add(3 * time.Hour))
		poke(s)
		Eventually(func(g Gomega) []string { return childNames(g, s) }).Should(HaveLen(2),
			"the succeeded backup and the latest failed one")
		Expect(childNames(Default, s)).To(ContainElement(good))
		Expect(simBackupsOf(env.sim, id)[0].Status).NotTo(Equal("deleted"))
		for _, b := range simBackupsOf(env.sim, id) {
			if strings.Contains(b.Remark, string(fetch(Default, &backupv1alpha1.DCSBackup{
				ObjectMeta: metav1.ObjectMeta{Name: good, Namespace: env.ns}}).UID)) {
				Expect(b.Status).To(Equal("succeed"))
			}
		}
	})

	It("leaves every child and cloud backup in place when the schedule is deleted", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		s := env.schedule("short-lived", id, "0 0 1 1 *", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.Template.Spec.DeletionPolicy = backupv1alpha1.DeletionPolicyDelete
		})
		for _, token := range []string{"a", "b"} {
			setAnnotation(s, backupv1alpha1.AnnotationRunNow, token)
		}
		waitChildrenDone(s, 2)
		Expect(k8sClient.Delete(ctx, s)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), &backupv1alpha1.DCSBackupSchedule{}))
		}).Should(BeTrue())
		Consistently(func(g Gomega) {
			cs := children(g, s)
			g.Expect(cs).To(HaveLen(2))
			for _, c := range cs {
				g.Expect(c.OwnerReferences).To(BeEmpty())
				g.Expect(c.DeletionTimestamp).To(BeNil())
			}
			for _, b := range simBackupsOf(env.sim, id) {
				g.Expect(b.Status).To(Equal("succeed"))
			}
		}).WithTimeout(3 * time.Second).Should(Succeed())
	})

	It("turns Fresh False when runs keep failing and True after the next success", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		jump(utc("2027-02-01T00:00:30Z"))
		s := env.schedule("every-minute", id, "* * * * *", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.StartingDeadlineSeconds = ptr.To[int64](20)
		})
		runSlot := func(slot string, n int) {
			jump(utc(slot).Add(2 * time.Second))
			poke(s)
			Eventually(func(g Gomega) []string { return childNames(g, s) }).
				Should(ContainElement(slotName(s.Name, utc(slot))))
			waitChildrenDone(s, n)
			poke(s)
		}
		runSlot("2027-02-01T00:01:00Z", 1)
		runSlot("2027-02-01T00:02:00Z", 2)
		Eventually(func(g Gomega) string {
			return string(scheduleCond(fetchSchedule(g, s), backupv1alpha1.ConditionFresh).Status)
		}).Should(Equal("True"))

		env.sim.FailNextBackups(id, 2)
		runSlot("2027-02-01T00:03:00Z", 3)
		runSlot("2027-02-01T00:04:00Z", 4)
		Eventually(func(g Gomega) {
			got := fetchSchedule(g, s)
			fresh := scheduleCond(got, backupv1alpha1.ConditionFresh)
			g.Expect(fresh.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(fresh.Reason).To(Equal(backupv1alpha1.ReasonBackupOverdue))
			g.Expect(scheduleCond(got, backupv1alpha1.ConditionLastBackupSucceeded).Status).To(Equal(metav1.ConditionFalse))
		}).Should(Succeed())

		runSlot("2027-02-01T00:05:00Z", 5)
		Eventually(func(g Gomega) {
			got := fetchSchedule(g, s)
			g.Expect(scheduleCond(got, backupv1alpha1.ConditionFresh).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(scheduleCond(got, backupv1alpha1.ConditionLastBackupSucceeded).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(got.Status.LastSuccessfulBackup).To(Equal(slotName(s.Name, utc("2027-02-01T00:05:00Z"))))
		}).Should(Succeed())
	})

	It("shows the instance's latest restore, whoever started it", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second, RestoreDuration: 2 * time.Second})
		id := env.instance(inst1)
		s := env.schedule("restores", id, "0 0 1 1 *")
		setAnnotation(s, backupv1alpha1.AnnotationRunNow, "first")
		Eventually(func(g Gomega) string {
			return fetchSchedule(g, s).Status.LastSuccessfulBackup
		}).WithTimeout(20 * time.Second).ShouldNot(BeEmpty())
		backupID := simBackupsOf(env.sim, id)[0].ID
		restoreID, err := env.sim.StartRestore(id, backupID, "incident 7")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			got := fetchSchedule(g, s)
			g.Expect(got.Status.LastRestore).NotTo(BeNil())
			g.Expect(got.Status.LastRestore.RestoreID).To(Equal(restoreID))
			g.Expect(got.Status.LastRestore.Status).To(Equal("succeed"))
			g.Expect(scheduleCond(got, backupv1alpha1.ConditionRestored).Status).To(Equal(metav1.ConditionTrue))
		}).WithTimeout(20 * time.Second).Should(Succeed())
	})

	DescribeTable("reports what keeps it from running in Ready",
		func(cron, tz string, single bool, reason string) {
			env := newSimEnv(simulator.Options{BackupDuration: time.Second})
			id := env.instance(inst1)
			if single {
				Expect(env.sim.SetCacheMode(id, "single")).To(Succeed())
			}
			s := env.schedule("not-ready", id, cron, func(s *backupv1alpha1.DCSBackupSchedule) {
				if tz != "" {
					s.Spec.TimeZone = ptr.To(tz)
				}
			})
			Eventually(func(g Gomega) {
				c := scheduleCond(fetchSchedule(g, s), backupv1alpha1.ConditionReady)
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(reason))
			}).Should(Succeed())
		},
		Entry("an invalid cron expression", "61 * * * *", "", false, backupv1alpha1.ReasonInvalidSchedule),
		Entry("a CRON_TZ prefix behind a space", " CRON_TZ=UTC 0 3 * * *", "", false, backupv1alpha1.ReasonInvalidSchedule),
		Entry("an unknown time zone", "0 3 * * *", "Mars/Olympus_Mons", false, backupv1alpha1.ReasonInvalidTimeZone),
		Entry("a single-node instance", "0 3 * * *", "", true, backupv1alpha1.ReasonInstanceNotSupported),
	)

	It("is Ready for a valid schedule and a backup-capable instance", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		s := env.schedule("ready", id, "@daily", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.TimeZone = ptr.To("Europe/Berlin")
		})
		Eventually(func(g Gomega) {
			got := fetchSchedule(g, s)
			g.Expect(scheduleCond(got, backupv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(scheduleCond(got, backupv1alpha1.ConditionLastBackupSucceeded).Reason).To(Equal(backupv1alpha1.ReasonNoBackupYet))
			g.Expect(scheduleCond(got, backupv1alpha1.ConditionFresh).Reason).To(Equal(backupv1alpha1.ReasonNotDueYet))
			g.Expect(got.Status.NextScheduleTime).NotTo(BeNil())
		}).Should(Succeed())
	})

	It("rejects a CRON_TZ= prefix at admission, pointing to timeZone", func() {
		env := newSimEnv(simulator.Options{})
		s := &backupv1alpha1.DCSBackupSchedule{
			ObjectMeta: metav1.ObjectMeta{Name: "tz-prefix", Namespace: env.ns},
			Spec: backupv1alpha1.DCSBackupScheduleSpec{Schedule: "CRON_TZ=Europe/Berlin 0 3 * * *",
				Template: backupv1alpha1.DCSBackupTemplate{Spec: env.spec(inst1)}},
		}
		err := k8sClient.Create(ctx, s)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(And(ContainSubstring("spec.schedule"), ContainSubstring("spec.timeZone")))
	})
})
