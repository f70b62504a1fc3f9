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
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

var _ = Describe("DCSBackupSchedule validation at admission", func() {
	// valid is a schedule the API server accepts; each entry breaks one
	// field of it in its unstructured form, so that values no Go type can
	// hold (a maxAge that is not a duration) can be sent too.
	valid := func() map[string]any {
		s := &backupv1alpha1.DCSBackupSchedule{
			TypeMeta:   metav1.TypeMeta{APIVersion: backupv1alpha1.GroupVersion.String(), Kind: "DCSBackupSchedule"},
			ObjectMeta: metav1.ObjectMeta{GenerateName: "invalid-", Namespace: "default"},
			Spec: backupv1alpha1.DCSBackupScheduleSpec{
				Schedule:                  "0 3 * * *",
				TimeZone:                  ptr.To("Europe/Berlin"),
				StartingDeadlineSeconds:   ptr.To[int64](3600),
				Retention:                 &backupv1alpha1.Retention{KeepLast: ptr.To[int32](7), MaxAge: &metav1.Duration{Duration: 720 * time.Hour}},
				FailedBackupsHistoryLimit: ptr.To[int32](3),
				Template: backupv1alpha1.DCSBackupTemplate{Spec: backupv1alpha1.DCSBackupTemplateSpec{
					InstanceID: inst1,
					Connection: backupv1alpha1.Connection{
						ProjectID:            simulator.DefaultProjectID,
						Region:               "eu-west-0",
						CredentialsSecretRef: backupv1alpha1.SecretReference{Name: "creds"},
					},
				}},
			},
		}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
		Expect(err).NotTo(HaveOccurred())
		return u
	}
	// Server-side dry run: full validation, nothing stored for the
	// schedule controller to act on.
	create := func(u map[string]any) error {
		return k8sClient.Create(ctx, &unstructured.Unstructured{Object: u}, client.DryRunAll)
	}

	It("accepts the valid schedule the table starts from", func() {
		Expect(create(valid())).To(Succeed())
	})

	DescribeTable("rejects an invalid spec with a message naming the field",
		func(mutate func(map[string]any), field string) {
			u := valid()
			mutate(u)
			err := create(u)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
		},
		Entry("empty schedule", set("", "spec", "schedule"), "spec.schedule"),
		Entry("schedule over 256 characters", set(strings.Repeat("* ", 129), "spec", "schedule"), "spec.schedule"),
		Entry("CRON_TZ= prefix", set("CRON_TZ=Europe/Berlin 0 3 * * *", "spec", "schedule"), "spec.schedule"),
		Entry("TZ= prefix", set("TZ=UTC 0 3 * * *", "spec", "schedule"), "spec.schedule"),
		Entry("time zone that is a path", set("../../etc/passwd", "spec", "timeZone"), "spec.timeZone"),
		Entry("time zone with a space", set("Europe/Berlin Mitte", "spec", "timeZone"), "spec.timeZone"),
		Entry("empty time zone", set("", "spec", "timeZone"), "spec.timeZone"),
		Entry("negative startingDeadlineSeconds", set(int64(-1), "spec", "startingDeadlineSeconds"),
			"spec.startingDeadlineSeconds"),
		Entry("keepLast 0", set(int64(0), "spec", "retention", "keepLast"), "spec.retention.keepLast"),
		Entry("keepLast over 1000", set(int64(1001), "spec", "retention", "keepLast"), "spec.retention.keepLast"),
		Entry("maxAge that is not a duration", set("a month", "spec", "retention", "maxAge"), "spec.retention.maxAge"),
		Entry("negative maxAge", set("-24h", "spec", "retention", "maxAge"), "spec.retention.maxAge"),
		Entry("maxAge in days", set("30d", "spec", "retention", "maxAge"), "spec.retention.maxAge"),
		Entry("failedBackupsHistoryLimit over 100", set(int64(101), "spec", "failedBackupsHistoryLimit"),
			"spec.failedBackupsHistoryLimit"),
		Entry("negative failedBackupsHistoryLimit", set(int64(-1), "spec", "failedBackupsHistoryLimit"),
			"spec.failedBackupsHistoryLimit"),
		Entry("template instance ID with a slash", set("../etc", "spec", "template", "spec", "instanceID"),
			"spec.template.spec.instanceID"),
		Entry("template instance ID of 10 kB", set(strings.Repeat("a", 10240), "spec", "template", "spec", "instanceID"),
			"spec.template.spec.instanceID"),
		Entry("template aof with the v1 API", func(u map[string]any) {
			set("aof", "spec", "template", "spec", "format")(u)
			set("v1", "spec", "template", "spec", "connection", "apiVersion")(u)
		}, "spec.template.spec.format"),
		Entry("template without region or endpoint", unset("spec", "template", "spec", "connection", "region"),
			"spec.template.spec.connection"),
		Entry("template endpoint with a path", set("https://dcs.example.com/v2", "spec", "template", "spec", "connection", "endpoint"),
			"spec.template.spec.connection.endpoint"),
		Entry("template without a Secret", unset("spec", "template", "spec", "connection", "credentialsSecretRef"),
			"spec.template.spec.connection.credentialsSecretRef"),
		Entry("no template", unset("spec", "template"), "spec.template"),
	)
})

// set returns a mutation that sets a field of an unstructured object.
func set(value any, path ...string) func(map[string]any) {
	return func(u map[string]any) {
		Expect(unstructured.SetNestedField(u, value, path...)).To(Succeed())
	}
}

// unset returns a mutation that removes a field.
func unset(path ...string) func(map[string]any) {
	return func(u map[string]any) { unstructured.RemoveNestedField(u, path...) }
}

