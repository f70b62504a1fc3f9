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
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// rbacDir holds the kustomize RBAC; role.yaml is generated from rbac.go.
var rbacDir = filepath.Join("..", "..", "config", "rbac")

// wantManagerRole is every grant the controllers use, as
// "group/resource:verb" ("" is the core group), with the reason. The
// generated role must equal it: a new +kubebuilder:rbac marker fails
// TestManagerRoleIsExactlyWhatTheControllersUse until it is added here with
// its reason, so the role only widens on purpose. The specs with their own
// control plane run a manager under exactly these grants, bound only in the
// namespaces it watches, which shows they are enough.
var wantManagerRole = map[string]string{
	// Credentials: a metadata-only informer (list, watch) wakes backups when
	// their Secret appears or changes; the data is read with a direct get.
	"/secrets:get":   "SecretConnector reads the data of a referenced Secret",
	"/secrets:list":  "metadata-only Secret informer",
	"/secrets:watch": "metadata-only Secret informer",

	"backup.dcs-operator.dev/dcsbackups:get":    "informer",
	"backup.dcs-operator.dev/dcsbackups:list":   "informer",
	"backup.dcs-operator.dev/dcsbackups:watch":  "informer",
	"backup.dcs-operator.dev/dcsbackups:patch":  "finalizer; a schedule orphans or prunes its children",
	"backup.dcs-operator.dev/dcsbackups:create": "a schedule creates its children",
	"backup.dcs-operator.dev/dcsbackups:delete": "a schedule's retention prunes its children",

	"backup.dcs-operator.dev/dcsbackups/status:patch": "status writes (merge patch with optimistic lock)",

	"backup.dcs-operator.dev/dcsbackupschedules:get":          "informer",
	"backup.dcs-operator.dev/dcsbackupschedules:list":         "informer",
	"backup.dcs-operator.dev/dcsbackupschedules:watch":        "informer",
	"backup.dcs-operator.dev/dcsbackupschedules/status:patch": "status writes",

	"backup.dcs-operator.dev/dcsrestores:get":          "informer",
	"backup.dcs-operator.dev/dcsrestores:list":         "informer",
	"backup.dcs-operator.dev/dcsrestores:watch":        "informer",
	"backup.dcs-operator.dev/dcsrestores/status:patch": "status writes (merge patch with optimistic lock)",

	"backup.dcs-operator.dev/dcsbackupstorages:get":          "informer",
	"backup.dcs-operator.dev/dcsbackupstorages:list":         "informer",
	"backup.dcs-operator.dev/dcsbackupstorages:watch":        "informer",
	"backup.dcs-operator.dev/dcsbackupstorages/status:patch": "status writes (Ready)",

	// Events on transitions (events.k8s.io/v1 recorder: create, and patch
	// for an event series).
	"events.k8s.io/events:create": "event recorder",
	"events.k8s.io/events:patch":  "event recorder (series)",
}

// writeVerbs change objects.
var writeVerbs = sets.New("create", "update", "patch", "delete", "deletecollection", "*")

func TestManagerRoleIsExactlyWhatTheControllersUse(t *testing.T) {
	roles, _ := readRBAC(t)
	role, ok := roles["ClusterRole/manager-role"]
	if !ok {
		t.Fatalf("config/rbac/role.yaml has no ClusterRole manager-role")
	}
	got := grants(role.Rules)
	want := sets.KeySet(wantManagerRole)
	if extra := got.Difference(want); extra.Len() > 0 {
		t.Errorf("the generated role grants more than the controllers use: %v\n"+
			"(if a controller needs it, add it to wantManagerRole with the reason)", sets.List(extra))
	}
	if missing := want.Difference(got); missing.Len() > 0 {
		t.Errorf("the generated role lacks %v; run `make manifests`", sets.List(missing))
	}
	for _, r := range role.Rules {
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Errorf("unexpected resourceNames or nonResourceURLs in %+v", r)
		}
	}
	secretVerbs := sets.New[string]()
	for g := range got {
		if v, ok := strings.CutPrefix(g, "/secrets:"); ok {
			secretVerbs.Insert(v)
		}
	}
	if !secretVerbs.Equal(sets.New("get", "list", "watch")) {
		t.Errorf("secrets must be read-only (get, list, watch), got %v", sets.List(secretVerbs))
	}
}

