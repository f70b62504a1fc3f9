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
	"errors"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/export"
	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
)

// Requeue intervals of the export controller.
const (
	// exportSafetyNet is the look at a copy under way: the runner wakes the
	// backup when the copy ends, this only covers a lost wake-up.
	exportSafetyNet = 5 * time.Minute
	// runnerStartRequeue waits for the runner, which starts with the
	// controllers once the manager is the leader.
	runnerStartRequeue = time.Second
	// linkExpiration is the lifetime asked of download links: long enough
	// for a large file, short enough that a leaked link soon stops working.
	// Links that expire during a copy are renewed.
	linkExpiration = time.Hour
)

// DCSBackupExportReconciler copies succeeded DCSBackups with spec.export
// into their DCSBackupStorage. It never copies inside Reconcile: it records
// the intent (status.export.startedAt), hands a job to the Runner, and
// records the result the Runner reports when the job ends.
type DCSBackupExportReconciler struct {
	deps   Dependencies
	runner *export.Runner
	// allowInsecure lets copies follow plain-http download links.
	allowInsecure bool
	// httpClient downloads the links.
	httpClient *http.Client
}

// NewDCSBackupExportReconciler returns the export reconciler.
func NewDCSBackupExportReconciler(d Dependencies, runner *export.Runner, allowInsecure bool) *DCSBackupExportReconciler {
	return &DCSBackupExportReconciler{deps: d, runner: runner, allowInsecure: allowInsecure,
		httpClient: &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: time.Minute,
			TLSHandshakeTimeout:   10 * time.Second,
			MaxIdleConnsPerHost:   4,
		}}}
}

// Reconcile is a short dispatcher: backups without spec.export, finished
// exports and deletions return early; the rest go through exportPass.
// Deleting a DCSBackup never deletes its export, and a copy under way
// finishes: the bucket is the catalogue.
func (r *DCSBackupExportReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &backupv1alpha1.DCSBackup{}
	if err := r.deps.Client.Get(ctx, req.NamespacedName, b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if b.Spec.Export == nil || !b.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	p := &exportPass{r: r, orig: b.DeepCopy(), b: b, now: r.deps.Clock.Now()}
	wait := p.run(ctx)
	if ok, res, err := writeStatus(ctx, r.deps.Client, p.orig, b, &p.orig.Status, &b.Status); !ok {
		return res, err
	}
	p.out.flush(r.deps.Recorder, b, "Export")
	return ctrl.Result{RequeueAfter: wait}, nil
}

// exportPass is one reconcile of one backup's export.
type exportPass struct {
	r       *DCSBackupExportReconciler
	orig, b *backupv1alpha1.DCSBackup
	now     time.Time
	out     effects
	storage *backupv1alpha1.DCSBackupStorage
}

func (p *exportPass) st() *backupv1alpha1.ExportStatus { return p.b.Status.Export }

// run takes the export through its steps and returns when to look again.
func (p *exportPass) run(ctx context.Context) time.Duration {
	p.init()
	if ph := p.st().Phase; ph == backupv1alpha1.ExportPhaseSucceeded || ph == backupv1alpha1.ExportPhaseFailed {
		return 0
	}
	if ok := p.backupReady(); !ok {
		return 0
	}
	if wait, ok := p.resolveStorage(ctx); !ok {
		return wait
	}
	state := p.r.runner.Lookup(p.b.UID)
	switch {
	case state.Queued || state.Running:
		p.copying(state)
		return exportSafetyNet
	case state.Result != nil:
		if wait, done := p.record(*state.Result); done {
			return wait
		}
	}
	return p.start(ctx)
}

// init gives the backup its export status and Exported condition on the
// first visit.
func (p *exportPass) init() {
	b := p.b
	if b.Status.Export == nil {
		b.Status.Export = &backupv1alpha1.ExportStatus{Phase: backupv1alpha1.ExportPhasePending}
	}
	st := b.Status.Export
	st.Storage = b.Spec.Export.StorageRef.Name
	st.Path = export.Folder(b.Namespace, b.Name)
	if meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionExported) == nil {
		p.setExported(metav1.ConditionUnknown, backupv1alpha1.ReasonExportPending,
			"the backup is copied to DCSBackupStorage "+st.Storage+" once it succeeded")
	}
}

func (p *exportPass) setExported(status metav1.ConditionStatus, reason, msg string) {
	setCondition(&p.b.Status.Conditions, p.b.Generation, p.now, backupv1alpha1.ConditionExported, status, reason, msg)
	p.st().Message = msg
}

// wait shows an export waiting, with a warning event when the reason is
// new (something a person may have to fix).
func (p *exportPass) wait(status metav1.ConditionStatus, reason, msg string, warn bool) {
	old := meta.FindStatusCondition(p.orig.Status.Conditions, backupv1alpha1.ConditionExported)
	if warn && (old == nil || old.Reason != reason) {
		p.out.event(true, reason, msg)
	}
	if p.st().Phase != backupv1alpha1.ExportPhaseCopying {
		p.st().Phase = backupv1alpha1.ExportPhasePending
	}
	p.setExported(status, reason, msg)
}