// badConnectionSpecs run in the control plane of ownmanager_test.go: a
// connection the operator cannot use ends in a Synced=False condition
// saying what to fix, costs no DCS request and no busy loop, and heals once
// fixed.
func badConnectionSpecs(p *ownPlane) {
	var n int
	DescribeTable("a Secret without a usable key pair: CredentialsNotFound naming the key",
		func(data map[string]string, missing string) {
			n++
			inst := fmt.Sprintf("bad-secret-%d", n)
			secretName := fmt.Sprintf("incomplete-%d", n)
			sim, url := p.sim(inst)
			secret := p.secret(nsBadInput, secretName, data)
			b := p.backup(nsBadInput, inst, url, inst, secretName)

			Eventually(func(g Gomega) {
				got := p.fetch(g, b)
				expectCondition(g, got, backupv1alpha1.ConditionSynced, metav1.ConditionFalse, backupv1alpha1.ReasonCredentialsNotFound)
				msg := cond(got, backupv1alpha1.ConditionSynced).Message
				g.Expect(msg).To(ContainSubstring(missing))
				g.Expect(msg).To(ContainSubstring(secretName))
				expectCondition(g, got, backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonPending)
			}).Should(Succeed())
			p.expectQuiet(p.logsA, b, sim)
			Expect(sim.Stats().Total).To(BeZero())

			By("fixing the Secret")
			secret.StringData = nil
			secret.Data = map[string][]byte{backupv1alpha1.SecretKeyAccessKey: []byte(ownAK),
				backupv1alpha1.SecretKeySecretKey: []byte(ownSK), backupv1alpha1.SecretKeySecurityToken: []byte(ownToken)}
			Expect(p.c.Update(ctx, secret)).To(Succeed())
			Eventually(func(g Gomega) {
				expectCondition(g, p.fetch(g, b), backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue,
					backupv1alpha1.ReasonBackupSucceeded)
			}).WithTimeout(20 * time.Second).Should(Succeed())
		},
		Entry("secretKey empty", map[string]string{"accessKey": ownAK, "secretKey": ""}, "secretKey"),
		Entry("secretKey only a newline", map[string]string{"accessKey": ownAK, "secretKey": "\n"}, "secretKey"),
		Entry("accessKey missing", map[string]string{"secretKey": ownSK, "securityToken": ownToken}, "accessKey"),
		Entry("keys spelt another way", map[string]string{"access_key": ownAK, "secret_key": ownSK},
			"accessKey, secretKey"),
	)

	It("never reads the Secret of another namespace, even one it may read", func() {
		const inst = "other-namespace"
		sim, url := p.sim(inst)
		// A valid Secret of that name exists where the operator has
		// access, but not in the backup's namespace.
		p.goodSecret(nsOtherTeam, "team-credentials")
		// With a namespace in the reference, as people try: the schema has
		// no such field, and the API server drops it.
		b := p.newBackup(nsBadInput, inst, url, inst, "team-credentials")
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
		Expect(err).NotTo(HaveOccurred())
		set(nsOtherTeam, "spec", "connection", "credentialsSecretRef", "namespace")(u)
		raw := &unstructured.Unstructured{Object: u}
		raw.SetGroupVersionKind(backupv1alpha1.GroupVersion.WithKind("DCSBackup"))
		Expect(p.c.Create(ctx, raw)).To(Succeed())
		_, kept, _ := unstructured.NestedString(raw.Object, "spec", "connection", "credentialsSecretRef", "namespace")
		Expect(kept).To(BeFalse(), "the API server kept an unknown field")

		Eventually(func(g Gomega) {
			got := p.fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionSynced, metav1.ConditionFalse, backupv1alpha1.ReasonCredentialsNotFound)
			g.Expect(cond(got, backupv1alpha1.ConditionSynced).Message).To(
				ContainSubstring(`"team-credentials" (spec.connection.credentialsSecretRef.name) not found in namespace "bad-input"`))
		}).Should(Succeed())
		p.expectQuiet(p.logsA, b, sim)
		Expect(sim.Stats().Total).To(BeZero())
	})

	It("refuses a plain-http endpoint without --insecure-endpoints: InvalidEndpoint, no request", func() {
		const inst = "plain-http"
		sim, url := p.sim(inst)
		Expect(url).To(HavePrefix("http://"))
		p.goodSecret(nsHTTPSOnly, "dcs-credentials")
		b := p.backup(nsHTTPSOnly, inst, url, inst, "dcs-credentials")

		Eventually(func(g Gomega) {
			got := p.fetch(g, b)
			expectCondition(g, got, backupv1alpha1.ConditionSynced, metav1.ConditionFalse, backupv1alpha1.ReasonInvalidEndpoint)
			msg := cond(got, backupv1alpha1.ConditionSynced).Message
			g.Expect(msg).To(ContainSubstring("spec.connection.endpoint"))
			g.Expect(msg).To(ContainSubstring("--insecure-endpoints"))
		}).Should(Succeed())
		p.expectQuiet(p.logsB, b, sim)
		Expect(sim.Stats().Total).To(BeZero(), "a signed request went out over plain http")

		evs := &eventsv1.EventList{}
		Expect(p.c.List(ctx, evs, client.InNamespace(nsHTTPSOnly))).To(Succeed())
		var warnings int
		for _, ev := range evs.Items {
			if ev.Regarding.Name == b.Name && ev.Reason == backupv1alpha1.ReasonInvalidEndpoint {
				warnings++
				Expect(ev.Series).To(BeNil(), "the warning repeats")
			}
		}
		Expect(warnings).To(Equal(1), "one warning on the transition, not one per pass")
	})
}
