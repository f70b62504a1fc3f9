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
	"os"
	"regexp"
	"testing"

	"golang.org/x/mod/modfile"
)

// The README's Dependencies section is what a person scans for known
// vulnerabilities: it must list every direct dependency at the version
// go.mod pins, and nothing that is gone.
func TestReadmeListsEveryDirectDependencyAtItsVersion(t *testing.T) {
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\| `(v[^`]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		listed[m[1]] = m[2]
	}
	direct := map[string]bool{}
	for _, r := range mf.Require {
		if r.Indirect {
			continue
		}
		direct[r.Mod.Path] = true
		if v, ok := listed[r.Mod.Path]; !ok {
			t.Errorf("README.md, Dependencies: %s %s is missing", r.Mod.Path, r.Mod.Version)
		} else if v != r.Mod.Version {
			t.Errorf("README.md, Dependencies: %s is listed at %s, go.mod has %s", r.Mod.Path, v, r.Mod.Version)
		}
	}
	for path := range listed {
		if !direct[path] {
			t.Errorf("README.md, Dependencies: %s is listed but is no direct dependency in go.mod", path)
		}
	}
}
