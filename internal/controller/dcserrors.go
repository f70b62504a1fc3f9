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
	"fmt"
	"time"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// Error backoff bounds.
const (
	errorBackoffBase  = time.Second
	errorBackoffLimit = 5 * time.Minute
	busyBackoffBase   = 5 * time.Second
	busyBackoffLimit  = time.Minute
	// userFixBackoffBase is the first retry of a failure only a person can
	// fix (credentials, instance ID): retrying every second would only
	// fill the log and the API gateway's counters.
	userFixBackoffBase = 30 * time.Second
)

// errorRule is how one class of DCS error shows on a resource and how long
// the resource waits before trying again. Every controller reads this one
// table, so a busy instance, say, shows the same reason on a backup, a
// schedule and a restore.
type errorRule struct {
	// reason is the Synced (backups, restores) or Ready (schedules)
	// condition reason.
	reason string
	// hint tells a person what to check; %[1]s is the resource's field
	// path to the instance ID, %[2]s to the connection, %[3]s the
	// credentials Secret's name. Empty when there is nothing to check.
	hint string
	// base and limit bound the exponential backoff.
	base, limit time.Duration
	// userFix marks failures that only a person can fix: a schedule skips
	// its runs while one lasts.
	userFix bool
	// passes marks failures that end by themselves (throttling, DCS 5xx
	// and timeouts, a busy instance): a Ready schedule stays Ready through
	// them unless they last (transientGrace).
	passes bool
}

// errorRules maps every class of dcs.Classify to its rule. ClassNone and
// ClassCanceled are not failures and have no rule.
var errorRules = map[dcs.Class]errorRule{
	dcs.ClassThrottled: {reason: backupv1alpha1.ReasonThrottled,
		hint: "the API gateway throttles the account's requests; the operator waits as long as it asks",
		base: errorBackoffBase, limit: errorBackoffLimit, passes: true},
	dcs.ClassBusy: {reason: backupv1alpha1.ReasonInstanceBusy,
		hint: "the instance runs another operation (console, automatic backup, restore); the operator waits for it",
		base: busyBackoffBase, limit: busyBackoffLimit, passes: true},
	dcs.ClassTransient: {reason: backupv1alpha1.ReasonAPIError,
		base: errorBackoffBase, limit: errorBackoffLimit, passes: true},
	dcs.ClassUnauthorized: {reason: backupv1alpha1.ReasonUnauthorized,
		hint: "check the access key pair in Secret %[3]s and %[2]s.projectID",
		base: userFixBackoffBase, limit: errorBackoffLimit, userFix: true},
	dcs.ClassNotFound: {reason: backupv1alpha1.ReasonInstanceNotFound,
		hint: "check %[1]s and %[2]s",
		base: userFixBackoffBase, limit: errorBackoffLimit, userFix: true},
	dcs.ClassUnsupported: {reason: backupv1alpha1.ReasonInstanceNotSupported,
		hint: "DCS cannot back up or restore this instance (single-node instances cannot be backed up); check %[1]s",
		base: errorBackoffLimit, limit: errorBackoffLimit, userFix: true},
	dcs.ClassTerminal: {reason: backupv1alpha1.ReasonAPIError,
		base: 10 * errorBackoffBase, limit: errorBackoffLimit},
}

// fieldPaths name, for hints, where a resource keeps what a person would
// check: the instance ID, the connection and the credentials Secret.
type fieldPaths struct {
	instanceID string
	connection string
	secret     string
}

// dcsFailure is a failed DCS call as a resource shows it.
type dcsFailure struct {
	errorRule
	message string
	// retryAfter is the wait the gateway asked for (429), 0 if none.
	retryAfter time.Duration
}

// classifyFailure looks a failed call up in errorRules: what is the
// action that failed ("creating the backup"), err the error.
func classifyFailure(what string, err error, f fieldPaths) dcsFailure {
	rule, ok := errorRules[dcs.Classify(err)]
	if !ok {
		rule = errorRules[dcs.ClassTerminal]
	}
	msg := what + ": " + err.Error()
	if rule.hint != "" {
		msg += "; " + fmt.Sprintf(rule.hint, f.instanceID, f.connection, f.secret)
	}
	return dcsFailure{errorRule: rule, message: msg, retryAfter: dcs.RetryAfter(err)}
}

// backoff is the wait after the n-th failure in a row of this kind.
func (f dcsFailure) backoff(n int) time.Duration {
	return max(errorBackoff(n, f.base, f.limit), f.retryAfter)
}
