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

package packaging

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

const howToRun = "run these tests with `make test`, or set KUBEBUILDER_ASSETS=$(hack/controlplane.sh), " +
	"HELM and KUSTOMIZE to the tools `make helm kustomize` installs, as the Makefile's test target does"

// toolPaths are the real tools the tests drive.
type toolPaths struct {
	helm, kustomize, kubectl string
	// home keeps the tools' caches and configuration (helm's, and the
	// discovery cache of kubectl and helm) out of the user's home.
	home string
}

// requireTools fails the suite, rather than skipping it, when a tool is
// missing: a skipped packaging test would hide a broken chart.
func requireTools() toolPaths {
	for _, name := range []string{"KUBEBUILDER_ASSETS", "HELM", "KUSTOMIZE"} {
		Expect(os.Getenv(name)).NotTo(BeEmpty(), "%s is not set: %s", name, howToRun)
	}
	t := toolPaths{
		helm:      os.Getenv("HELM"),
		kustomize: os.Getenv("KUSTOMIZE"),
		kubectl:   filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"),
		home:      GinkgoT().TempDir(),
	}
	for _, bin := range []string{t.helm, t.kustomize, t.kubectl} {
		info, err := os.Stat(bin)
		Expect(err).NotTo(HaveOccurred(), "%s: %s", bin, howToRun)
		Expect(info.Mode().Perm()&0o111).NotTo(BeZero(), "%s is not executable: %s", bin, howToRun)
	}
	return t
}

// run runs a tool in dir and returns its standard output; an error carries
// the command line and the tool's output.
func run(dir string, env []string, bin string, args ...string) (string, error) {
	stdout, _, err := runFull(dir, env, bin, args...)
	return stdout, err
}

// runFull is run that also returns the standard error, where kubectl
// prints the API server's warnings.
func runFull(dir string, env []string, bin string, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(&stderr, GinkgoWriter)
	line := filepath.Base(bin) + " " + strings.Join(args, " ")
	_, _ = fmt.Fprintf(GinkgoWriter, "$ %s\n", line)
	if err := cmd.Run(); err != nil {
		// helm lint reports its findings on stdout, most tools on stderr.
		return stdout.String(), stderr.String(), fmt.Errorf("%s: %w\n%s%s", line, err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String(), nil
}

func helm(args ...string) (string, error) {
	env := []string{
		"HELM_CACHE_HOME=" + filepath.Join(tools.home, "helm", "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(tools.home, "helm", "config"),
		"HELM_DATA_HOME=" + filepath.Join(tools.home, "helm", "data"),
		"KUBECACHEDIR=" + filepath.Join(tools.home, "kube-cache"),
		"KUBECONFIG=" + kubeconfig,
	}
	return run(repoRoot, env, tools.helm, args...)
}

func kubectl(args ...string) (string, error) {
	stdout, _, err := kubectlFull(args...)
	return stdout, err
}

func kubectlFull(args ...string) (string, string, error) {
	env := []string{"KUBECACHEDIR=" + filepath.Join(tools.home, "kube-cache")}
	return runFull(repoRoot, env, tools.kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

func kustomize(dir string, args ...string) (string, error) {
	return run(dir, nil, tools.kustomize, args...)
}

// manifests are the objects of a multi-document YAML stream, as a user's
// kubectl apply would read them.
type manifests []*unstructured.Unstructured

func parseManifests(text string) manifests {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(text)))
	var objs manifests
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		Expect(err).NotTo(HaveOccurred())
		js, err := utilyaml.ToJSON(doc)
		Expect(err).NotTo(HaveOccurred())
		if js = bytes.TrimSpace(js); len(js) == 0 || string(js) == "null" {
			continue // a document of comments only
		}
		u := &unstructured.Unstructured{}
		Expect(u.UnmarshalJSON(js)).To(Succeed(), "%s", doc)
		objs = append(objs, u)
	}
}

func readManifests(path string) manifests {
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	return parseManifests(string(data))
}

// generatedCRDNames are the names of the CRDs controller-gen generates
// (config/crd/bases): every package must ship exactly these.
func generatedCRDNames() []string {
	files, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "*.yaml"))
	Expect(err).NotTo(HaveOccurred())
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, readManifests(f).ofKind("CustomResourceDefinition").names()...)
	}
	Expect(names).To(ContainElement("dcsbackups.backup.dcs-operator.dev"))
	return names
}