// TestManagerBindingsHaveNoWildcardsOrClusterWideCoreWrites checks every
// role bound to the manager's ServiceAccount: no wildcard anywhere, and no
// write on a core resource through a ClusterRoleBinding (a cluster-wide
// write on Secrets, ConfigMaps or Pods would make the operator a path to
// every namespace).
func TestManagerBindingsHaveNoWildcardsOrClusterWideCoreWrites(t *testing.T) {
	roles, bindings := readRBAC(t)
	if len(bindings) == 0 {
		t.Fatal("no binding to the manager's ServiceAccount in config/rbac")
	}
	for _, b := range bindings {
		role, ok := roles[b.roleRef]
		if !ok {
			t.Errorf("%s binds %s, which config/rbac does not define", b.name, b.roleRef)
			continue
		}
		for _, r := range role.Rules {
			for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.NonResourceURLs} {
				if slices.Contains(field, "*") {
					t.Errorf("%s (bound by %s) has a wildcard: %+v", b.roleRef, b.name, r)
				}
			}
			if !b.clusterWide || !slices.Contains(r.APIGroups, "") {
				continue
			}
			for _, v := range r.Verbs {
				if writeVerbs.Has(v) {
					t.Errorf("%s is bound cluster-wide by %s and writes core resources %v (%s)",
						b.roleRef, b.name, r.Resources, v)
				}
			}
		}
	}
}

// grants expands rules into "group/resource:verb".
func grants(rules []rbacv1.PolicyRule) sets.Set[string] {
	out := sets.New[string]()
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out.Insert(g + "/" + res + ":" + v)
				}
			}
		}
	}
	return out
}

// managerBinding is a binding of a role to the manager's ServiceAccount.
type managerBinding struct {
	name        string
	roleRef     string // Kind/name
	clusterWide bool
}

// readRBAC reads every Role and ClusterRole of config/rbac (by Kind/name)
// and the bindings whose subject is the manager's ServiceAccount.
func readRBAC(t *testing.T) (map[string]rbacv1.ClusterRole, []managerBinding) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(rbacDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("reading %s: %v", rbacDir, err)
	}
	sort.Strings(files)
	roles := map[string]rbacv1.ClusterRole{}
	var bindings []managerBinding
	for _, f := range files {
		for _, obj := range decodeYAMLFile(t, f) {
			switch obj.Kind {
			case "ClusterRole", "Role":
				roles[obj.Kind+"/"+obj.Name] = rbacv1.ClusterRole{Rules: obj.Rules}
			case "ClusterRoleBinding", "RoleBinding":
				if bindsManager(obj.Subjects) {
					bindings = append(bindings, managerBinding{name: obj.Kind + "/" + obj.Name,
						roleRef: obj.RoleRef.Kind + "/" + obj.RoleRef.Name, clusterWide: obj.Kind == "ClusterRoleBinding"})
				}
			}
		}
	}
	return roles, bindings
}

func bindsManager(subjects []rbacv1.Subject) bool {
	return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
		return s.Kind == rbacv1.ServiceAccountKind && s.Name == "controller-manager"
	})
}

// rbacObject has the fields of every RBAC kind this test reads.
type rbacObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Name     string              `json:"-"`
	Rules    []rbacv1.PolicyRule `json:"rules"`
	Subjects []rbacv1.Subject    `json:"subjects"`
	RoleRef  rbacv1.RoleRef      `json:"roleRef"`
}

func decodeYAMLFile(t *testing.T, path string) []rbacObject {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	var out []rbacObject
	for {
		var obj rbacObject
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if obj.Kind != "" {
			obj.Name = obj.Metadata.Name
			out = append(out, obj)
		}
	}
}
