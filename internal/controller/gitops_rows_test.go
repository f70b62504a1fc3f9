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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// The rows of the README's health table that the simulator does not
// reach (or reaches only slowly), on objects written by hand: the same
// checks as gitops_health_test.go, without the manager.

// handMade is an object of kind as the API server would return it, its
// status observed at its generation.
func handMade(kind string, spec, status map[string]any, conditions ...map[string]any) map[string]any {
	st := map[string]any{"observedGeneration": int64(3)}
	for k, v := range status {
		st[k] = v
	}
	list := make([]any, 0, len(conditions))
	for _, c := range conditions {
		list = append(list, c)
	}
	st["conditions"] = list
	if spec == nil {
		spec = map[string]any{}
	}
	return map[string]any{
		"apiVersion": backupv1alpha1.GroupVersion.String(),
		"kind":       kind,
		"metadata":   map[string]any{"name": "hand-made", "namespace": "default", "generation": int64(3)},
		"spec":       spec,
		"status":     st,
	}
}

// handCond is a status condition of a hand-made object.
func handCond(conditionType, status, reason, message string) map[string]any {
	return map[string]any{"type": conditionType, "status": status, "reason": reason, "message": message,
		"lastTransitionTime": "2026-05-01T10:00:00Z", "observedGeneration": int64(3)}
}

const (
	condTrue    = "True"
	condFalse   = "False"
	condUnknown = "Unknown"
)

var (
	handExportSpec = map[string]any{"export": map[string]any{"storageRef": map[string]any{"name": "offsite"}}}
	handExportDone = map[string]any{"export": map[string]any{"phase": "Succeeded", "bucket": "backups", "path": "shop/nightly/"}}
	handSucceeded  = handCond(backupv1alpha1.ConditionSucceeded, condTrue, backupv1alpha1.ReasonBackupSucceeded,
		"the backup succeeded")
	handSynced = handCond(backupv1alpha1.ConditionSynced, condTrue, backupv1alpha1.ReasonSynced, "")
	handReady  = handCond(backupv1alpha1.ConditionReady, condTrue, backupv1alpha1.ReasonReady, "checks out")
	handFresh  = handCond(backupv1alpha1.ConditionFresh, condTrue, backupv1alpha1.ReasonRecentBackup, "")
)