// backupReady reports whether the backup succeeded; one that ended
// otherwise ends the export.
func (p *exportPass) backupReady() bool {
	b := p.b
	switch {
	case b.Status.Phase == backupv1alpha1.PhaseSucceeded:
		return true
	case isTerminalPhase(b.Status.Phase):
		p.fail(backupv1alpha1.ReasonBackupGone, fmt.Sprintf("the backup ended %s before it was exported: %s",
			b.Status.Phase, succeededMessage(b)))
		return false
	}
	p.wait(metav1.ConditionUnknown, backupv1alpha1.ReasonWaitingForBackup, fmt.Sprintf(
		"waiting for the backup to succeed (it is %s)", orDefault(string(b.Status.Phase), string(backupv1alpha1.PhasePending))), false)
	return false
}

// resolveStorage reads the DCSBackupStorage; a missing or not-ready one is
// waited for (the watch on storages wakes the backup).
func (p *exportPass) resolveStorage(ctx context.Context) (time.Duration, bool) {
	name := p.b.Spec.Export.StorageRef.Name
	st := &backupv1alpha1.DCSBackupStorage{}
	err := p.r.deps.Client.Get(ctx, types.NamespacedName{Namespace: p.b.Namespace, Name: name}, st)
	switch {
	case apierrors.IsNotFound(err):
		p.wait(metav1.ConditionFalse, backupv1alpha1.ReasonStorageNotFound, fmt.Sprintf(
			"DCSBackupStorage %q (spec.export.storageRef.name) does not exist in namespace %s; the export starts "+
				"when it does", name, p.b.Namespace), true)
		return blockedRequeue, false
	case err != nil:
		log.FromContext(ctx).Error(err, "reading the DCSBackupStorage", "storage", name)
		return errorBackoffBase, false
	}
	p.storage = st
	p.st().Bucket = st.Spec.Bucket
	if c := storageReady(st); c == nil || c.Status != metav1.ConditionTrue {
		msg := fmt.Sprintf("DCSBackupStorage %s is not ready", name)
		if c != nil {
			msg += fmt.Sprintf(" (%s: %s)", c.Reason, c.Message)
		}
		p.wait(metav1.ConditionFalse, backupv1alpha1.ReasonStorageNotReady, msg+"; the export starts when it is", true)
		return blockedRequeue, false
	}
	return 0, true
}

// copying shows a copy under way (or queued for a free slot).
func (p *exportPass) copying(state export.State) {
	st := p.st()
	st.Phase = backupv1alpha1.ExportPhaseCopying
	msg := fmt.Sprintf("copying the backup's files into %s/%s (attempt %d)", st.Bucket, st.Path, st.Attempts)
	if state.Queued {
		msg = "waiting for a free export slot (--max-concurrent-exports) to copy into " + st.Bucket + "/" + st.Path
	}
	p.setExported(metav1.ConditionUnknown, backupv1alpha1.ReasonExportCopying, msg)
}

// record applies a finished job's result. It reports false when the
// export should start (again) now.
func (p *exportPass) record(res export.Result) (time.Duration, bool) {
	uid := p.b.UID
	if res.Err == nil && res.Manifest != nil {
		p.succeeded(res)
		p.out.then(func() { p.r.runner.Forget(uid) })
		return 0, true
	}
	f := classifyExport(res.Err)
	msg := fmt.Sprintf("copy %d failed: %v", p.st().Attempts, res.Err)
	if f.permanent {
		p.fail(f.reason, msg)
		p.out.then(func() { p.r.runner.Forget(uid) })
		return 0, true
	}
	retryAt := res.Ended.Add(errorBackoff(int(p.st().Attempts), f.base, f.limit))
	if wait := time.Until(retryAt); wait > 0 {
		p.st().Phase = backupv1alpha1.ExportPhaseCopying
		p.wait(metav1.ConditionUnknown, f.reason, fmt.Sprintf("%s; trying again in %s", msg, wait.Round(time.Second)),
			true)
		return wait, true
	}
	return 0, false
}

// succeeded records a complete export.
func (p *exportPass) succeeded(res export.Result) {
	st := p.st()
	m := res.Manifest
	st.Phase = backupv1alpha1.ExportPhaseSucceeded
	st.CompletedAt = timeOrNil(m.ExportedAt)
	if st.CompletedAt == nil {
		st.CompletedAt = timeOrNil(p.now)
	}
	prefix := p.storage.Spec.Prefix
	st.Objects = make([]backupv1alpha1.ExportedObject, 0, len(m.Files))
	for _, f := range m.Files {
		st.Objects = append(st.Objects, backupv1alpha1.ExportedObject{Key: prefix + st.Path + f.Name, Size: f.Size, SHA256: f.SHA256})
	}
	reason, result := backupv1alpha1.ReasonExportSucceeded, resultSucceeded
	msg := fmt.Sprintf("exported %d file(s), %d bytes, to %s/%s%s with %s", len(m.Files), m.TotalSize, st.Bucket, prefix,
		st.Path, export.ManifestName)
	if res.Adopted {
		reason, result = backupv1alpha1.ReasonExportAdopted, "adopted"
		msg = fmt.Sprintf("found a complete export of backup %s in %s/%s%s; nothing was copied", m.Backup.ID, st.Bucket,
			prefix, st.Path)
	}
	p.setExported(metav1.ConditionTrue, reason, msg)
	p.out.event(false, reason, msg)
	ns, took := p.b.Namespace, res.Ended.Sub(res.Started)
	p.out.then(func() {
		exportsTotal.WithLabelValues(ns, result).Inc()
		if !res.Adopted && took > 0 {
			exportDuration.Observe(took.Seconds())
		}
	})
}

