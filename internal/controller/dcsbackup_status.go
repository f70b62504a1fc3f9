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

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// maxRestoresInStatus bounds status.restores (the CRD says so too).
const maxRestoresInStatus = 10

// dcsErrorCodes explains the record-level error codes (SPEC.md 2.2).
var dcsErrorCodes = map[string]string{
	"dcs.08.0001": "failed to start the backup and restore tool",
	"dcs.08.0002": "operation timed out",
	"dcs.08.0003": "failed to delete the bucket",
	"dcs.08.0004": "failed to obtain the AK/SK",
	"dcs.08.0005": "failed to create the bucket",
	"dcs.08.0006": "failed to query the backup file size",
	"dcs.08.0007": "data synchronization failed during restoration",
	"dcs.08.0008": "the instance was running other tasks",
}

func describeErrorCode(code string) string {
	if code == "" {
		return "no error code"
	}
	if d, ok := dcsErrorCodes[strings.ToLower(code)]; ok {
		return code + " (" + d + ")"
	}
	return code
}

// remarkToken tags the remark of every backup the operator creates with the
// resource's UID. The create call is not idempotent and returns the only
// handle to the backup; the token is how the operator finds its backup again
// when it crashed before recording that handle.
func remarkToken(uid types.UID) string { return "k8s:" + string(uid) }

func remarkFor(spec backupv1alpha1.DCSBackupTemplateSpec, uid types.UID) string {
	return strings.TrimSpace(spec.Remark + " " + remarkToken(uid))
}

// findByToken returns the backup whose remark carries the token, the oldest
// if (against all expectations) several do.
func findByToken(records []dcs.Backup, uid types.UID) (dcs.Backup, bool) {
	token := remarkToken(uid)
	var found dcs.Backup
	ok := false
	for _, rec := range records {
		if !strings.Contains(rec.Remark, token) {
			continue
		}
		if !ok || rec.CreatedAt.Before(found.CreatedAt) {
			found, ok = rec, true
		}
	}
	return found, ok
}

func findByID(records []dcs.Backup, id string) (dcs.Backup, bool) {
	for _, rec := range records {
		if rec.ID == id {
			return rec, true
		}
	}
	return dcs.Backup{}, false
}

func isTerminalPhase(p backupv1alpha1.BackupPhase) bool {
	switch p {
	case backupv1alpha1.PhaseSucceeded, backupv1alpha1.PhaseFailed, backupv1alpha1.PhaseExpired,
		backupv1alpha1.PhaseDeleted:
		return true
	}
	return false
}

