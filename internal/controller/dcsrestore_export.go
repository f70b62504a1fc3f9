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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/export"
	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
)

// Restores from an export (spec.source.export) import the files of a
// complete export folder into the target with a backup import task whose
// file source is an OBS bucket (self_build_obs, SPEC.md 14). DCS reads the
// files itself, from a bucket of the target's account and region: on the
// real cloud the storage must be such an OBS bucket.

// exportWait is how often a restore looks again for an export folder that
// has no manifest yet (a copy may be under way).
const exportWait = time.Minute

// restoreExport is the export a pass resolved: its manifest and the files
// as DCS names them.
type restoreExport struct {
	store    objectstore.Store
	folder   string
	manifest *export.Manifest
	bucket   string
	files    []dcs.ImportFile
}

// resolveExport reads the storage and the export's manifest, and takes the
// backup's identity (and the default target) from the manifest.
func (p *restorePass) resolveExport(ctx context.Context) (time.Duration, bool) {
	rs, st := p.rs, &p.rs.Status
	src := rs.Spec.Source.Export
	p.conn = rs.Spec.Source.Connection
	storage := &backupv1alpha1.DCSBackupStorage{}
	err := p.r.deps.Client.Get(ctx, types.NamespacedName{Namespace: rs.Namespace, Name: src.StorageRef.Name}, storage)
	switch {
	case apierrors.IsNotFound(err):
		return p.waitForExport(backupv1alpha1.ReasonStorageNotFound, fmt.Sprintf("DCSBackupStorage %q "+
			"(spec.source.export.storageRef.name) does not exist in namespace %s", src.StorageRef.Name, rs.Namespace)), false
	case err != nil:
		log.FromContext(ctx).Error(err, "reading the DCSBackupStorage of the export")
		return errorBackoff(p.coord().Failed(p.obj, rs.UID), errorBackoffBase, errorBackoffLimit), false
	}
	store, err := p.r.deps.Stores.Connect(ctx, rs.Namespace, storage.Spec)
	if err != nil {
		return p.waitForExport(backupv1alpha1.ReasonStorageNotReady, fmt.Sprintf("DCSBackupStorage %s: %v",
			storage.Name, err)), false
	}
	folder := src.Path
	if !strings.HasSuffix(folder, "/") {
		folder += "/"
	}
	where := fmt.Sprintf("%s/%s%s (spec.source.export.path)", storage.Spec.Bucket, storage.Spec.Prefix, folder)
	data, err := store.Get(ctx, folder+export.ManifestName)
	switch {
	case objectstore.IsNotFound(err):
		return p.waitForExport(backupv1alpha1.ReasonBackupNotFound, "no "+export.ManifestName+" in "+where+
			": no complete export there (yet)"), false
	case err != nil:
		return p.waitForExport(backupv1alpha1.ReasonStorageNotReady, "reading the manifest in "+where+": "+err.Error()), false
	}
	m, err := export.ParseManifest(data)
	if err != nil {
		return p.fail(backupv1alpha1.ReasonBackupNotRestorable, "the manifest in "+where+" cannot be used: "+err.Error(), ""),
			false
	}
	p.export = &restoreExport{store: store, folder: folder, manifest: m, bucket: storage.Spec.Bucket}
	for _, f := range m.Files {
		p.export.files = append(p.export.files, dcs.ImportFile{Name: storage.Spec.Prefix + folder + f.Name, Size: f.Size})
	}
	st.SourceInstanceID, st.BackupID, st.BackupName = m.Backup.InstanceID, m.Backup.ID, m.Backup.Name
	return 0, true
}

// waitForExport shows a restore waiting for its export (a storage or a
// manifest that is not there yet), with an event when the reason is new.
func (p *restorePass) waitForExport(reason, msg string) time.Duration {
	if c := meta.FindStatusCondition(p.orig.Status.Conditions, backupv1alpha1.ConditionSucceeded); c == nil ||
		c.Reason != reason {
		p.out.event(true, reason, msg)
	}
	p.rs.Status.Phase = backupv1alpha1.RestorePhasePending
	p.setCondition(backupv1alpha1.ConditionSucceeded, metav1.ConditionFalse, reason, msg)
	return exportWait
}

// checkExport checks, before the import, that every file of the manifest
// is in the bucket with its size and has a name DCS imports.
func (p *restorePass) checkExport(ctx context.Context) (time.Duration, bool) {
	e := p.export
	complete, err := export.FilesPresent(ctx, e.store, e.folder, e.manifest)
	if err != nil {
		return p.waitForExport(backupv1alpha1.ReasonStorageNotReady, "listing the export's files: "+err.Error()), false
	}
	if !complete {
		return p.fail(backupv1alpha1.ReasonBackupNotRestorable, fmt.Sprintf("the export in %s lacks files its manifest "+
			"names, or they have other sizes", e.folder), ""), false
	}
	for _, f := range e.manifest.Files {
		if !dcs.Importable(f.Name) {
			return p.fail(backupv1alpha1.ReasonBackupNotRestorable, fmt.Sprintf("DCS cannot import file %s of the "+
				"export (it imports .rdb, .aof, .zip and .tar.gz files)", f.Name), ""), false
		}
	}
	return 0, true
}
