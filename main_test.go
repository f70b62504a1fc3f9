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

package main

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestLeaderElectionTimings(t *testing.T) {
	var defaults leaderElectionTimings
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	defaults.bindFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	// controller-runtime's own defaults (pkg/manager/internal.go).
	if want := (leaderElectionTimings{15 * time.Second, 10 * time.Second, 2 * time.Second}); defaults != want {
		t.Errorf("defaults = %+v, want controller-runtime's %+v", defaults, want)
	}
	if err := defaults.validate(); err != nil {
		t.Errorf("the defaults are invalid: %v", err)
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"longer lease for a slow API server", []string{"--leader-election-lease-duration=60s",
			"--leader-election-renew-deadline=40s", "--leader-election-retry-period=5s"}, ""},
		{"renew deadline not below the lease", []string{"--leader-election-renew-deadline=15s"},
			"--leader-election-lease-duration (15s) must be greater than --leader-election-renew-deadline (15s)"},
		{"retry period too close to the renew deadline", []string{"--leader-election-retry-period=9s"},
			"--leader-election-renew-deadline (10s) must be greater than 1.2 x --leader-election-retry-period (9s)"},
		{"no retry period", []string{"--leader-election-retry-period=0s"}, "--leader-election-retry-period (0s) must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var timings leaderElectionTimings
			fs := flag.NewFlagSet("manager", flag.ContinueOnError)
			timings.bindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := timings.validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
