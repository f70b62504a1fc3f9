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
	"strings"
	"testing"
)

// The child names are a contract with users and tools (kubectl dcs backup
// finds a run's children by them): these are the names the operator has
// always given, pinned.
func TestScheduleChildNames(t *testing.T) {
	cases := []struct{ got, want string }{
		{RunNowRun("1"), "run-6b86b273ff"},
		{RunNowChildName("orders-nightly", "1"), "orders-nightly-run-6b86b273ff"},
		{FleetChildName("prod", RunNowRun("1"), "5560df16-cebf"), "prod-run-6b86b273ff-5560df16-cebf"},
		{FleetChildName("prod", "202611300200", "Inst-A"), "prod-202611300200-inst-a-737fa9"},
		{InstanceNameSuffix("inst-a"), "inst-a"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestScheduleChildNameShortensLongScheduleNames(t *testing.T) {
	long := strings.Repeat("a", 237) + "-" + strings.Repeat("b", 15)
	got := ScheduleChildName(long, RunNowRun("t"))
	if len(got) > maxObjectName || !strings.HasSuffix(got, "-"+RunNowRun("t")) {
		t.Fatalf("%q (%d characters)", got, len(got))
	}
	if strings.Contains(got, "--") {
		t.Fatalf("a trailing dash of the shortened schedule name is trimmed: %q", got)
	}
}
