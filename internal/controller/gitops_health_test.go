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
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

// The shipped health checks, read once: the Lua scripts of the argocd-cm
// patch (config/argocd) and the CEL expressions of config/flux.
var (
	shippedArgoScripts = sync.OnceValues(loadArgoScripts)
	shippedFluxChecks  = sync.OnceValues(loadFluxChecks)
)

func argoScriptsOrFail(g Gomega) argoScripts {
	s, err := shippedArgoScripts()
	g.ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return s
}

// liveObject reads obj from the API server as Argo CD and Flux get it: a
// JSON object with apiVersion and kind.
func liveObject(g Gomega, obj client.Object) map[string]any {
	gvk, err := apiutil.GVKForObject(obj, scheme.Scheme)
	g.ExpectWithOffset(1, err).NotTo(HaveOccurred())
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	g.ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), u)).To(Succeed())
	return u.Object
}

// typed converts a live object into its Go type, for the state checks.
func typed[T any](g Gomega, u map[string]any) *T {
	out := new(T)
	g.ExpectWithOffset(1, runtime.DefaultUnstructuredConverter.FromUnstructured(u, out)).To(Succeed())
	return out
}

// fluxFor is the Flux status that goes with an Argo CD health status: the
// two sets of checks must agree.
var fluxFor = map[string]string{
	"Healthy": "Current", "Suspended": "Current", "Degraded": "Failed", "Progressing": "InProgress",
}

// expectHealth evaluates the Argo CD health check and the Flux expressions
// of u's kind on u: Argo CD must say status with a message containing each
// of parts, and Flux the matching status.
func expectHealth(g Gomega, u map[string]any, status string, parts ...string) {
	kind, _ := u["kind"].(string)
	got, msg, err := argoHealth(argoScriptsOrFail(g).health[kind], u)
	g.ExpectWithOffset(1, err).NotTo(HaveOccurred(), "the Argo CD health check of %s", kind)
	g.ExpectWithOffset(1, got).To(Equal(status), "Argo CD says %s: %q", got, msg)
	for _, p := range parts {
		g.ExpectWithOffset(1, msg).To(ContainSubstring(p), "the Argo CD message")
	}
	checks, err := shippedFluxChecks()
	g.ExpectWithOffset(1, err).NotTo(HaveOccurred())
	check, ok := checks[kind]
	g.ExpectWithOffset(1, ok).To(BeTrue(), "no Flux health check for %s", kind)
	g.ExpectWithOffset(1, check.APIVersion).To(Equal(backupv1alpha1.GroupVersion.String()))
	flux, err := fluxStatus(check, u)
	g.ExpectWithOffset(1, err).NotTo(HaveOccurred(), "the Flux health check of %s", kind)
	g.ExpectWithOffset(1, flux).To(Equal(fluxFor[status]), "Flux, where Argo CD says %s: %q", got, msg)
}

// expectUnobserved checks the verdicts on u as it would look before the
// operator caught up: just after a spec change (a generation the status does
// not reflect yet), and just after its creation (no status at all).
func expectUnobserved(g Gomega, u map[string]any) {
	changed := runtime.DeepCopyJSON(u)
	generation, _, _ := unstructured.NestedInt64(changed, "metadata", "generation")
	g.Expect(unstructured.SetNestedField(changed, generation+1, "metadata", "generation")).To(Succeed())
	expectHealth(g, changed, "Progressing", fmt.Sprintf("observe generation %d", generation+1))

	created := runtime.DeepCopyJSON(u)
	delete(created, "status")
	kind, _ := u["kind"].(string)
	got, msg, err := argoHealth(argoScriptsOrFail(g).health[kind], created)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal("Progressing"), msg)
	g.Expect(msg).To(ContainSubstring("Waiting for the operator"))
	// Flux cannot evaluate an expression over a status that is not there
	// yet; it reports the error and keeps waiting, like for InProgress.
	checks, _ := shippedFluxChecks()
	_, err = fluxStatus(checks[kind], created)
	g.Expect(err).To(MatchError(ContainSubstring("status")))
}

