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
	"io"
	"strings"
	"sync"
	"time"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// loseCreateAnswerMarker in a DCSBackup's remark makes the test connector
// perform the first create call of that backup and then lose DCS's answer,
// as if the manager died right after the POST: the backup exists in DCS but
// the operator never saw its ID.
const loseCreateAnswerMarker = "test:lose-create-answer"

// loseRestoreAnswerMarker does the same for the restore call of a
// DCSRestore (in its remark).
const loseRestoreAnswerMarker = "test:lose-restore-answer"

// hookConnector wraps the real connector with test hooks.
type hookConnector struct {
	inner Connector

	mu   sync.Mutex
	lost map[string]bool // remarks whose create answer was already lost
}

func (h *hookConnector) Connect(ctx context.Context, ns string, conn backupv1alpha1.Connection) (dcs.API, error) {
	api, err := h.inner.Connect(ctx, ns, conn)
	if err != nil {
		return nil, err
	}
	return &hookAPI{API: api, h: h}, nil
}

type hookAPI struct {
	dcs.API
	h *hookConnector
}

func (a *hookAPI) CreateBackup(ctx context.Context, instanceID string, req dcs.CreateBackupRequest) (string, error) {
	id, err := a.API.CreateBackup(ctx, instanceID, req)
	if err != nil || !strings.Contains(req.Remark, loseCreateAnswerMarker) {
		return id, err
	}
	a.h.mu.Lock()
	defer a.h.mu.Unlock()
	if a.h.lost == nil {
		a.h.lost = map[string]bool{}
	}
	if a.h.lost[req.Remark] {
		return id, nil
	}
	a.h.lost[req.Remark] = true
	return "", &dcs.Error{Operation: "create backup", Err: io.ErrUnexpectedEOF}
}

func (a *hookAPI) RestoreBackup(ctx context.Context, instanceID, backupID, remark string) (string, error) {
	id, err := a.API.RestoreBackup(ctx, instanceID, backupID, remark)
	if err != nil || !strings.Contains(remark, loseRestoreAnswerMarker) || !a.h.loseOnce(remark) {
		return id, err
	}
	return "", &dcs.Error{Operation: "restore", Err: io.ErrUnexpectedEOF}
}

// loseOnce reports true the first time it sees key.
func (h *hookConnector) loseOnce(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost == nil {
		h.lost = map[string]bool{}
	}
	if h.lost[key] {
		return false
	}
	h.lost[key] = true
	return true
}

// expireLinksOf holds, per instance ID, a function the test connector
// calls once right after it handed out that instance's download links: a
// spec makes them expire before the copy uses them.
var expireLinksOf sync.Map

func (a *hookAPI) ListBackupFileLinks(ctx context.Context, instanceID, backupID string, expiration time.Duration) (dcs.BackupFiles, error) {
	files, err := a.API.ListBackupFileLinks(ctx, instanceID, backupID, expiration)
	if f, ok := expireLinksOf.LoadAndDelete(instanceID); ok && err == nil {
		f.(func())()
	}
	return files, err
}
