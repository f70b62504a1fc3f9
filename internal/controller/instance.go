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
	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/instance"
)

// instanceKeyFor is the instance a backup spec (or a schedule's template)
// names. An endpoint the operator refuses (plain http) still makes a key: the
// key groups resources, and the connector reports the refusal.
func instanceKeyFor(spec backupv1alpha1.DCSBackupTemplateSpec) instance.Key {
	return instanceKey(spec.Connection, spec.InstanceID)
}

// instanceKey is the key of instance id reached through conn.
func instanceKey(conn backupv1alpha1.Connection, id string) instance.Key {
	endpoint, err := ResolveEndpoint(conn, true)
	if err != nil {
		endpoint = conn.Endpoint
	}
	return instance.Key{Endpoint: endpoint, Project: conn.ProjectID, ID: id}
}

func instanceKeyOf(b *backupv1alpha1.DCSBackup) instance.Key {
	return instanceKeyFor(b.Spec.DCSBackupTemplateSpec)
}
