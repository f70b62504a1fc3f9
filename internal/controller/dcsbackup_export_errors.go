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
	"errors"
	"time"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/export"
	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
)

// exportFailure is a failed copy as the Exported condition shows it.
type exportFailure struct {
	reason string
	// permanent failures end the export Failed; the others are tried
	// again after backoff(attempts).
	permanent   bool
	base, limit time.Duration
}

// classifyExport maps the error of a copy to a reason. The DCS side goes
// through errorRules like every DCS call of the operator; the storage side
// through objectstore's classes; a download link's answer through its
// status.
func classifyExport(err error) exportFailure {
	var (
		conflict *export.ConflictError
		size     *export.SizeError
		download *export.DownloadError
	)
	switch {
	case errors.As(err, &conflict):
		return exportFailure{reason: backupv1alpha1.ReasonExportConflict, permanent: true}
	case errors.As(err, &size):
		return exportFailure{reason: backupv1alpha1.ReasonSizeMismatch, permanent: true}
	case errors.Is(err, export.ErrNoFiles):
		return exportFailure{reason: backupv1alpha1.ReasonExportFailed, permanent: true}
	case errors.As(err, &download) && download.Gone():
		return exportFailure{reason: backupv1alpha1.ReasonBackupGone, permanent: true}
	case errors.As(err, &download) && download.Permanent():
		return exportFailure{reason: backupv1alpha1.ReasonExportFailed, permanent: true}
	case errors.As(err, &download):
		return exportFailure{reason: backupv1alpha1.ReasonExportRetrying, base: errorBackoffBase, limit: errorBackoffLimit}
	}
	var se *objectstore.Error
	if errors.As(err, &se) {
		return classifyStoreFailure(se)
	}
	return classifyLinksFailure(err)
}

// classifyStoreFailure: a bucket that refuses the credentials or is gone
// waits for a person; anything else is tried again soon.
func classifyStoreFailure(se *objectstore.Error) exportFailure {
	switch se.Class {
	case objectstore.ClassUnauthorized, objectstore.ClassNoSuchBucket, objectstore.ClassInvalid:
		return exportFailure{reason: backupv1alpha1.ReasonStorageNotReady, base: userFixBackoffBase, limit: errorBackoffLimit}
	}
	return exportFailure{reason: backupv1alpha1.ReasonExportRetrying, base: errorBackoffBase, limit: errorBackoffLimit}
}

// classifyLinksFailure classifies a failed links call to DCS.
func classifyLinksFailure(err error) exportFailure {
	if dcs.IsBackupGone(err) || dcsCode(err) == "DCS.4087" {
		// The backup was deleted, expired or evicted (DCS keeps 24 per
		// instance) before it was copied.
		return exportFailure{reason: backupv1alpha1.ReasonBackupGone, permanent: true}
	}
	if class := dcs.Classify(err); class != dcs.ClassNone && class != dcs.ClassCanceled {
		rule, ok := errorRules[class]
		if !ok {
			rule = errorRules[dcs.ClassTerminal]
		}
		return exportFailure{reason: rule.reason, base: rule.base, limit: rule.limit}
	}
	return exportFailure{reason: backupv1alpha1.ReasonExportRetrying, base: errorBackoffBase, limit: errorBackoffLimit}
}
