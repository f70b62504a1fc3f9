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
	"regexp"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/export"
	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
)

// exportPruneInterval is how often a schedule reads its exports from the
// bucket at most, besides right after a child's export ended: each read
// is a list and a GET per export.
const exportPruneInterval = 5 * time.Minute

// dcsBackupCap is DCS's limit of backups per instance, automatic and manual
// together: the 25th evicts the oldest (SPEC.md 17).
const dcsBackupCap = 24

// pruneExports applies spec.exportRetention to the schedule's exports in
// the bucket. The bucket is the catalogue: exports are what its folders'
// manifests say, whether or not their DCSBackups still exist, so pruning a
// DCSBackup (or losing the cluster) never loses track of an export.
func (p *schedulePass) pruneExports(ctx context.Context) {
	s := p.s
	if s.Spec.ExportRetention == nil || s.Spec.Template.Spec.Export == nil {
		return
	}
	if wait := p.untilExportPrune(); wait > 0 {
		p.retry = minPositive(p.retry, wait)
		return
	}
	store, ok := p.exportStore(ctx)
	if !ok {
		return
	}
	entries, err := p.readExports(ctx, store)
	if err != nil {
		log.FromContext(ctx).V(1).Info("reading the schedule's exports", "error", err.Error())
		p.retry = minPositive(p.retry, exportPruneInterval)
		return
	}
	// A fleet keeps exportRetention's numbers for each instance, as it
	// keeps retention's: one busy instance never pushes out another's.
	groups := map[string][]export.Entry{}
	for _, e := range entries {
		groups[e.instance] = append(groups[e.instance], e.Entry)
	}
	deleted, toDelete, incomplete, kept := 0, 0, 0, 0
	for _, group := range groups {
		plan := export.PlanRetention(group, exportPolicy(s.Spec.ExportRetention), p.now, p.cron.loc)
		toDelete += len(plan.Delete)
		incomplete += len(plan.Incomplete)
		kept += len(plan.Keep)
		for _, folder := range append(plan.Delete, plan.Incomplete...) {
			if err := deleteExport(ctx, store, folder); err != nil {
				log.FromContext(ctx).Error(err, "deleting an export", "folder", folder)
				break
			}
			deleted++
		}
	}
	if deleted > 0 {
		p.out.event(false, "ExportsPruned", fmt.Sprintf("deleted %d export(s) from the bucket by exportRetention "+
			"(%d complete, %d incomplete older than %s); %d kept", deleted, toDelete, incomplete,
			export.IncompleteGrace, kept))
	}
	p.s.Status.ExportsKept = ptrTo(int32(kept))
	p.s.Status.LastExportPruneTime = &metav1.Time{Time: p.now}
	p.retry = minPositive(p.retry, exportPruneInterval)
}

func ptrTo[T any](v T) *T { return &v }

// untilExportPrune is the wait before the next read of the bucket: none
// when a child's export ended since the last one.
func (p *schedulePass) untilExportPrune() time.Duration {
	last := p.s.Status.LastExportPruneTime
	if last == nil {
		return 0
	}
	for i := range p.children {
		// Not before: status times are whole seconds, so an export that
		// ended in the second of the last read may not be in it.
		if e := p.children[i].Status.Export; e != nil && e.CompletedAt != nil && !e.CompletedAt.Before(last) {
			return 0
		}
	}
	return last.Add(exportPruneInterval).Sub(p.now)
}

// exportStore connects to the template's storage, when it is ready.
func (p *schedulePass) exportStore(ctx context.Context) (objectstore.Store, bool) {
	name := p.s.Spec.Template.Spec.Export.StorageRef.Name
	st := &backupv1alpha1.DCSBackupStorage{}
	if err := p.r.deps.Client.Get(ctx, types.NamespacedName{Namespace: p.s.Namespace, Name: name}, st); err != nil {
		if !apierrors.IsNotFound(err) {
			log.FromContext(ctx).Error(err, "reading the export storage", "storage", name)
		}
		p.retry = minPositive(p.retry, exportPruneInterval)
		return nil, false
	}
	if c := storageReady(st); c == nil || c.Status != metav1.ConditionTrue {
		p.retry = minPositive(p.retry, exportPruneInterval)
		return nil, false
	}
	store, err := p.r.deps.Stores.Connect(ctx, p.s.Namespace, st.Spec)
	if err != nil {
		p.retry = minPositive(p.retry, exportPruneInterval)
		return nil, false
	}
	return store, true
}

// exportFolder is one folder of the schedule's exports as listed.
type exportFolder struct {
	key      string
	name     string
	manifest bool
	newest   time.Time
}

// instanceExport is an export with the instance it is of: for a fleet,
// retention counts each instance's exports apart.
type instanceExport struct {
	export.Entry
	instance string
}

// readExports lists the schedule's export folders: those of its children's
// names whose manifest names the schedule (complete), and those of its
// children's names without a manifest (incomplete, dated by their newest
// object) unless the child is still copying into it.
func (p *schedulePass) readExports(ctx context.Context, store objectstore.Store) ([]instanceExport, error) {
	folders, err := p.listExportFolders(ctx, store)
	if err != nil {
		return nil, err
	}
	copying := map[string]bool{}
	for i := range p.children {
		if c := &p.children[i]; c.Spec.Export != nil && !exportFinished(c) {
			copying[export.Folder(c.Namespace, c.Name)] = true
		}
	}
	entries := make([]instanceExport, 0, len(folders))
	for _, f := range folders {
		switch {
		case !f.manifest && copying[f.key]:
			// A copy under way: its files land before its manifest.
		case !f.manifest:
			entries = append(entries, instanceExport{Entry: export.Entry{Folder: f.key, Time: f.newest},
				instance: p.childInstance(f.name)})
		default:
			e, mine, err := p.readManifest(ctx, store, f.key)
			if err != nil {
				return nil, err
			}
			if mine {
				entries = append(entries, e)
			}
		}
	}
	return entries, nil
}

