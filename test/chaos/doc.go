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

// Package chaos holds the operator's reliability tests: the manager, built
// from the checkout, runs as a real process against a real kube-apiserver
// and etcd and the DCS simulator, and the tests crash it, fail over its
// leader and break the cloud under it.
//
//   - TestChaos/kills: DCSBackups over many instances plus schedules with
//     run-now triggers, the simulator binary with random faults (5xx, 429
//     with Retry-After, latency, lost create answers), and the manager
//     SIGKILLed at random moments and restarted. At the end every backup
//     has succeeded, the simulator holds exactly one backup per resource,
//     and every run-now token made exactly one child.
//   - TestChaos/leader: the same with two manager replicas and leader
//     election; the leader is SIGKILLed mid-run and the standby takes over.
//   - TestChaos/faults: each cloud fault class alone and mixed (5xx, 429,
//     timeouts, connection refused, busy instance, clock skew, expired
//     security token): the Synced reason, the request count while the
//     fault lasts, and recovery once it ends.
//   - TestChaos/restart: how soon a restarted manager serves a backup that
//     holds its instance (its create intent recorded before the crash)
//     when many finished backups are listed before it.
//   - TestChaos/exportkill: DCSBackups with spec.export of large cluster
//     backups, their download links served slowly, copied into a versitygw
//     bucket; the manager SIGKILLed mid-file and right after a manifest
//     was written. A manifest must only ever exist for a complete copy; at
//     the end each backup has one complete export with the bytes DCS
//     serves, and no multipart upload is left open.
//
// The scale comes from CHAOS_SCALE: "reduced" (the default, what `make
// test` runs, a few minutes) or "full" (`make chaos`). See scale_test.go
// scaleFromEnv for the knobs that override single numbers. The tests need
// KUBEBUILDER_ASSETS, and exportkill VERSITYGW (both set by `make test` and
// `make chaos`).
package chaos
