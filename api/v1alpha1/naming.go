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

package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// The names of the DCSBackups a schedule creates are part of the API: they
// make a run idempotent (a retry or a restart finds the child instead of
// making a second one), and tools that start a run with the run-now
// annotation find its children by them. The controller and the kubectl
// plugin both name children with these functions.

// maxObjectName is the longest name of a namespaced custom resource.
const maxObjectName = 253

// ScheduleChildName joins a schedule's name and a suffix (a slot, a
// run-now run, an instance) into a child's name, shortening the schedule's
// name so that the result stays a valid object name.
func ScheduleChildName(schedule, suffix string) string {
	if limit := maxObjectName - len(suffix) - 1; len(schedule) > limit {
		schedule = strings.TrimRight(schedule[:limit], "-.")
	}
	return schedule + "-" + suffix
}

// RunNowRun is the run part of the children's names for one value of the
// run-now annotation: "run-" and the first 10 hex digits of the value's
// SHA-256.
func RunNowRun(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "run-" + hex.EncodeToString(sum[:])[:10]
}

// RunNowChildName is the name of the DCSBackup a single-instance schedule
// makes for a value of the run-now annotation.
func RunNowChildName(schedule, token string) string {
	return ScheduleChildName(schedule, RunNowRun(token))
}

// FleetChildName is the name of the DCSBackup a fleet schedule
// (instanceSelector) makes of one instance in a run: the schedule's name,
// the run (a slot as yyyyMMddHHmm in UTC, or RunNowRun) and the instance.
func FleetChildName(schedule, run, instanceID string) string {
	return ScheduleChildName(schedule, run+"-"+InstanceNameSuffix(instanceID))
}

// InstanceNameSuffix is an instance ID as part of an object name: as it is
// when it is lower case (DCS instance IDs are UUIDs), else lower-cased with
// a hash of the original, so that IDs differing in case stay apart.
func InstanceNameSuffix(id string) string {
	lower := strings.ToLower(id)
	if lower == id {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return lower + "-" + hex.EncodeToString(sum[:])[:6]
}