// listExportFolders groups the objects under the namespace's folder by the
// child folder they are in, keeping the folders of this schedule's names.
func (p *schedulePass) listExportFolders(ctx context.Context, store objectstore.Store) ([]*exportFolder, error) {
	nsPrefix := p.s.Namespace + "/"
	objs, err := store.List(ctx, nsPrefix)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*exportFolder{}
	var out []*exportFolder
	for _, o := range objs {
		name, file, ok := strings.Cut(strings.TrimPrefix(o.Key, nsPrefix), "/")
		if !ok || !p.isChildName(name) {
			continue
		}
		key := export.Folder(p.s.Namespace, name)
		f := byKey[key]
		if f == nil {
			f = &exportFolder{key: key, name: name}
			byKey[key] = f
			out = append(out, f)
		}
		f.manifest = f.manifest || file == export.ManifestName
		if o.LastModified.After(f.newest) {
			f.newest = o.LastModified
		}
	}
	return out, nil
}

// readManifest reads a complete export; it reports false for one that
// another schedule made (a name that merely starts like this schedule's).
// A manifest that cannot be parsed is left alone: not counted, not deleted.
func (p *schedulePass) readManifest(ctx context.Context, store objectstore.Store, folder string) (instanceExport, bool, error) {
	data, err := store.Get(ctx, folder+export.ManifestName)
	if objectstore.IsNotFound(err) {
		return instanceExport{}, false, nil
	}
	if err != nil {
		return instanceExport{}, false, err
	}
	m, err := export.ParseManifest(data)
	if err != nil || m.Source.Schedule != p.s.Name {
		return instanceExport{}, false, nil
	}
	e := instanceExport{Entry: export.Entry{Folder: folder, Complete: true, Time: m.Time()}}
	if isFleet(p.s) {
		e.instance = instanceSuffix(m.Backup.InstanceID)
	}
	return e, true, nil
}

// childNamePattern matches the suffixes of a schedule's children: a slot
// (yyyymmddhhmm) or a run-now token (run- and 10 hex digits), followed for
// a fleet by the instance (see fleetChildName).
var (
	childNamePattern      = regexp.MustCompile(`^([0-9]{12}|run-[0-9a-f]{10})$`)
	fleetChildNamePattern = regexp.MustCompile(`^([0-9]{12}|run-[0-9a-f]{10})-([a-z0-9][a-z0-9-]*)$`)
)

func (p *schedulePass) isChildName(name string) bool {
	rest, ok := strings.CutPrefix(name, p.s.Name+"-")
	if isFleet(p.s) {
		return ok && fleetChildNamePattern.MatchString(rest)
	}
	return ok && childNamePattern.MatchString(rest)
}

// childInstance is the instance part of a fleet child's name, as in
// instanceSuffix; "" for a schedule of one instance.
func (p *schedulePass) childInstance(name string) string {
	if !isFleet(p.s) {
		return ""
	}
	m := fleetChildNamePattern.FindStringSubmatch(strings.TrimPrefix(name, p.s.Name+"-"))
	if m == nil {
		return ""
	}
	return m[2]
}

// deleteExport deletes a folder: the manifest first, so that a deletion
// cut short leaves a folder that reads as incomplete, never a manifest
// that names missing files.
func deleteExport(ctx context.Context, store objectstore.Store, folder string) error {
	if err := store.Delete(ctx, folder+export.ManifestName); err != nil {
		return err
	}
	objs, err := store.List(ctx, folder)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	if len(keys) == 0 {
		return nil
	}
	return store.Delete(ctx, keys...)
}

func exportPolicy(r *backupv1alpha1.ExportRetention) export.Policy {
	n := func(v *int32) int {
		if v == nil {
			return 0
		}
		return int(*v)
	}
	p := export.Policy{KeepLast: n(r.KeepLast), KeepDaily: n(r.KeepDaily), KeepWeekly: n(r.KeepWeekly),
		KeepMonthly: n(r.KeepMonthly)}
	if r.MaxAge != nil {
		p.MaxAge = r.MaxAge.Duration
	}
	return p
}

// dcsCapAdvice is the part of the Ready message about DCS's cap of 24
// backups per instance: retention.keepLast plus the run under way cannot
// all stay in DCS, which deletes the oldest. Ready stays True: the schedule
// runs, it just keeps fewer backups in DCS than it says.
func (p *schedulePass) dcsCapAdvice() string {
	r := p.s.Spec.Retention
	if r == nil || r.KeepLast == nil || int(*r.KeepLast)+1 <= dcsBackupCap {
		return ""
	}
	return fmt.Sprintf("; note: retention.keepLast %d cannot fit: DCS keeps at most %d backups per instance "+
		"(automatic and manual together) and deletes the oldest beyond that, so at most %d of this schedule's backups "+
		"stay in DCS; to keep more, export them (spec.template.spec.export) and keep them in the bucket with "+
		"spec.exportRetention", *r.KeepLast, dcsBackupCap, dcsBackupCap-1)
}
