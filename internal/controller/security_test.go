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
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
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

// Values in the Secrets of the security spec that are wrong for DCS, and
// so travel the error paths; they must stay as secret as the right ones.
const (
	wrongSK    = "wrong-SECRET-key-9c41d07b3a"
	staleToken = "stale+SECURITY/token-expired-credential-1a2b=="
	// The Redis password of a restore target, and a wrong one.
	redisPassword = "redis-PASSWORD-of-target-5e7a"
	wrongPassword = "wrong-redis-PASSWORD-0b3c"
)

// signatureHex is a bare SDK-HMAC-SHA256 signature: 64 hex digits. Nothing
// else the operator writes has that shape (UIDs and backup IDs are dashed,
// request IDs have 32 digits).
var signatureHex = regexp.MustCompile(`(^|[^0-9a-fA-F])[0-9a-fA-F]{64}([^0-9a-fA-F]|$)`)

// hexDumpRow is a row of the hex dumps in which client-go logs a body it
// cannot print as text, such as a protobuf Secret (at V(8)).
var hexDumpRow = regexp.MustCompile(`[0-9a-f]{8}  ((?:[0-9a-f]{2} {1,2}){1,16})`)

// leaks lists the secrets found in text, as text, in base64 (Secret data
// in JSON) or in hex dumps, and the Authorization header parts.
func leaks(text string) []string {
	var dumped []byte
	for _, row := range hexDumpRow.FindAllStringSubmatch(text, -1) {
		if b, err := hex.DecodeString(strings.ReplaceAll(row[1], " ", "")); err == nil {
			dumped = append(dumped, b...)
		}
	}
	var found []string
	secrets := []string{ownSK, ownToken, wrongSK, staleToken, redisPassword, wrongPassword}
	if gateway != nil {
		// The bucket's secret key (the storage specs' right key).
		secrets = append(secrets, gateway.SecretKey)
	}
	for _, s := range secrets {
		for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s))} {
			if strings.Contains(text, form) || bytes.Contains(dumped, []byte(form)) {
				found = append(found, form)
			}
		}
	}
	for _, marker := range []string{"Signature=", "SDK-HMAC-SHA256", "X-Security-Token:"} {
		if strings.Contains(text, marker) {
			found = append(found, marker)
		}
	}
	if m := signatureHex.FindString(text); m != "" {
		found = append(found, m)
	}
	return found
}

