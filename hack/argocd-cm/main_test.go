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
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const (
	customizations = "../../config/argocd/resource_customizations"
	committed      = "../../config/argocd/argocd-cm-patch.yaml"
	group          = "backup.dcs-operator.dev"
)

func TestCommittedPatchIsFresh(t *testing.T) {
	want, err := render(os.DirFS(customizations))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s is stale: run `make argocd-cm` and commit it", committed)
	}
}

// argoActions is the value of an actions key, as Argo CD reads it.
type argoActions struct {
	Discovery   string `json:"discovery.lua"`
	Definitions []struct {
		Name string `json:"name"`
		Lua  string `json:"action.lua"`
	} `json:"definitions"`
}

// The YAML carries every script byte for byte, under the keys Argo CD
// looks up.
func TestPatchCarriesTheScriptsUnchanged(t *testing.T) {
	data, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{}
	if err := yaml.UnmarshalStrict(data, cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" {
		t.Fatalf("not a patch of argocd-cm: %s %s", cm.Kind, cm.Name)
	}
	file := func(parts ...string) string {
		b, err := os.ReadFile(filepath.Join(append([]string{customizations, group}, parts...)...))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, kind := range []string{"DCSBackup", "DCSBackupSchedule", "DCSRestore", "DCSBackupStorage"} {
		key := "resource.customizations.health." + group + "_" + kind
		if cm.Data[key] != file(kind, "health.lua") {
			t.Errorf("%s differs from %s/health.lua", key, kind)
		}
	}
	var actions argoActions
	if err := yaml.UnmarshalStrict([]byte(cm.Data["resource.customizations.actions."+group+"_DCSBackupSchedule"]),
		&actions); err != nil {
		t.Fatal(err)
	}
	if actions.Discovery != file("DCSBackupSchedule", "actions", "discovery.lua") {
		t.Error("discovery.lua differs")
	}
	names := make([]string, 0, len(actions.Definitions))
	for _, d := range actions.Definitions {
		names = append(names, d.Name)
		if d.Lua != file("DCSBackupSchedule", "actions", d.Name, "action.lua") {
			t.Errorf("action %s differs", d.Name)
		}
	}
	if strings.Join(names, ",") != "resume,run-now,suspend" {
		t.Errorf("actions: %v", names)
	}
	if len(cm.Data) != 5 {
		t.Errorf("unexpected keys: %d", len(cm.Data))
	}
}

func TestRenderRefusesWhatArgoCDWouldNotFind(t *testing.T) {
	for name, files := range map[string]fstest.MapFS{
		"a file outside the layout":     {"g/Kind/health.txt": {Data: []byte("return {}\n")}},
		"an action without discovery":   {"g/Kind/actions/go/action.lua": {Data: []byte("return obj\n")}},
		"a script with trailing blanks": {"g/Kind/health.lua": {Data: []byte("return {} \n")}},
		"a script without a newline":    {"g/Kind/health.lua": {Data: []byte("return {}")}},
		"nothing at all":                {},
	} {
		if _, err := render(files); err == nil {
			t.Errorf("%s: rendered without an error", name)
		}
	}
}