var _ = Describe("GitOps health checks (Argo CD Lua, Flux CEL) on hand-made objects", func() {
	DescribeTable("give the README's verdicts",
		func(u map[string]any, status string, parts ...string) {
			expectHealth(Default, u, status, parts...)
			expectUnobserved(Default, u)
		},

		Entry("a DCSBackup whose export copies",
			handMade("DCSBackup", handExportSpec, nil, handSucceeded, handSynced,
				handCond(backupv1alpha1.ConditionExported, condUnknown, backupv1alpha1.ReasonExportCopying, "copying")),
			"Progressing", "The backup succeeded; export Copying: copying"),
		Entry("a DCSBackup whose export waits to try again",
			handMade("DCSBackup", handExportSpec, nil, handSucceeded, handSynced,
				handCond(backupv1alpha1.ConditionExported, condUnknown, backupv1alpha1.ReasonExportRetrying, "copy 1 failed")),
			"Progressing", "export Retrying: copy 1 failed"),
		Entry("a DCSBackup with spec.export before its export began",
			handMade("DCSBackup", handExportSpec, nil, handSucceeded, handSynced),
			"Progressing", "waiting for its export"),
		Entry("a DCSBackup whose export failed",
			handMade("DCSBackup", handExportSpec, nil, handSucceeded, handSynced,
				handCond(backupv1alpha1.ConditionExported, condFalse, backupv1alpha1.ReasonSizeMismatch, "sizes differ")),
			"Degraded", "its export did not: SizeMismatch: sizes differ"),
		Entry("a DCSBackup that expired in DCS after a complete export",
			handMade("DCSBackup", handExportSpec, handExportDone, handSynced,
				handCond(backupv1alpha1.ConditionSucceeded, condFalse, backupv1alpha1.ReasonBackupExpired, "gone"),
				handCond(backupv1alpha1.ConditionExported, condTrue, backupv1alpha1.ReasonExportSucceeded, "exported")),
			"Healthy", "BackupExpired: gone", "kept in bucket backups at shop/nightly/"),
		Entry("a DCSBackup that expired in DCS without an export",
			handMade("DCSBackup", nil, nil, handSynced,
				handCond(backupv1alpha1.ConditionSucceeded, condFalse, backupv1alpha1.ReasonBackupExpired, "gone")),
			"Degraded", "BackupExpired: gone", "nothing is left to restore from"),
		Entry("a DCSBackup adopting a backup ID DCS does not know",
			handMade("DCSBackup", map[string]any{"backupID": "b-1"}, nil, handSynced,
				handCond(backupv1alpha1.ConditionSucceeded, condFalse, backupv1alpha1.ReasonBackupNotFound, "no b-1")),
			"Degraded", "BackupNotFound: no b-1"),
		Entry("a DCSBackup throttled before DCS has it",
			handMade("DCSBackup", nil, nil,
				handCond(backupv1alpha1.ConditionSucceeded, condUnknown, backupv1alpha1.ReasonPending, "pending"),
				handCond(backupv1alpha1.ConditionSynced, condFalse, backupv1alpha1.ReasonThrottled, "429")),
			"Progressing", "Pending; Throttled: 429"),
		Entry("a DCSBackup whose endpoint is wrong before DCS has it",
			handMade("DCSBackup", nil, nil,
				handCond(backupv1alpha1.ConditionSucceeded, condUnknown, backupv1alpha1.ReasonPending, "pending"),
				handCond(backupv1alpha1.ConditionSynced, condFalse, backupv1alpha1.ReasonInvalidEndpoint, "no host")),
			"Degraded", "The backup cannot start: InvalidEndpoint: no host"),

		Entry("a DCSBackupSchedule whose backups the API server refuses",
			handMade("DCSBackupSchedule", nil, nil, handFresh,
				handCond(backupv1alpha1.ConditionReady, condFalse, backupv1alpha1.ReasonCreateFailed, "quota")),
			"Degraded", "CreateFailed: quota"),
		Entry("a DCSBackupSchedule whose DCS calls failed for longer than the grace",
			handMade("DCSBackupSchedule", nil, nil, handFresh,
				handCond(backupv1alpha1.ConditionReady, condFalse, backupv1alpha1.ReasonAPIError, "503")),
			"Progressing", "APIError: 503"),
		Entry("a suspended DCSBackupSchedule whose backups are overdue",
			handMade("DCSBackupSchedule", map[string]any{"suspend": true}, nil, handReady,
				handCond(backupv1alpha1.ConditionFresh, condFalse, backupv1alpha1.ReasonBackupOverdue, "late")),
			"Suspended", "spec.suspend is true"),
		Entry("a DCSBackupSchedule not checked yet",
			handMade("DCSBackupSchedule", nil, nil),
			"Progressing", "Waiting for the operator to check the schedule"),

		Entry("a DCSRestore whose pre-restore backup failed",
			handMade("DCSRestore", nil, nil, handSynced,
				handCond(backupv1alpha1.ConditionSucceeded, condFalse, backupv1alpha1.ReasonPreRestoreBackupFailed, "failed")),
			"Degraded", "PreRestoreBackupFailed: failed"),
		Entry("a DCSRestore waiting for a busy instance",
			handMade("DCSRestore", nil, nil,
				handCond(backupv1alpha1.ConditionSucceeded, condUnknown, backupv1alpha1.ReasonWaitingForInstance, "busy"),
				handCond(backupv1alpha1.ConditionSynced, condFalse, backupv1alpha1.ReasonInstanceBusy, "in use")),
			"Progressing", "WaitingForInstance; InstanceBusy: in use"),
		Entry("a DCSRestore migrating while DCS refuses the credentials",
			handMade("DCSRestore", nil, map[string]any{"migrationTaskID": "m-1"},
				handCond(backupv1alpha1.ConditionSucceeded, condUnknown, backupv1alpha1.ReasonRestoring, "migrating"),
				handCond(backupv1alpha1.ConditionSynced, condFalse, backupv1alpha1.ReasonUnauthorized, "401")),
			"Progressing", "Restoring; Unauthorized: 401"),

		Entry("a DCSBackupStorage not checked yet",
			handMade("DCSBackupStorage", nil, nil,
				handCond(backupv1alpha1.ConditionReady, condUnknown, backupv1alpha1.ReasonPending, "checking")),
			"Progressing", "Waiting for the operator to check the bucket"),
		Entry("a DCSBackupStorage whose bucket does not exist",
			handMade("DCSBackupStorage", nil, nil,
				handCond(backupv1alpha1.ConditionReady, condFalse, backupv1alpha1.ReasonBucketNotFound, "no bucket")),
			"Degraded", "BucketNotFound: no bucket"),
	)

	It("offer no action on a schedule being deleted", func() {
		u := handMade("DCSBackupSchedule", nil, nil, handReady, handFresh)
		Expect(enabled(discover(Default, u))).To(ConsistOf("run-now", "suspend"))
		Expect(unstructured.SetNestedField(u, "2026-05-01T10:00:00Z", "metadata", "deletionTimestamp")).To(Succeed())
		Expect(enabled(discover(Default, u))).To(BeEmpty())
	})

	It("run now on a schedule without annotations or resourceVersion", func() {
		u := handMade("DCSBackupSchedule", nil, nil, handReady, handFresh)
		changed, err := argoRunAction(argoScriptsOrFail(Default).actions["run-now"], u)
		Expect(err).NotTo(HaveOccurred())
		token, _, _ := unstructured.NestedString(changed, "metadata", "annotations", backupv1alpha1.AnnotationRunNow)
		Expect(token).To(MatchRegexp(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`))
		Expect(changed["spec"]).To(Equal(u["spec"]))
	})
})