// discover runs the DCSBackupSchedule discovery script on u.
func discover(g Gomega, u map[string]any) map[string]argoAction {
	offered, err := argoDiscover(argoScriptsOrFail(g).discovery, u)
	g.ExpectWithOffset(1, err).NotTo(HaveOccurred())
	g.ExpectWithOffset(1, offered).To(HaveLen(3))
	return offered
}

// enabled lists the names of the enabled actions.
func enabled(offered map[string]argoAction) []string {
	var names []string
	for name, a := range offered {
		if !a.Disabled {
			names = append(names, name)
		}
	}
	return names
}

// runAction runs a DCSBackupSchedule action on the live schedule and
// patches the API server with what it changed, as Argo CD does (a merge
// patch from the live object to the action's result). It returns the
// object the action made and the patch.
func runAction(s *backupv1alpha1.DCSBackupSchedule, action string) (map[string]any, map[string]any) {
	script, ok := argoScriptsOrFail(Default).actions[action]
	ExpectWithOffset(1, ok).To(BeTrue(), "no action %s", action)
	live := liveObject(Default, s)
	changed, err := argoRunAction(script, live)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, changed["status"]).To(Equal(live["status"]), "an action leaves the status alone")
	base, next := &unstructured.Unstructured{Object: live}, &unstructured.Unstructured{Object: runtime.DeepCopyJSON(changed)}
	patch := client.MergeFrom(base)
	data, err := patch.Data(next)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, k8sClient.Patch(ctx, next, patch)).To(Succeed())
	var diff map[string]any
	ExpectWithOffset(1, json.Unmarshal(data, &diff)).To(Succeed())
	return changed, diff
}

// runNowToken is what the run-now action writes: the time in UTC and the
// schedule's resourceVersion.
const runNowToken = `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ-\d+$`

// runNow runs the run-now action and returns its token.
func runNow(s *backupv1alpha1.DCSBackupSchedule) (token string, changed map[string]any) {
	changed, diff := runAction(s, "run-now")
	annotations, _, _ := unstructured.NestedStringMap(diff, "metadata", "annotations")
	ExpectWithOffset(1, diff).To(HaveLen(1), "the patch changes only the annotation: %v", diff)
	ExpectWithOffset(1, annotations).To(HaveLen(1))
	token = annotations[backupv1alpha1.AnnotationRunNow]
	ExpectWithOffset(1, token).To(MatchRegexp(runNowToken))
	return token, changed
}

func backupState(g Gomega, u map[string]any) (*backupv1alpha1.DCSBackup, metav1.Condition, metav1.Condition) {
	b := typed[backupv1alpha1.DCSBackup](g, u)
	return b, cond(b, backupv1alpha1.ConditionSucceeded), cond(b, backupv1alpha1.ConditionSynced)
}

func scheduleState(g Gomega, u map[string]any) (*backupv1alpha1.DCSBackupSchedule, metav1.Condition, metav1.Condition) {
	s := typed[backupv1alpha1.DCSBackupSchedule](g, u)
	return s, scheduleCond(s, backupv1alpha1.ConditionReady), scheduleCond(s, backupv1alpha1.ConditionFresh)
}

// setSecretKey changes the secret key of the env's DCS credentials.
func (e *simEnv) setSecretKey(secretKey string) {
	Eventually(func(g Gomega) {
		secret := &corev1.Secret{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: e.secret}, secret)).To(Succeed())
		secret.Data[backupv1alpha1.SecretKeySecretKey] = []byte(secretKey)
		g.Expect(k8sClient.Update(ctx, secret)).To(Succeed())
	}).Should(Succeed())
}