// fail ends the export: it cannot complete.
func (p *exportPass) fail(reason, msg string) {
	st := p.st()
	before := st.Phase
	st.Phase = backupv1alpha1.ExportPhaseFailed
	if st.CompletedAt == nil {
		st.CompletedAt = timeOrNil(p.now)
	}
	p.setExported(metav1.ConditionFalse, reason, msg)
	if before != backupv1alpha1.ExportPhaseFailed {
		p.out.event(true, reason, msg)
		ns := p.b.Namespace
		p.out.then(func() { exportsTotal.WithLabelValues(ns, resultFailed).Inc() })
	}
}

// start records the intent and hands the copy to the runner. The intent
// is written first, with optimistic locking: a pass from a stale cache
// cannot start a second copy, and after a crash the recorded start tells
// the next copy which multipart uploads of the folder to abort.
func (p *exportPass) start(ctx context.Context) time.Duration {
	b := p.b
	api, err := p.r.deps.Connector.Connect(ctx, b.Namespace, b.Spec.Connection)
	if err != nil {
		reason, _ := connectReason(err)
		p.wait(metav1.ConditionUnknown, orDefault(reason, backupv1alpha1.ReasonAPIError),
			"connecting to DCS for the download links: "+err.Error(), true)
		return blockedRequeue
	}
	store, err := p.r.deps.Stores.Connect(ctx, b.Namespace, p.storage.Spec)
	if err != nil {
		p.wait(metav1.ConditionFalse, backupv1alpha1.ReasonStorageNotReady, fmt.Sprintf(
			"connecting to DCSBackupStorage %s: %v", p.storage.Name, err), true)
		return blockedRequeue
	}
	if err := p.writeIntent(ctx); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return conflictRequeue
		}
		log.FromContext(ctx).Error(err, "recording the export intent")
		return errorBackoffBase
	}
	started, err := p.r.runner.Submit(p.job(api, store))
	if errors.Is(err, export.ErrNotRunning) {
		return runnerStartRequeue
	}
	if started {
		st := p.st()
		p.out.event(false, "ExportStarted", fmt.Sprintf("copying backup %s into %s/%s (attempt %d)", b.Status.BackupID,
			st.Bucket, st.Path, st.Attempts))
	}
	p.copying(export.State{Running: true})
	return exportSafetyNet
}

// writeIntent records the copy's start on the resource before it starts.
func (p *exportPass) writeIntent(ctx context.Context) error {
	st := p.st()
	st.Phase = backupv1alpha1.ExportPhaseCopying
	st.StartedAt = timeOrNil(p.now)
	st.CompletedAt = nil
	st.Attempts++
	p.copying(export.State{Running: true})
	patch := client.MergeFromWithOptions(p.orig, client.MergeFromWithOptimisticLock{})
	if err := p.r.deps.Client.Status().Patch(ctx, p.b, patch); err != nil {
		return err
	}
	p.orig = p.b.DeepCopy()
	return nil
}

// job is the copy of this backup.
func (p *exportPass) job(api dcs.API, store objectstore.Store) export.Job {
	b := p.b
	instanceID, backupID := b.Spec.InstanceID, b.Status.BackupID
	mb := export.ManifestBackup{InstanceID: instanceID, ID: backupID, Name: b.Status.BackupName,
		Format: string(b.Status.Format), Type: b.Status.BackupType, Size: b.Status.Size}
	if t := b.Status.StartedAt; t != nil {
		mb.StartedAt = &t.Time
	}
	if t := b.Status.CompletedAt; t != nil {
		mb.CompletedAt = &t.Time
	}
	return export.Job{
		ID: b.UID, Object: client.ObjectKeyFromObject(b), Store: store, Folder: p.st().Path,
		Links: func(ctx context.Context) (dcs.BackupFiles, error) {
			return api.ListBackupFileLinks(ctx, instanceID, backupID, linkExpiration)
		},
		Manifest: export.Manifest{Backup: mb, Source: export.ManifestSource{Namespace: b.Namespace, Name: b.Name,
			UID: string(b.UID), Schedule: b.Labels[backupv1alpha1.LabelSchedule]}},
		StartedAt: p.st().StartedAt.Time, HTTPClient: p.r.httpClient, AllowInsecure: p.r.allowInsecure,
		Clock: p.r.deps.Clock, Progress: func(n int64) { exportBytesTotal.Add(float64(n)) },
	}
}