func securitySpecs(p *ownPlane) {
	It("keeps secret keys, security tokens and signatures out of logs, events, status and errors", func() {
		const (
			instOK, instFail, instWrongKey, instStale, instThrottled = "sec-ok", "sec-fail", "sec-wrong-key", "sec-stale", "sec-throttled"
			instScheduled, instTarget                                = "sec-scheduled", "sec-target"
		)
		sim, url := p.sim(instOK, instFail, instWrongKey, instStale, instScheduled, instTarget)
		Expect(sim.SetInstancePassword(instTarget, redisPassword)).To(Succeed())
		faulty, faultyURL := p.sim(instThrottled)
		sim.FailNextBackups(instFail, 1)
		// The first create is throttled, the second answered 500: the
		// throttling and transient paths, then success.
		faulty.FailNextRequests(1, simulator.Fault{Status: 429, RetryAfter: time.Second})
		faulty.FailNextRequests(1, simulator.Fault{Status: 500})

		p.goodSecret(nsSecurity, "dcs-credentials")
		p.secret(nsSecurity, "wrong-secret-key", map[string]string{backupv1alpha1.SecretKeyAccessKey: ownAK,
			backupv1alpha1.SecretKeySecretKey: wrongSK, backupv1alpha1.SecretKeySecurityToken: ownToken})
		p.secret(nsSecurity, "stale-token", map[string]string{backupv1alpha1.SecretKeyAccessKey: ownAK,
			backupv1alpha1.SecretKeySecretKey: ownSK, backupv1alpha1.SecretKeySecurityToken: staleToken})

		happy := p.backup(nsSecurity, "happy", url, instOK, "dcs-credentials", func(b *backupv1alpha1.DCSBackup) {
			b.Spec.DeletionPolicy = backupv1alpha1.DeletionPolicyDelete
		})
		failing := p.backup(nsSecurity, "failing", url, instFail, "dcs-credentials")
		wrongKey := p.backup(nsSecurity, "wrong-key", url, instWrongKey, "wrong-secret-key")
		stale := p.backup(nsSecurity, "stale-token", url, instStale, "stale-token")
		throttled := p.backup(nsSecurity, "throttled", faultyURL, instThrottled, "dcs-credentials")
		// A schedule's status and events carry DCS answers too.
		schedule := &backupv1alpha1.DCSBackupSchedule{
			ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: nsSecurity,
				Annotations: map[string]string{backupv1alpha1.AnnotationRunNow: "security-check"}},
			Spec: backupv1alpha1.DCSBackupScheduleSpec{Schedule: "0 3 * * *", Template: backupv1alpha1.DCSBackupTemplate{
				Spec: p.newBackup(nsSecurity, "", url, instScheduled, "dcs-credentials").Spec.DCSBackupTemplateSpec}},
		}
		Expect(p.c.Create(ctx, schedule)).To(Succeed())
		// Restores into a target with a Redis password: one with the right
		// password, one with a wrong one (DCS.4080 echoes nothing, but the
		// request body holds the password).
		p.secret(nsSecurity, "target-redis", map[string]string{"right": redisPassword, "wrong": wrongPassword})
		source := p.backup(nsSecurity, "to-import", url, instOK, "dcs-credentials")
		imports := map[string]string{"import-right": "right", "import-wrong": "wrong"}
		for name, key := range imports {
			Expect(p.c.Create(ctx, &backupv1alpha1.DCSRestore{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: nsSecurity},
				Spec: backupv1alpha1.DCSRestoreSpec{BackupRef: &backupv1alpha1.LocalObjectReference{Name: source.Name},
					Target: &backupv1alpha1.RestoreTarget{InstanceID: instTarget,
						PasswordSecretRef: &backupv1alpha1.SecretKeySelector{Name: "target-redis", Key: key}}},
			})).To(Succeed())
		}

		for _, want := range []struct {
			b      *backupv1alpha1.DCSBackup
			typ    string
			status metav1.ConditionStatus
			reason string
		}{
			{happy, backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue, backupv1alpha1.ReasonBackupSucceeded},
			{failing, backupv1alpha1.ConditionSucceeded, metav1.ConditionFalse, backupv1alpha1.ReasonBackupFailed},
			{wrongKey, backupv1alpha1.ConditionSynced, metav1.ConditionFalse, backupv1alpha1.ReasonUnauthorized},
			{stale, backupv1alpha1.ConditionSynced, metav1.ConditionFalse, backupv1alpha1.ReasonUnauthorized},
			{throttled, backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue, backupv1alpha1.ReasonBackupSucceeded},
		} {
			Eventually(func(g Gomega) {
				expectCondition(g, p.fetch(g, want.b), want.typ, want.status, want.reason)
			}).WithTimeout(40*time.Second).Should(Succeed(), want.b.Name)
		}
		Expect(faulty.CodeCount("APIG.0308")).To(Equal(1), "the throttled answer was sent")
		for _, want := range []struct {
			name   string
			status metav1.ConditionStatus
			reason string
		}{
			{"import-right", metav1.ConditionTrue, backupv1alpha1.ReasonRestoreSucceeded},
			{"import-wrong", metav1.ConditionFalse, backupv1alpha1.ReasonWrongPassword},
		} {
			Eventually(func(g Gomega) {
				rs := &backupv1alpha1.DCSRestore{}
				g.Expect(p.c.Get(ctx, client.ObjectKey{Namespace: nsSecurity, Name: want.name}, rs)).To(Succeed())
				c := restoreCond(rs, backupv1alpha1.ConditionSucceeded)
				g.Expect(c.Status).To(Equal(want.status), "%+v", c)
				g.Expect(c.Reason).To(Equal(want.reason), "%+v", c)
			}).WithTimeout(60*time.Second).Should(Succeed(), want.name)
		}
		Eventually(func(g Gomega) {
			children := &backupv1alpha1.DCSBackupList{}
			g.Expect(p.c.List(ctx, children, client.InNamespace(nsSecurity),
				client.MatchingLabels{backupv1alpha1.LabelSchedule: schedule.Name})).To(Succeed())
			g.Expect(children.Items).To(HaveLen(1))
			expectCondition(g, &children.Items[0], backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue,
				backupv1alpha1.ReasonBackupSucceeded)
		}).WithTimeout(40 * time.Second).Should(Succeed())

		// The finalizer's delete call is one more signed request and event.
		happyJSON := toJSON(p.fetch(Default, happy))
		Expect(p.c.Delete(ctx, happy)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(p.c.Get(ctx, client.ObjectKeyFromObject(happy), &backupv1alpha1.DCSBackup{}))
		}).WithTimeout(20 * time.Second).Should(BeTrue())

		Eventually(func(g Gomega) {
			evs := &eventsv1.EventList{}
			g.Expect(p.c.List(ctx, evs, client.InNamespace(nsSecurity))).To(Succeed())
			reasons := make([]string, 0, len(evs.Items))
			for _, ev := range evs.Items {
				reasons = append(reasons, ev.Reason)
			}
			g.Expect(reasons).To(ContainElements("BackupSucceeded", "BackupFailed", "Unauthorized",
				"Throttled", "APIError", "CloudBackupDeleted"))
		}).Should(Succeed())

		By("checking buckets with a wrong and a right key")
		bucket := "security-exports"
		Expect(gateway.CreateBucket(ctx, bucket)).To(Succeed())
		p.secret(nsSecurity, "obs-wrong", map[string]string{backupv1alpha1.SecretKeyAccessKey: gateway.AccessKey,
			backupv1alpha1.SecretKeySecretKey: wrongSK})
		p.secret(nsSecurity, "obs-right", map[string]string{backupv1alpha1.SecretKeyAccessKey: gateway.AccessKey,
			backupv1alpha1.SecretKeySecretKey: gateway.SecretKey})
		for name, want := range map[string]string{"obs-wrong": backupv1alpha1.ReasonUnauthorized,
			"obs-right": backupv1alpha1.ReasonBucketReachable} {
			st := &backupv1alpha1.DCSBackupStorage{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: nsSecurity},
				Spec: backupv1alpha1.DCSBackupStorageSpec{Endpoint: gateway.URL, Region: gateway.Region, Bucket: bucket,
					CredentialsSecretRef: backupv1alpha1.SecretReference{Name: name}}}
			Expect(p.c.Create(ctx, st)).To(Succeed())
			Eventually(func(g Gomega) string {
				got := &backupv1alpha1.DCSBackupStorage{}
				g.Expect(p.c.Get(ctx, client.ObjectKeyFromObject(st), got)).To(Succeed())
				return storageReasonOf(got)
			}).WithTimeout(30*time.Second).Should(Equal(want), name)
		}
		storages := &backupv1alpha1.DCSBackupStorageList{}

		By("scanning status, events (both APIs) and the log at the most verbose level")
		Expect(p.c.List(ctx, storages, client.InNamespace(nsSecurity))).To(Succeed())
		backups := &backupv1alpha1.DCSBackupList{}
		Expect(p.c.List(ctx, backups, client.InNamespace(nsSecurity))).To(Succeed())
		Expect(backups.Items).To(HaveLen(6))
		schedules := &backupv1alpha1.DCSBackupScheduleList{}
		Expect(p.c.List(ctx, schedules, client.InNamespace(nsSecurity))).To(Succeed())
		restores := &backupv1alpha1.DCSRestoreList{}
		Expect(p.c.List(ctx, restores, client.InNamespace(nsSecurity))).To(Succeed())
		Expect(restores.Items).To(HaveLen(2))
		newEvents, oldEvents := &eventsv1.EventList{}, &corev1.EventList{}
		Expect(p.c.List(ctx, newEvents, client.InNamespace(nsSecurity))).To(Succeed())
		Expect(p.c.List(ctx, oldEvents, client.InNamespace(nsSecurity))).To(Succeed())
		for _, text := range []string{happyJSON, toJSON(backups), toJSON(schedules), toJSON(restores), toJSON(newEvents),
			toJSON(oldEvents), toJSON(storages)} {
			Expect(leaks(text)).To(BeEmpty(), "in %s", text)
		}

		logs := p.logsA.String()
		// The log is the whole story, not a quiet one: client-go's bodies of
		// API requests and responses (V(8)), every pass (V(5)), the
		// requeues (V(2)) and the events (V(1)) with the DCS answers.
		Expect(logs).To(ContainSubstring(`"Response Body"`))
		Expect(p.logsA.reconciles(wrongKey)).To(BeNumerically(">=", 1))
		Expect(logs).To(ContainSubstring(`"next look"`))
		Expect(logs).To(ContainSubstring(`"Event occurred"`))
		Expect(logs).To(ContainSubstring("APIG.0301"))
		var leaking []string
		for _, line := range strings.Split(logs, "\n") {
			if found := leaks(line); len(found) > 0 {
				var e struct{ Msg, Name string }
				_ = json.Unmarshal([]byte(line), &e)
				leaking = append(leaking, fmt.Sprintf("%q (%s) leaks %q", e.Msg, e.Name, found))
			}
		}
		Expect(leaking).To(BeEmpty(), "log entries at the most verbose level")
		// The Unauthorized message helps without leaking: it names the Secret.
		Expect(cond(p.fetch(Default, wrongKey), backupv1alpha1.ConditionSynced).Message).To(
			ContainSubstring("wrong-secret-key"))
	})
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

func storageReasonOf(st *backupv1alpha1.DCSBackupStorage) string {
	if c := storageReady(st); c != nil {
		return c.Reason
	}
	return ""
}