var _ = Describe("GitOps health checks (Argo CD Lua, Flux CEL) on live objects", func() {
	Context("DCSBackup", func() {
		It("is Progressing while it runs, also while DCS refuses the credentials, then Healthy", func() {
			env := newSimEnv(simulator.Options{BackupDuration: 10 * time.Second})
			id := env.instance(inst1)
			b := env.backup("gitops-running", id)
			Eventually(func(g Gomega) {
				u := liveObject(g, b)
				got, _, _ := backupState(g, u)
				g.Expect(got.Status.Phase).To(Equal(backupv1alpha1.PhaseInProgress))
				expectHealth(g, u, "Progressing", backupv1alpha1.ReasonInProgress, "DCS is writing backup")
				expectUnobserved(g, u)
			}).Should(Succeed())

			// DCS has the backup: a credentials problem only keeps the
			// operator from seeing it finish.
			env.setSecretKey("not-the-right-secret-key")
			Eventually(func(g Gomega) {
				u := liveObject(g, b)
				got, _, synced := backupState(g, u)
				g.Expect(got.Status.Phase).To(Equal(backupv1alpha1.PhaseInProgress))
				g.Expect(synced.Reason).To(Equal(backupv1alpha1.ReasonUnauthorized))
				expectHealth(g, u, "Progressing", "InProgress; Unauthorized: ")
			}).Should(Succeed())

			env.setSecretKey(simulator.DefaultSecretKey)
			Eventually(func(g Gomega) {
				u := liveObject(g, b)
				_, succeeded, _ := backupState(g, u)
				g.Expect(succeeded.Status).To(Equal(metav1.ConditionTrue))
				expectHealth(g, u, "Healthy", "succeeded", "restorable")
			}).WithTimeout(30 * time.Second).Should(Succeed())
		})

		It("is Progressing while it waits for an operation it did not start", func() {
			env := newSimEnv(simulator.Options{BackupDuration: 3 * time.Second})
			id := env.instance(inst1)
			_, err := env.sim.AddAutoBackup(id)
			Expect(err).NotTo(HaveOccurred())
			b := env.backup("gitops-busy", id)
			Eventually(func(g Gomega) {
				u := liveObject(g, b)
				_, succeeded, synced := backupState(g, u)
				g.Expect(succeeded.Reason).To(Equal(backupv1alpha1.ReasonWaitingForInstance))
				g.Expect(synced.Reason).To(Equal(backupv1alpha1.ReasonInstanceBusy))
				expectHealth(g, u, "Progressing", "WaitingForInstance; InstanceBusy: ")
			}).WithTimeout(5 * time.Second).Should(Succeed())
		})

		DescribeTable("is Degraded when it cannot start until a person fixes something",
			func(setup func(env *simEnv) *backupv1alpha1.DCSBackup, reason string) {
				env := newSimEnv(simulator.Options{BackupDuration: time.Second})
				b := setup(env)
				Eventually(func(g Gomega) {
					u := liveObject(g, b)
					got, succeeded, synced := backupState(g, u)
					g.Expect(synced.Reason).To(Equal(reason))
					g.Expect(succeeded.Status).To(Equal(metav1.ConditionUnknown))
					g.Expect(got.Status.BackupID).To(BeEmpty())
					expectHealth(g, u, "Degraded", "The backup cannot start: "+reason+": ")
				}).Should(Succeed())
			},
			Entry("a wrong secret key", func(env *simEnv) *backupv1alpha1.DCSBackup {
				env.setSecretKey("not-the-right-secret-key")
				return env.backup("gitops-key", env.instance(inst1))
			}, backupv1alpha1.ReasonUnauthorized),
			Entry("a Secret that does not exist", func(env *simEnv) *backupv1alpha1.DCSBackup {
				return env.backup("gitops-secret", env.instance(inst1), func(b *backupv1alpha1.DCSBackup) {
					b.Spec.Connection.CredentialsSecretRef.Name = "missing"
				})
			}, backupv1alpha1.ReasonCredentialsNotFound),
			Entry("a single-node instance", func(env *simEnv) *backupv1alpha1.DCSBackup {
				env.sim.AddInstance(simulator.Instance{ID: inst1, CacheMode: "single"})
				return env.backup("gitops-single", inst1)
			}, backupv1alpha1.ReasonInstanceNotSupported),
			Entry("an instance DCS does not know", func(env *simEnv) *backupv1alpha1.DCSBackup {
				return env.backup("gitops-unknown", inst2)
			}, backupv1alpha1.ReasonInstanceNotFound),
		)

		It("is Degraded when DCS reports it failed", func() {
			env := newSimEnv(simulator.Options{BackupDuration: time.Second})
			id := env.instance(inst1)
			env.sim.FailNextBackups(id, 1)
			b := env.backup("gitops-failed", id)
			Eventually(func(g Gomega) {
				u := liveObject(g, b)
				got, _, _ := backupState(g, u)
				g.Expect(got.Status.Phase).To(Equal(backupv1alpha1.PhaseFailed))
				expectHealth(g, u, "Degraded", backupv1alpha1.ReasonBackupFailed+": ", "dcs.08.000")
			}).WithTimeout(20 * time.Second).Should(Succeed())
		})

		It("deleted in DCS is Healthy while its export keeps a copy and Degraded without one", func() {
			// DCS keeps one backup of the instance here: each new backup
			// evicts the one before, which then lists as deleted.
			env := newSimEnv(simulator.Options{BackupDuration: time.Second, MaxBackupsPerInstance: 1})
			id := env.instance(inst1)
			bk := env.newBucket("")
			exported := expectExported(env.backup("gitops-exported", id, exporting))
			expectHealth(Default, liveObject(Default, exported), "Healthy", "succeeded")

			plain := env.succeededBackup("gitops-plain", id)
			Eventually(func(g Gomega) {
				u := liveObject(g, exported)
				got, _, _ := backupState(g, u)
				g.Expect(got.Status.Phase).To(Equal(backupv1alpha1.PhaseDeleted))
				expectHealth(g, u, "Healthy", backupv1alpha1.ReasonBackupDeleted+": ",
					"its export is kept in bucket "+bk.bucket+" at "+env.ns+"/gitops-exported/")
			}).WithTimeout(30 * time.Second).Should(Succeed())

			env.succeededBackup("gitops-next", id)
			Eventually(func(g Gomega) {
				u := liveObject(g, plain)
				got, _, _ := backupState(g, u)
				g.Expect(got.Status.Phase).To(Equal(backupv1alpha1.PhaseDeleted))
				expectHealth(g, u, "Degraded", backupv1alpha1.ReasonBackupDeleted+": ", "nothing is left to restore from")
			}).WithTimeout(30 * time.Second).Should(Succeed())
		})
	})

	Context("DCSBackupStorage and exports", func() {
		It("are Degraded while the storage is missing or refuses the key, Healthy once it is fixed", func() {
			env := newSimEnv(simulator.Options{BackupDuration: time.Second})
			env.instance(inst1)
			bk := &bucketEnv{env: env, bucket: fmt.Sprintf("gitops-%d", GinkgoParallelProcess()), storage: "offsite",
				secret: "obs-credentials"}
			Expect(gateway.CreateBucket(ctx, bk.bucket)).To(Succeed())
			b := env.backup("gitops-export", inst1, exporting)
			Eventually(func(g Gomega) {
				u := liveObject(g, b)
				_, succeeded, _ := backupState(g, u)
				g.Expect(succeeded.Status).To(Equal(metav1.ConditionTrue))
				expectHealth(g, u, "Degraded", "its export did not", backupv1alpha1.ReasonStorageNotFound+": ")
			}).WithTimeout(20 * time.Second).Should(Succeed())

			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: bk.secret, Namespace: env.ns},
				StringData: map[string]string{backupv1alpha1.SecretKeyAccessKey: gateway.AccessKey,
					backupv1alpha1.SecretKeySecretKey: "not-the-" + gateway.SecretKey}}
			Expect(k8sClient.Create(ctx, secret)).To(Succeed())
			bk.createStorage("")
			storage := &backupv1alpha1.DCSBackupStorage{ObjectMeta: metav1.ObjectMeta{Name: bk.storage, Namespace: env.ns}}
			Eventually(func(g Gomega) {
				u := liveObject(g, storage)
				st := typed[backupv1alpha1.DCSBackupStorage](g, u)
				g.Expect(st.Status.Conditions).To(ContainElement(HaveField("Reason", backupv1alpha1.ReasonUnauthorized)))
				expectHealth(g, u, "Degraded", backupv1alpha1.ReasonUnauthorized+": ", "checking bucket "+bk.bucket)
				expectUnobserved(g, u)
			}).Should(Succeed())

			secret.StringData = map[string]string{backupv1alpha1.SecretKeySecretKey: gateway.SecretKey}
			Expect(k8sClient.Update(ctx, secret)).To(Succeed())
			Eventually(func(g Gomega) {
				expectHealth(g, liveObject(g, storage), "Healthy", "is reachable")
			}).Should(Succeed())
			expectExported(b)
			expectHealth(Default, liveObject(Default, b), "Healthy", "succeeded")
		})
	})

	Context("DCSBackupSchedule", func() {
		It("is Healthy when ready, and its actions run now, suspend and resume it", func() {
			env := newSimEnv(simulator.Options{BackupDuration: time.Second})
			id := env.instance(inst1)
			s := env.schedule("gitops", id, "0 0 1 1 *")
			Eventually(func(g Gomega) {
				u := liveObject(g, s)
				_, ready, _ := scheduleState(g, u)
				g.Expect(ready.Status).To(Equal(metav1.ConditionTrue))
				expectHealth(g, u, "Healthy", "next run at ")
				expectUnobserved(g, u)
				g.Expect(enabled(discover(g, u))).To(ConsistOf("run-now", "suspend"))
			}).Should(Succeed())

			token, changed := runNow(s)
			// As Argo CD sees it right after the action, before the
			// operator made the run: run-now waits for that one.
			Expect(enabled(discover(Default, changed))).To(ConsistOf("suspend"))
			first := runNowName(s.Name, token)
			Eventually(func(g Gomega) {
				u := liveObject(g, s)
				got, _, _ := scheduleState(g, u)
				g.Expect(got.Status.LastRunNowToken).To(Equal(token))
				g.Expect(got.Status.LastSuccessfulBackup).To(Equal(first))
				expectHealth(g, u, "Healthy", "Latest successful backup "+first+" at ")
				g.Expect(enabled(discover(g, u))).To(ConsistOf("run-now", "suspend"))
			}).WithTimeout(20 * time.Second).Should(Succeed())

			// A second click right away is a new token, and a new run, even
			// within the same second; this one fails in DCS.
			env.sim.FailNextBackups(id, 1)
			again, _ := runNow(s)
			Expect(again).NotTo(Equal(token))
			Eventually(func(g Gomega) {
				u := liveObject(g, s)
				got, _, _ := scheduleState(g, u)
				g.Expect(scheduleCond(got, backupv1alpha1.ConditionLastBackupSucceeded).Status).To(Equal(metav1.ConditionFalse))
				g.Expect(childNames(g, s)).To(ConsistOf(first, runNowName(s.Name, again)))
				expectHealth(g, u, "Healthy", "the latest run failed", "backups are still fresh")
			}).WithTimeout(20 * time.Second).Should(Succeed())

			_, diff := runAction(s, "suspend")
			Expect(diff).To(Equal(map[string]any{"spec": map[string]any{"suspend": true}}))
			Eventually(func(g Gomega) {
				u := liveObject(g, s)
				expectHealth(g, u, "Suspended", "spec.suspend is true")
				g.Expect(enabled(discover(g, u))).To(ConsistOf("run-now", "resume"))
			}).Should(Succeed())
			Expect(fetchSchedule(Default, s).Spec.Suspend).To(HaveValue(BeTrue()))

			_, diff = runAction(s, "resume")
			Expect(diff).To(Equal(map[string]any{"spec": map[string]any{"suspend": false}}))
			Eventually(func(g Gomega) {
				u := liveObject(g, s)
				expectHealth(g, u, "Healthy")
				g.Expect(enabled(discover(g, u))).To(ConsistOf("run-now", "suspend"))
			}).Should(Succeed())
		})

		It("is Degraded when backups stop coming in, and Suspended instead once suspended", func() {
			env := newSimEnv(simulator.Options{BackupDuration: time.Second})
			id := env.instance(inst1)
			s := env.schedule("gitops-overdue", id, "* * * * *", func(s *backupv1alpha1.DCSBackupSchedule) {
				s.Spec.StartingDeadlineSeconds = ptr.To[int64](20)
			})
			Eventually(func(g Gomega) {
				u := liveObject(g, s)
				_, ready, fresh := scheduleState(g, u)
				g.Expect(ready.Status).To(Equal(metav1.ConditionTrue))
				g.Expect(fresh.Reason).To(Equal(backupv1alpha1.ReasonNotDueYet))
				expectHealth(g, u, "Healthy")
			}).Should(Succeed())

			// An hour on, 30 seconds after a slot: its run is past the
			// starting deadline and no backup came in two intervals.
			jump(time.Now().Truncate(time.Minute).Add(time.Hour + 30*time.Second))
			poke(s)
			Eventually(func(g Gomega) {
				u := liveObject(g, s)
				_, _, fresh := scheduleState(g, u)
				g.Expect(fresh.Reason).To(Equal(backupv1alpha1.ReasonBackupOverdue))
				expectHealth(g, u, "Degraded", backupv1alpha1.ReasonBackupOverdue+": ")
			}).Should(Succeed())

			runAction(s, "suspend")
			Eventually(func(g Gomega) {
				expectHealth(g, liveObject(g, s), "Suspended")
			}).Should(Succeed())
			runAction(s, "resume")
			Eventually(func(g Gomega) {
				u := liveObject(g, s)
				got, _, fresh := scheduleState(g, u)
				g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
				g.Expect(fresh.Status).To(Equal(metav1.ConditionFalse))
				expectHealth(g, u, "Degraded", backupv1alpha1.ReasonBackupOverdue)
			}).Should(Succeed())
		})

		DescribeTable("is Degraded when Ready is False for a reason a person must fix, suspended or not",
			func(setup func(env *simEnv) *backupv1alpha1.DCSBackupSchedule, reason string) {
				env := newSimEnv(simulator.Options{BackupDuration: time.Second})
				s := setup(env)
				Eventually(func(g Gomega) {
					u := liveObject(g, s)
					_, ready, _ := scheduleState(g, u)
					g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
					g.Expect(ready.Reason).To(Equal(reason))
					expectHealth(g, u, "Degraded", reason+": ")
					// Suspending a broken schedule does not hide that it is.
					g.Expect(unstructured.SetNestedField(u, true, "spec", "suspend")).To(Succeed())
					expectHealth(g, u, "Degraded", reason+": ")
				}).Should(Succeed())
			},
			Entry("a single-node instance", func(env *simEnv) *backupv1alpha1.DCSBackupSchedule {
				env.sim.AddInstance(simulator.Instance{ID: inst1, CacheMode: "single"})
				return env.schedule("gitops-single", inst1, "@daily")
			}, backupv1alpha1.ReasonInstanceNotSupported),
			Entry("a wrong secret key", func(env *simEnv) *backupv1alpha1.DCSBackupSchedule {
				env.setSecretKey("not-the-right-secret-key")
				return env.schedule("gitops-key", env.instance(inst1), "@daily")
			}, backupv1alpha1.ReasonUnauthorized),
			Entry("an unknown time zone", func(env *simEnv) *backupv1alpha1.DCSBackupSchedule {
				return env.schedule("gitops-tz", env.instance(inst1), "@daily", func(s *backupv1alpha1.DCSBackupSchedule) {
					s.Spec.TimeZone = ptr.To("Mars/Olympus_Mons")
				})
			}, backupv1alpha1.ReasonInvalidTimeZone),
			Entry("a fleet whose tags no instance carries", func(env *simEnv) *backupv1alpha1.DCSBackupSchedule {
				env.instance(inst1)
				return env.fleet("gitops-fleet", map[string]string{"env": "typo"}, "@daily")
			}, backupv1alpha1.ReasonNoInstancesSelected),
		)

		It("is Progressing while DCS throttles its check, and Suspended when suspended", func() {
			env := newSimEnv(simulator.Options{BackupDuration: time.Second, Faults: simulator.Faults{
				ThrottleRate: 1, RetryAfter: time.Minute}})
			s := env.schedule("gitops-throttled", env.instance(inst1), "@daily")
			Eventually(func(g Gomega) {
				u := liveObject(g, s)
				_, ready, _ := scheduleState(g, u)
				g.Expect(ready.Reason).To(Equal(backupv1alpha1.ReasonThrottled))
				expectHealth(g, u, "Progressing", backupv1alpha1.ReasonThrottled+": ")
				g.Expect(unstructured.SetNestedField(u, true, "spec", "suspend")).To(Succeed())
				expectHealth(g, u, "Suspended")
			}).Should(Succeed())
		})
	})

	Context("DCSRestore", func() {
		It("is Progressing while DCS restores, also while DCS refuses the credentials, then Healthy", func() {
			env := newSimEnv(simulator.Options{BackupDuration: time.Second, RestoreDuration: 10 * time.Second})
			id := env.instance(inst1)
			b := env.succeededBackup("gitops-source", id)
			// By its DCS ids, so the restore names the credentials Secret
			// itself and the operator wakes it when the Secret is fixed.
			rs := env.restore("gitops-rollback", env.fromSource(id, b.Status.BackupID))
			Eventually(func(g Gomega) {
				u := liveObject(g, rs)
				got := typed[backupv1alpha1.DCSRestore](g, u)
				g.Expect(got.Status.Phase).To(Equal(backupv1alpha1.RestorePhaseRestoring))
				expectHealth(g, u, "Progressing", backupv1alpha1.ReasonRestoring+": ")
				expectUnobserved(g, u)
			}).WithPolling(50 * time.Millisecond).Should(Succeed())

			// DCS restores anyway: the operator only cannot see it finish.
			env.setSecretKey("not-the-right-secret-key")
			Eventually(func(g Gomega) {
				u := liveObject(g, rs)
				got := typed[backupv1alpha1.DCSRestore](g, u)
				g.Expect(got.Status.Phase).To(Equal(backupv1alpha1.RestorePhaseRestoring))
				g.Expect(restoreCond(got, backupv1alpha1.ConditionSynced).Reason).To(Equal(backupv1alpha1.ReasonUnauthorized))
				expectHealth(g, u, "Progressing", backupv1alpha1.ReasonRestoring+"; "+backupv1alpha1.ReasonUnauthorized+": ")
			}).Should(Succeed())
			env.setSecretKey(simulator.DefaultSecretKey)
			Eventually(func(g Gomega) {
				u := liveObject(g, rs)
				g.Expect(typed[backupv1alpha1.DCSRestore](g, u).Status.Phase).To(Equal(backupv1alpha1.RestorePhaseSucceeded))
				expectHealth(g, u, "Healthy", "succeeded")
			}).WithTimeout(30 * time.Second).Should(Succeed())
		})

		DescribeTable("is Degraded when it failed or cannot start",
			func(setup func(env *simEnv, id string) func(*backupv1alpha1.DCSRestore), parts ...string) {
				env := newSimEnv(simulator.Options{BackupDuration: time.Second, RestoreDuration: time.Second})
				id := env.instance(inst1)
				rs := env.restore("gitops-checked", setup(env, id))
				Eventually(func(g Gomega) {
					u := liveObject(g, rs)
					expectHealth(g, u, "Degraded", parts...)
				}).WithTimeout(30 * time.Second).Should(Succeed())
			},
			Entry("a restore that fails in DCS", func(env *simEnv, id string) func(*backupv1alpha1.DCSRestore) {
				b := env.succeededBackup("gitops-source", id)
				env.sim.FailNextRestores(id, 1)
				return fromBackup(b.Name)
			}, backupv1alpha1.ReasonRestoreFailed+": "),
			Entry("a single-node target", func(env *simEnv, id string) func(*backupv1alpha1.DCSRestore) {
				env.sim.AddInstance(simulator.Instance{ID: inst2, CacheMode: "single"})
				auto, err := env.sim.AddAutoBackup(id)
				Expect(err).NotTo(HaveOccurred())
				src := env.fromSource(id, auto)
				return func(rs *backupv1alpha1.DCSRestore) {
					src(rs)
					rs.Spec.Target = &backupv1alpha1.RestoreTarget{InstanceID: inst2}
				}
			}, backupv1alpha1.ReasonInstanceNotSupported+": "),
			Entry("a wrong secret key", func(env *simEnv, id string) func(*backupv1alpha1.DCSRestore) {
				auto, err := env.sim.AddAutoBackup(id)
				Expect(err).NotTo(HaveOccurred())
				env.setSecretKey("not-the-right-secret-key")
				return env.fromSource(id, auto)
			}, "The restore cannot start: "+backupv1alpha1.ReasonUnauthorized+": "),
		)
	})
})
