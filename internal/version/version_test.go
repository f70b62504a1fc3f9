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

package version

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestGetDefaultsWithoutLdflags(t *testing.T) {
	got := Get()
	if got.Version != "dev" || got.Commit != "unknown" || got.Date != "unknown" {
		t.Errorf("Get() = %+v, want the unstamped defaults dev/unknown/unknown", got)
	}
	if got.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want %q", got.GoVersion, runtime.Version())
	}
}

func TestBuildInfoMetric(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(Info{Version: "v1.2.3", Commit: "0123abc", Date: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8"}))

	want := `# HELP dcs_backup_operator_build_info Build information of the running dcs-backup-operator manager; the value is always 1.
# TYPE dcs_backup_operator_build_info gauge
dcs_backup_operator_build_info{commit="0123abc",go_version="go1.26.8",version="v1.2.3"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), BuildInfoMetric); err != nil {
		t.Error(err)
	}
}

func TestKeysAndValuesArePairs(t *testing.T) {
	kv := Get().KeysAndValues()
	if len(kv)%2 != 0 {
		t.Fatalf("odd number of key-value items: %v", kv)
	}
	for i := 0; i < len(kv); i += 2 {
		if _, ok := kv[i].(string); !ok {
			t.Errorf("key %d is %T, want string", i, kv[i])
		}
	}
}