func (m manifests) ofKind(kind string) manifests {
	var out manifests
	for _, u := range m {
		if u.GetKind() == kind {
			out = append(out, u)
		}
	}
	return out
}

func (m manifests) names() []string {
	out := make([]string, 0, len(m))
	for _, u := range m {
		out = append(out, u.GetName())
	}
	return out
}

// get returns the one object of kind and name, failing the spec without it.
func (m manifests) get(kind, name string) *unstructured.Unstructured {
	for _, u := range m.ofKind(kind) {
		if u.GetName() == name {
			return u
		}
	}
	Fail(fmt.Sprintf("no %s %q among %s %v", kind, name, kind, m.ofKind(kind).names()))
	return nil
}

// only returns the single object of kind.
func (m manifests) only(kind string) *unstructured.Unstructured {
	objs := m.ofKind(kind)
	Expect(objs).To(HaveLen(1), "want exactly one %s, got %v", kind, objs.names())
	return objs[0]
}

// as converts an object into its typed Go form.
func as[T any](u *unstructured.Unstructured) *T {
	var t T
	Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &t)).To(Succeed())
	return &t
}

// dryRunApply applies text with kubectl server-side apply in dry-run mode:
// the API server validates and admits every object (schemas, CEL, RBAC
// escalation checks, Pod Security) and stores nothing. Namespaces the
// objects live in are created for real first, because a dry-run Namespace
// does not exist for the objects after it.
func dryRunApply(text string) {
	objs := parseManifests(text)
	Expect(objs).NotTo(BeEmpty())
	ensureNamespaces(objs)
	file := filepath.Join(GinkgoT().TempDir(), "manifests.yaml")
	Expect(os.WriteFile(file, []byte(text), 0o600)).To(Succeed())
	out, warnings, err := kubectlFull("apply", "--server-side", "--dry-run=server", "--force-conflicts",
		"--field-manager=packaging-test", "-f", file)
	Expect(err).NotTo(HaveOccurred())
	Expect(strings.Count(out, "(server dry run)")).To(Equal(len(objs)), "every object applied:\n%s", out)
	Expect(warnings).NotTo(ContainSubstring("Warning"), "the API server warned")
}

func ensureNamespaces(objs manifests) {
	for _, u := range objs {
		if ns := u.GetNamespace(); ns != "" {
			ensureNamespace(ns)
		}
	}
}

// ensureNamespace creates a namespace that enforces the restricted Pod
// Security Standard and warns about workloads that break it, as a hardened
// cluster's namespaces do.
func ensureNamespace(name string) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_, err := controllerutil.CreateOrPatch(ctx, k8sClient, ns, func() error {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
		ns.Labels["pod-security.kubernetes.io/warn"] = "restricted"
		return nil
	})
	Expect(err).NotTo(HaveOccurred())
}

// generatedManagerRules are the rules controller-gen writes into
// config/rbac/role.yaml from the +kubebuilder:rbac markers.
func generatedManagerRules() []rbacv1.PolicyRule {
	role := readManifests(filepath.Join(repoRoot, "config", "rbac", "role.yaml")).only("ClusterRole")
	return as[rbacv1.ClusterRole](role).Rules
}

// managerContainer returns the container named manager.
func managerContainer(spec corev1.PodSpec) corev1.Container {
	for _, c := range spec.Containers {
		if c.Name == "manager" {
			return c
		}
	}
	Fail("no container named manager")
	return corev1.Container{}
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