// holdsInstance says whether a backup occupies its DCS instance: it asked
// DCS for a backup (or adopted one) that has not finished.
func holdsInstance(b *backupv1alpha1.DCSBackup) bool {
	started := b.Status.BackupID != "" || b.Status.CreateRequestedAt != nil
	return started && !isTerminalPhase(b.Status.Phase)
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

// phaseOutcome is how a DCS backup status shows on the resource.
type phaseOutcome struct {
	phase  backupv1alpha1.BackupPhase
	status metav1.ConditionStatus
	reason string
}

var backupOutcomes = map[dcs.BackupStatus]phaseOutcome{
	dcs.BackupWaiting:   {backupv1alpha1.PhaseWaiting, metav1.ConditionUnknown, backupv1alpha1.ReasonWaiting},
	dcs.BackupRunning:   {backupv1alpha1.PhaseInProgress, metav1.ConditionUnknown, backupv1alpha1.ReasonInProgress},
	dcs.BackupSucceeded: {backupv1alpha1.PhaseSucceeded, metav1.ConditionTrue, backupv1alpha1.ReasonBackupSucceeded},
	dcs.BackupFailed:    {backupv1alpha1.PhaseFailed, metav1.ConditionFalse, backupv1alpha1.ReasonBackupFailed},
	dcs.BackupExpired:   {backupv1alpha1.PhaseExpired, metav1.ConditionFalse, backupv1alpha1.ReasonBackupExpired},
	dcs.BackupDeleted:   {backupv1alpha1.PhaseDeleted, metav1.ConditionFalse, backupv1alpha1.ReasonBackupDeleted},
}

// applyRecord copies a DCS backup record into the status and sets the
// Succeeded condition from it.
func applyRecord(b *backupv1alpha1.DCSBackup, rec dcs.Backup, now time.Time) {
	st := &b.Status
	st.BackupID = rec.ID
	st.BackupName = rec.Name
	st.Progress = rec.Progress
	st.Size = rec.Size
	st.Format = backupv1alpha1.BackupFormat(rec.Format)
	st.BackupType = rec.Type
	st.Restorable = rec.Restorable
	st.ErrorCode = rec.ErrorCode
	if t := timeOrNil(rec.CreatedAt); t != nil {
		st.StartedAt = t
	}
	out, known := backupOutcomes[rec.Status]
	if !known {
		out = phaseOutcome{backupv1alpha1.PhaseInProgress, metav1.ConditionUnknown, backupv1alpha1.ReasonInProgress}
	}
	st.Phase = out.phase
	if isTerminalPhase(out.phase) && st.CompletedAt == nil {
		st.CompletedAt = timeOrNil(rec.UpdatedAt)
	}
	setCondition(&b.Status.Conditions, b.Generation, now, backupv1alpha1.ConditionSucceeded, out.status, out.reason,
		recordMessage(rec))
}

func recordMessage(rec dcs.Backup) string {
	switch rec.Status {
	case dcs.BackupWaiting:
		return fmt.Sprintf("DCS queued backup %s; it has not started yet", rec.ID)
	case dcs.BackupRunning:
		return fmt.Sprintf("DCS is writing backup %s: %s%% done", rec.ID, orDefault(rec.Progress, "0"))
	case dcs.BackupSucceeded:
		return fmt.Sprintf("backup %s (%s) succeeded: %d bytes, %s", rec.ID, rec.Name, rec.Size, restorableText(rec.Restorable))
	case dcs.BackupFailed:
		return fmt.Sprintf("DCS reports backup %s failed: %s", rec.ID, describeErrorCode(rec.ErrorCode))
	case dcs.BackupExpired:
		return fmt.Sprintf("the file of backup %s expired in DCS", rec.ID)
	case dcs.BackupDeleted:
		return fmt.Sprintf("the file of backup %s was deleted in DCS", rec.ID)
	}
	return fmt.Sprintf("DCS reports backup %s in status %q", rec.ID, rec.Status)
}

func restorableText(ok bool) string {
	if ok {
		return "restorable"
	}
	return "DCS does not offer a restore from it"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// applyRestores fills status.restores and the Restored condition from the
// instance's restore records: those made from this backup, newest first.
func applyRestores(b *backupv1alpha1.DCSBackup, all []dcs.Restore, now time.Time) {
	var mine []dcs.Restore
	for _, r := range all {
		if r.BackupID != "" && r.BackupID == b.Status.BackupID {
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 {
		b.Status.Restores = nil
		meta.RemoveStatusCondition(&b.Status.Conditions, backupv1alpha1.ConditionRestored)
		return
	}
	sortRestoresNewestFirst(mine)
	b.Status.Restores = restoreRecords(mine, maxRestoresInStatus)
	status, reason, msg := restoredCondition(b.Status.Restores[0])
	setCondition(&b.Status.Conditions, b.Generation, now, backupv1alpha1.ConditionRestored, status, reason, msg)
}

func sortRestoresNewestFirst(rs []dcs.Restore) {
	sort.SliceStable(rs, func(i, j int) bool {
		if !rs[i].CreatedAt.Equal(rs[j].CreatedAt) {
			return rs[i].CreatedAt.After(rs[j].CreatedAt)
		}
		return rs[i].ID > rs[j].ID
	})
}

func restoreRecords(rs []dcs.Restore, limit int) []backupv1alpha1.RestoreRecord {
	out := make([]backupv1alpha1.RestoreRecord, 0, min(len(rs), limit))
	for _, r := range rs[:min(len(rs), limit)] {
		out = append(out, toRestoreRecord(r))
	}
	return out
}

func toRestoreRecord(r dcs.Restore) backupv1alpha1.RestoreRecord {
	rec := backupv1alpha1.RestoreRecord{
		RestoreID:  r.ID,
		Name:       r.Name,
		BackupID:   r.BackupID,
		BackupName: r.BackupName,
		Status:     string(r.Status),
		Progress:   r.Progress,
		ErrorCode:  r.ErrorCode,
		Remark:     r.Remark,
		StartedAt:  timeOrNil(r.CreatedAt),
	}
	if r.Status == dcs.RestoreSucceeded || r.Status == dcs.RestoreFailed {
		rec.CompletedAt = timeOrNil(r.UpdatedAt)
	}
	return rec
}

// restoredCondition is the Restored condition for the latest restore.
func restoredCondition(r backupv1alpha1.RestoreRecord) (metav1.ConditionStatus, string, string) {
	switch dcs.RestoreStatus(r.Status) {
	case dcs.RestoreSucceeded:
		return metav1.ConditionTrue, backupv1alpha1.ReasonRestoreSucceeded,
			fmt.Sprintf("restore %s (%s) from backup %s succeeded", r.RestoreID, r.Name, r.BackupID)
	case dcs.RestoreFailed:
		return metav1.ConditionFalse, backupv1alpha1.ReasonRestoreFailed,
			fmt.Sprintf("restore %s (%s) from backup %s failed: %s", r.RestoreID, r.Name, r.BackupID,
				describeErrorCode(r.ErrorCode))
	}
	return metav1.ConditionUnknown, backupv1alpha1.ReasonRestoreInProgress,
		fmt.Sprintf("restore %s from backup %s is %s (%s%%)", r.RestoreID, r.BackupID, orDefault(r.Status, "pending"),
			orDefault(r.Progress, "0"))
}

// setCondition sets a condition with the resource's generation. The
// transition time comes from the controller's clock and only moves when the
// status changes.
func setCondition(conds *[]metav1.Condition, generation int64, now time.Time, typ string,
	status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            msg,
		ObservedGeneration: generation,
		LastTransitionTime: metav1.NewTime(now),
	})
}
