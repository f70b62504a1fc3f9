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
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// Restores into another instance are backup import tasks (SPEC.md 14). The
// task's name carries the restore's token, so that a lost create answer, a
// crash or a re-created DCSRestore finds the task instead of importing a
// second time.

// adoptImport looks for the import task of this restore by its name.
func (p *restorePass) adoptImport(ctx context.Context) (time.Duration, bool) {
	name := restoreToken(p.rs)
	tasks, err := p.api.ListImportTasks(ctx, dcs.ListImportTasksOptions{Name: name})
	if err != nil {
		return p.dcsFailed(ctx, "looking for an earlier import task of this DCSRestore", err), false
	}
	p.synced()
	var found *dcs.ImportTask
	for i := range tasks {
		t := &tasks[i]
		// The list's name filter may be a fuzzy match: only the exact name
		// is this restore's.
		if t.Name == name && (found == nil || t.CreatedAt.Before(found.CreatedAt)) {
			found = t
		}
	}
	if found == nil {
		return 0, false
	}
	p.rs.Status.MigrationTaskID = found.ID
	p.adopted("import task " + found.ID)
	return p.applyImportTask(*found), true
}

// startImport creates the backup import task into the target.
func (p *restorePass) startImport(ctx context.Context) time.Duration {
	st := &p.rs.Status
	password, wait, ok := p.targetPassword(ctx)
	if !ok {
		p.coord().Release(p.key, p.rs.UID)
		return wait
	}
	if err := p.writeIntent(ctx); err != nil {
		return p.intentFailed(ctx, err)
	}
	req := dcs.ImportTaskRequest{
		TaskName:         restoreToken(p.rs),
		Description:      restoreRemark(p.rs),
		BackupID:         st.BackupID,
		TargetInstanceID: st.InstanceID,
		TargetPassword:   password,
	}
	if e := p.export; e != nil {
		req.BackupID, req.Bucket, req.Files = "", e.bucket, e.files
	}
	task, err := p.api.CreateImportTask(ctx, req)
	if err != nil {
		return p.startFailed(ctx, fmt.Sprintf("importing backup %s into instance %s", st.BackupID, st.InstanceID), err)
	}
	st.MigrationTaskID = task.ID
	p.accepted("import task " + task.ID)
	if task.State == dcs.ImportFailed {
		return p.applyImportTask(task)
	}
	return restorePoll
}

// targetPassword reads the target's Redis password from the Secret named
// by spec.target.passwordSecretRef, with a direct read (no cache holds it)
// and a logger that drops everything (client-go logs bodies at high
// verbosity). It reports false with a wait when the Secret or key is
// missing.
func (p *restorePass) targetPassword(ctx context.Context) (dcs.Secret, time.Duration, bool) {
	ref := p.rs.Spec.Target.PasswordSecretRef
	if ref == nil {
		return "", 0, true
	}
	quiet := log.IntoContext(ctx, log.FromContext(ctx).WithSink(log.NullLogSink{}))
	secret := &corev1.Secret{}
	err := p.r.secrets.Get(quiet, types.NamespacedName{Namespace: p.rs.Namespace, Name: ref.Name}, secret)
	switch {
	case apierrors.IsNotFound(err):
		p.syncFailed(backupv1alpha1.ReasonCredentialsNotFound, fmt.Sprintf(
			"Secret %q (spec.target.passwordSecretRef.name) not found in namespace %s", ref.Name, p.rs.Namespace))
		return "", blockedRequeue, false
	case err != nil:
		log.FromContext(ctx).Error(err, "reading the target's password Secret", "secret", ref.Name)
		return "", errorBackoff(p.coord().Failed(p.obj, p.rs.UID), errorBackoffBase, errorBackoffLimit), false
	}
	value, ok := secret.Data[ref.Key]
	if !ok {
		p.syncFailed(backupv1alpha1.ReasonCredentialsNotFound, fmt.Sprintf(
			"Secret %q has no key %q (spec.target.passwordSecretRef.key)", ref.Name, ref.Key))
		return "", blockedRequeue, false
	}
	// A password Secret made with --from-file often ends in a newline.
	return dcs.Secret(strings.TrimRight(string(value), "\r\n")), 0, true
}

// pollImport reads the import task and reports its state.
func (p *restorePass) pollImport(ctx context.Context) time.Duration {
	st := &p.rs.Status
	task, err := p.api.ShowImportTask(ctx, st.MigrationTaskID)
	if err != nil {
		if dcs.Classify(err) == dcs.ClassNotFound {
			return p.missing("DCS has no import task " + st.MigrationTaskID)
		}
		return p.dcsFailed(ctx, "reading import task "+st.MigrationTaskID, err)
	}
	p.synced()
	return p.applyImportTask(task)
}

// applyImportTask copies an import task's state into the status.
func (p *restorePass) applyImportTask(task dcs.ImportTask) time.Duration {
	st := &p.rs.Status
	switch task.State {
	case dcs.ImportSucceeded:
		st.Progress = "100.00"
		st.CompletedAt = timeOrNil(task.UpdatedAt)
		return p.succeeded(fmt.Sprintf("import task %s of backup %s into instance %s succeeded", task.ID,
			st.BackupID, st.InstanceID))
	case dcs.ImportFailed:
		st.CompletedAt = timeOrNil(task.UpdatedAt)
		reason := backupv1alpha1.ReasonRestoreFailed
		if looksLikeWrongPassword(task.ErrorMessage) {
			reason = backupv1alpha1.ReasonWrongPassword
		}
		return p.fail(reason, fmt.Sprintf("DCS reports import task %s of backup %s into instance %s ended %s%s",
			task.ID, st.BackupID, st.InstanceID, task.Status, orEmpty(": ", task.ErrorMessage)), "")
	}
	st.Phase = backupv1alpha1.RestorePhaseRestoring
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, backupv1alpha1.ReasonRestoring,
		fmt.Sprintf("DCS is importing backup %s into instance %s (task %s, %s)", st.BackupID, st.InstanceID,
			task.ID, orDefault(task.Status, "pending")))
	p.timed = true
	return restorePoll
}

// looksLikeWrongPassword reads a failed task's message: a wrong password
// that DCS only notices once the task runs fails the task (SPEC.md 14 does
// not say which way it goes) with a message about the password.
func looksLikeWrongPassword(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "password")
}

func orEmpty(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}
