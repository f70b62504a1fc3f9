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
	"sort"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// defaultFailedHistory is failedBackupsHistoryLimit when unset (the CRD
// defaults it too).
const defaultFailedHistory = 3

// retentionPlan returns the children to prune, given children sorted newest
// first:
//   - succeeded children beyond keepLast, or older than maxAge, except the
//     newest succeeded and restorable one, which is never pruned;
//   - failed (or expired, deleted) children beyond failedLimit, except the
//     latest finished child, whose error stays visible until a newer run ends.
//
// Running children and children already being deleted are never touched.
func retentionPlan(children []backupv1alpha1.DCSBackup, keepLast *int32, maxAge *time.Duration, failedLimit int,
	now time.Time) []*backupv1alpha1.DCSBackup {
	var succeeded, failed []*backupv1alpha1.DCSBackup
	var latestFinished *backupv1alpha1.DCSBackup
	for i := range children {
		c := &children[i]
		if !isTerminalPhase(c.Status.Phase) || !c.DeletionTimestamp.IsZero() {
			continue
		}
		if latestFinished == nil {
			latestFinished = c
		}
		if c.Status.Phase == backupv1alpha1.PhaseSucceeded {
			succeeded = append(succeeded, c)
		} else {
			failed = append(failed, c)
		}
	}
	sort.SliceStable(succeeded, func(i, j int) bool { return completedAt(succeeded[i]).After(completedAt(succeeded[j])) })

	var prune []*backupv1alpha1.DCSBackup
	protected := newestRestorable(succeeded)
	for i, c := range succeeded {
		tooMany := keepLast != nil && i >= int(*keepLast)
		tooOld := maxAge != nil && now.Sub(completedAt(c)) > *maxAge
		if (tooMany || tooOld) && c != protected {
			prune = append(prune, c)
		}
	}
	for i, c := range failed {
		if i >= failedLimit && c != latestFinished {
			prune = append(prune, c)
		}
	}
	return prune
}

func newestRestorable(succeeded []*backupv1alpha1.DCSBackup) *backupv1alpha1.DCSBackup {
	for _, c := range succeeded {
		if c.Status.Restorable {
			return c
		}
	}
	return nil
}

// prune deletes the children the retention policy lets go, with their cloud
// backups.
func (p *schedulePass) prune(ctx context.Context) { p.pruneChildren(ctx, p.children) }

// pruneChildren applies the retention policy to children (of one
// instance), newest first.
func (p *schedulePass) pruneChildren(ctx context.Context, children []backupv1alpha1.DCSBackup) {
	spec := p.s.Spec
	var keepLast *int32
	var maxAge *time.Duration
	if spec.Retention != nil {
		keepLast = spec.Retention.KeepLast
		if spec.Retention.MaxAge != nil {
			maxAge = &spec.Retention.MaxAge.Duration
		}
	}
	failedLimit := defaultFailedHistory
	if spec.FailedBackupsHistoryLimit != nil {
		failedLimit = int(*spec.FailedBackupsHistoryLimit)
	}
	for _, c := range retentionPlan(children, keepLast, maxAge, failedLimit, p.now) {
		if err := p.r.pruneChild(ctx, p.s, c); err != nil {
			log.FromContext(ctx).Error(err, "pruning a backup", "backup", c.Name)
			p.fail(errorBackoffBase, errorBackoffLimit)
			continue
		}
		// The deletion is the write that records the pruning, and a retried
		// pass does not prune (nor announce) a child being deleted again:
		// the event goes out now.
		p.r.deps.Recorder.Eventf(p.s, nil, "Normal", "BackupPruned", "Schedule",
			"deleted DCSBackup %s (%s) and its DCS backup %s by the retention policy", c.Name, c.Status.Phase, c.Status.BackupID)
	}
}

// pruneChild deletes a child and its cloud backup: deletionPolicy Delete and
// the finalizer go on first, in one write, so the DCSBackup controller
// deletes the cloud backup before the object goes.
func (r *DCSBackupScheduleReconciler) pruneChild(ctx context.Context, s *backupv1alpha1.DCSBackupSchedule,
	c *backupv1alpha1.DCSBackup) error {
	orig := c.DeepCopy()
	c.Spec.DeletionPolicy = backupv1alpha1.DeletionPolicyDelete
	controllerutil.AddFinalizer(c, backupv1alpha1.Finalizer)
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[backupv1alpha1.AnnotationPrunedBy] = s.Name
	if err := r.deps.Client.Patch(ctx, c, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return client.IgnoreNotFound(err)
	}
	return client.IgnoreNotFound(r.deps.Client.Delete(ctx, c))
}
