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
	"sort"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

var prodTags = map[string]string{"env": "prod"}

// fleet creates a fleet schedule of the instances with tags.
func (e *simEnv) fleet(name string, tags map[string]string, cron string,
	mods ...func(*backupv1alpha1.DCSBackupSchedule)) *backupv1alpha1.DCSBackupSchedule {
	return e.schedule(name, "", cron, append([]func(*backupv1alpha1.DCSBackupSchedule){
		func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.Template.Spec.InstanceID = ""
			s.Spec.InstanceSelector = &backupv1alpha1.InstanceSelector{Tags: tags}
		}}, mods...)...)
}

// runNowRun is the run part of the child names of a run-now token.
func runNowRun(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "run-" + hex.EncodeToString(sum[:])[:10]
}

// childrenByInstance maps instance IDs to the names of their children.
func childrenPerInstance(g Gomega, s *backupv1alpha1.DCSBackupSchedule) map[string][]string {
	out := map[string][]string{}
	for _, c := range children(g, s) {
		if c.DeletionTimestamp.IsZero() {
			out[c.Spec.InstanceID] = append(out[c.Spec.InstanceID], c.Name)
		}
	}
	return out
}

func instanceStatus(s *backupv1alpha1.DCSBackupSchedule) map[string]backupv1alpha1.ScheduleInstance {
	out := map[string]backupv1alpha1.ScheduleInstance{}
	for _, e := range s.Status.Instances {
		out[e.InstanceID] = e
	}
	return out
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ = Describe("DCSBackupSchedule of a fleet (instanceSelector)", func() {
	It("backs up the instances with the tags, says why it skips others, picks up and lets go of instances", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		var eligible []string
		for i := range 5 {
			id := fmt.Sprintf("f1ee7000-0000-4000-8000-00000000000%d", i)
			env.sim.AddInstance(simulator.Instance{ID: id, Name: fmt.Sprintf("shop-%d", i), Tags: prodTags})
			eligible = append(eligible, id)
		}
		single, stopped := "f1ee7000-0000-4000-8000-0000000000a1", "f1ee7000-0000-4000-8000-0000000000a2"
		untagged, later := "f1ee7000-0000-4000-8000-0000000000a3", "f1ee7000-0000-4000-8000-0000000000a4"
		env.sim.AddInstance(simulator.Instance{ID: single, CacheMode: "single", Tags: prodTags})
		env.sim.AddInstance(simulator.Instance{ID: stopped, Status: "ERROR", Tags: prodTags})
		env.sim.AddInstance(simulator.Instance{ID: untagged})
		env.sim.AddInstance(simulator.Instance{ID: later, Tags: map[string]string{"env": "staging"}})

		s := env.fleet("fleet", prodTags, "0 0 1 1 *", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.Retention = &backupv1alpha1.Retention{KeepLast: ptr.To[int32](1)}
		})
		setAnnotation(s, backupv1alpha1.AnnotationRunNow, "first")
		Eventually(func(g Gomega) {
			got := fetchSchedule(g, s)
			g.Expect(keysOf(instanceStatus(got))).To(ConsistOf(append(eligible, single, stopped)))
			g.Expect(instanceStatus(got)[single].Skipped).To(ContainSubstring("single-node"))
			g.Expect(instanceStatus(got)[stopped].Skipped).To(ContainSubstring("not RUNNING (status ERROR)"))
			g.Expect(instanceStatus(got)[eligible[0]].Skipped).To(BeEmpty())
			g.Expect(instanceStatus(got)[eligible[0]].Name).To(Equal("shop-0"))
			ready := scheduleCond(got, backupv1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(ready.Message).To(ContainSubstring("7 instance(s) carry the tags env=prod: 5 backed up, 2 skipped"))
		}).Should(Succeed())
		Eventually(func(g Gomega) map[string][]string { return childrenPerInstance(g, s) }).Should(And(
			HaveLen(5), HaveKeyWithValue(eligible[2], ConsistOf(fleetChildName(s.Name, runNowRun("first"), eligible[2])))))
		waitChildrenDone(s, 5)

		By("tagging another instance: the next run backs it up too")
		Expect(env.sim.TagInstance(later, prodTags)).To(Succeed())
		setAnnotation(s, backupv1alpha1.AnnotationRunNow, "second")
		Eventually(func(g Gomega) {
			per := childrenPerInstance(g, s)
			g.Expect(per).To(HaveLen(6))
			// keepLast 1 per instance: the first run's backups are pruned.
			for id, names := range per {
				g.Expect(names).To(ConsistOf(fleetChildName(s.Name, runNowRun("second"), id)), id)
			}
		}).WithTimeout(40 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) []string { return eventReasons(g, s) }).Should(ContainElement("InstancesSelected"))

		By("untagging an instance: it is reported, and its backup is kept")
		Expect(env.sim.UntagInstance(eligible[0], "env")).To(Succeed())
		waitChildrenDone(s, 6)
		setAnnotation(s, backupv1alpha1.AnnotationRunNow, "third")
		Eventually(func(g Gomega) {
			got := fetchSchedule(g, s)
			g.Expect(instanceStatus(got)[eligible[0]].Skipped).To(ContainSubstring("no longer selected"))
			g.Expect(got.Status.LastRunNowToken).To(Equal("third"))
		}).Should(Succeed())
		Eventually(func(g Gomega) []string { return eventReasons(g, s) }).Should(ContainElement("InstancesGone"))
		Eventually(func(g Gomega) {
			per := childrenPerInstance(g, s)
			g.Expect(per[eligible[0]]).To(ConsistOf(fleetChildName(s.Name, runNowRun("second"), eligible[0])))
			g.Expect(per[eligible[1]]).To(ConsistOf(fleetChildName(s.Name, runNowRun("third"), eligible[1])))
		}).WithTimeout(40 * time.Second).Should(Succeed())
		for _, id := range []string{single, stopped, untagged} {
			Expect(simBackupsOf(env.sim, id)).To(BeEmpty(), id)
		}
	})

	It("is Fresh per instance and names the instances that are not", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		good, failing := "f1ee7000-0000-4000-8000-0000000000b1", "f1ee7000-0000-4000-8000-0000000000b2"
		for _, id := range []string{good, failing} {
			env.sim.AddInstance(simulator.Instance{ID: id, Tags: prodTags})
		}
		jump(utc("2027-02-01T00:00:30Z"))
		s := env.fleet("fleet-fresh", prodTags, "* * * * *", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.StartingDeadlineSeconds = ptr.To[int64](20)
		})
		runSlot := func(slot string, n int) {
			jump(utc(slot).Add(2 * time.Second))
			poke(s)
			Eventually(func(g Gomega) []string { return childNames(g, s) }).
				Should(ContainElement(fleetChildName(s.Name, utc(slot).Format("200601021504"), good)))
			waitChildrenDone(s, n)
			poke(s)
		}
		runSlot("2027-02-01T00:01:00Z", 2)
		env.sim.FailNextBackups(failing, 2)
		runSlot("2027-02-01T00:02:00Z", 4)
		runSlot("2027-02-01T00:03:00Z", 6)
		Eventually(func(g Gomega) {
			got := fetchSchedule(g, s)
			fresh := scheduleCond(got, backupv1alpha1.ConditionFresh)
			g.Expect(fresh.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(fresh.Message).To(ContainSubstring("1 of 2 instance(s)"))
			g.Expect(fresh.Message).To(ContainSubstring(failing))
			g.Expect(fresh.Message).NotTo(ContainSubstring(good))
			g.Expect(instanceStatus(got)[good].Fresh).To(BeTrue())
			g.Expect(instanceStatus(got)[failing].Fresh).To(BeFalse())
			g.Expect(instanceStatus(got)[good].LastSuccessfulBackup).To(Equal(
				fleetChildName(s.Name, "202702010003", good)))
		}).Should(Succeed())
	})

	It("spreads the backups of a run over its start window, each instance at its own offset", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		const window = 40 * time.Second
		ids := make([]string, 0, 6)
		for i := range 6 {
			id := fmt.Sprintf("f1ee7000-0000-4000-8000-0000000000c%d", i)
			env.sim.AddInstance(simulator.Instance{ID: id, Tags: prodTags})
			ids = append(ids, id)
		}
		// The offsets are a stable function of the instance; the spec
		// checks against them.
		sort.Slice(ids, func(i, j int) bool { return fleetOffset(ids[i], window) < fleetOffset(ids[j], window) })
		first, last := fleetOffset(ids[0], window), fleetOffset(ids[len(ids)-1], window)
		Expect(last-first).To(BeNumerically(">", window/4), "offsets %v .. %v", first, last)

		slot := time.Now().Truncate(time.Minute).Add(time.Minute)
		jump(slot.Add(-3 * time.Second))
		s := env.fleet("fleet-window", prodTags, "* * * * *", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.StartWindow = &metav1.Duration{Duration: window}
		})
		run := slot.UTC().Format("200601021504")
		Eventually(func(g Gomega) []string { return childNames(g, s) }).WithTimeout(window).
			Should(ContainElement(fleetChildName(s.Name, run, ids[0])))
		// The latest offset's backup is not there before its offset...
		if time.Until(slot.Add(last)) > 2*time.Second {
			Expect(childNames(Default, s)).NotTo(ContainElement(fleetChildName(s.Name, run, ids[len(ids)-1])))
		}
		// ... and comes by itself (no nudge) at it.
		Eventually(func(g Gomega) []string { return childNames(g, s) }).WithTimeout(window + 10*time.Second).
			Should(ContainElement(fleetChildName(s.Name, run, ids[len(ids)-1])))
		Expect(childNames(Default, s)).To(HaveLen(len(ids)))
	})

	It("is not Ready when no instance carries the tags, and says which tags it looked for", func() {
		env := newSimEnv(simulator.Options{})
		env.sim.AddInstance(simulator.Instance{ID: inst1, Tags: map[string]string{"env": "staging"}})
		s := env.fleet("fleet-typo", map[string]string{"env": "prdo"}, "0 3 * * *")
		Eventually(func(g Gomega) {
			ready := scheduleCond(fetchSchedule(g, s), backupv1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(backupv1alpha1.ReasonNoInstancesSelected))
			g.Expect(ready.Message).To(ContainSubstring("env=prdo"))
			g.Expect(ready.Message).To(ContainSubstring("spec.instanceSelector.tags"))
		}).Should(Succeed())
	})

	DescribeTable("rejects at admission, naming the fields",
		func(mutate func(*backupv1alpha1.DCSBackupSchedule), want string) {
			s := &backupv1alpha1.DCSBackupSchedule{
				ObjectMeta: metav1.ObjectMeta{GenerateName: "invalid-fleet-", Namespace: "default"},
				Spec: backupv1alpha1.DCSBackupScheduleSpec{Schedule: "0 3 * * *",
					InstanceSelector: &backupv1alpha1.InstanceSelector{Tags: prodTags},
					Template: backupv1alpha1.DCSBackupTemplate{Spec: backupv1alpha1.DCSBackupTemplateSpec{
						Connection: backupv1alpha1.Connection{ProjectID: "p1", Region: "eu-de",
							CredentialsSecretRef: backupv1alpha1.SecretReference{Name: "c"}}}}},
			}
			mutate(s)
			err := k8sClient.Create(ctx, s)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("both a selector and an instance", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.Template.Spec.InstanceID = inst1
		}, "set exactly one of spec.instanceSelector"),
		Entry("neither", func(s *backupv1alpha1.DCSBackupSchedule) { s.Spec.InstanceSelector = nil },
			"spec.template.spec.instanceID"),
		Entry("an empty selector", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.InstanceSelector.Tags = map[string]string{}
		}, "spec.instanceSelector.tags"),
		Entry("a start window without a selector", func(s *backupv1alpha1.DCSBackupSchedule) {
			s.Spec.InstanceSelector = nil
			s.Spec.Template.Spec.InstanceID = inst1
			s.Spec.StartWindow = &metav1.Duration{Duration: time.Minute}
		}, "spec.startWindow"),
	)

	It("stays Ready through DCS errors that pass, and turns Ready False when they last", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := "f1ee7000-0000-4000-8000-0000000000c1"
		env.sim.AddInstance(simulator.Instance{ID: id, Tags: prodTags})
		s := env.fleet("fleet-steady", prodTags, "0 0 1 1 *")
		setAnnotation(s, backupv1alpha1.AnnotationRunNow, "a")
		waitChildrenDone(s, 1)

		By("a 503 on the instance list: the run goes ahead with the list it has, Ready stays True")
		before := env.sim.Requests(simulator.OpListInstances)
		env.sim.FailNextRequests(1, simulator.Fault{Operation: simulator.OpListInstances, Status: 503})
		setAnnotation(s, backupv1alpha1.AnnotationRunNow, "b")
		Eventually(func(g Gomega) map[string][]string { return childrenPerInstance(g, s) }).WithTimeout(30 * time.Second).
			Should(HaveKeyWithValue(id, ContainElement(fleetChildName(s.Name, runNowRun("b"), id))))
		Expect(env.sim.Requests(simulator.OpListInstances) - before).To(BeNumerically(">=", 1))
		got := fetchSchedule(Default, s)
		Expect(scheduleCond(got, backupv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		Expect(eventReasons(Default, s)).NotTo(ContainElement(backupv1alpha1.ReasonAPIError))
		waitChildrenDone(s, 2)

		By("503s that last longer than the grace: Ready False, with the reason")
		before = env.sim.Requests(simulator.OpListInstances)
		env.sim.FailNextRequests(1000, simulator.Fault{Operation: simulator.OpListInstances, Status: 503})
		setAnnotation(s, backupv1alpha1.AnnotationRunNow, "c")
		Eventually(func() int { return env.sim.Requests(simulator.OpListInstances) - before }).Should(BeNumerically(">=", 1))
		Expect(scheduleCond(fetchSchedule(Default, s), backupv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		jump(time.Now().Add(transientGrace + time.Minute))
		poke(s)
		Eventually(func(g Gomega) {
			c := scheduleCond(fetchSchedule(g, s), backupv1alpha1.ConditionReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(backupv1alpha1.ReasonAPIError))
			g.Expect(c.Message).To(ContainSubstring("503"))
		}).Should(Succeed())
	})
})
