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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

const (
	installerImage     = "ghcr.io/dcs-operator/dcs-backup-operator:v0.1.0"
	installerNamespace = "dcs-backup-operator-system"
	installerPrefix    = "dcs-backup-operator-"
)

// copyConfig copies config/ into a temporary directory, so that kustomize
// edit can change it as `make build-installer` does without touching the tree.
func copyConfig() string {
	dst := filepath.Join(GinkgoT().TempDir(), "config")
	Expect(os.CopyFS(dst, os.DirFS(filepath.Join(repoRoot, "config")))).To(Succeed())
	return dst
}

// buildInstaller runs what `make build-installer` runs,
// hack/kustomize-default.sh, on config (the repository's config/ or a copy)
// and returns dist/install.yaml's content.
func buildInstaller(config string) string {
	out, err := run(repoRoot, []string{"KUSTOMIZE=" + tools.kustomize},
		filepath.Join(repoRoot, "hack", "kustomize-default.sh"), installerImage, config)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// treeDigest hashes every file under dir, names and contents.
func treeDigest(dir string) string {
	h := sha256.New()
	Expect(filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil {
			_, _ = fmt.Fprintf(h, "%s\x00%x\x00", path, sha256.Sum256(data))
		}
		return err
	})).To(Succeed())
	return hex.EncodeToString(h.Sum(nil))
}

// versionFile is the VERSION file's X.Y.Z.
func versionFile() string {
	data, err := os.ReadFile(filepath.Join(repoRoot, "VERSION"))
	Expect(err).NotTo(HaveOccurred())
	version := strings.TrimSpace(string(data))
	Expect(version).To(MatchRegexp(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`), "VERSION holds X.Y.Z")
	return version
}

// enableOptional uncomments the optional parts of config/default, as its
// comments tell a user to.
func enableOptional(config string, parts ...string) {
	path := filepath.Join(config, "default", "kustomization.yaml")
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	text := string(data)
	for _, part := range parts {
		Expect(text).To(ContainSubstring("#- " + part))
		text = strings.Replace(text, "#- "+part, "- "+part, 1)
	}
	Expect(os.WriteFile(path, []byte(text), 0o600)).To(Succeed())
}

var _ = Describe("kustomize (config/)", func() {
	Context("make build-installer's dist/install.yaml", Ordered, func() {
		var text string
		var objs manifests
		BeforeAll(func() {
			text = buildInstaller(copyConfig())
			objs = parseManifests(text)
		})

		It("holds the CRDs, the RBAC, the Deployment and the metrics Service", func() {
			Expect(objs.ofKind("CustomResourceDefinition").names()).To(ConsistOf(generatedCRDNames()))
			for _, kind := range []string{"Namespace", "ServiceAccount", "Role", "RoleBinding",
				"ClusterRoleBinding", "Deployment", "Service"} {
				Expect(objs.ofKind(kind)).NotTo(BeEmpty(), kind)
			}
			Expect(objs.only("Namespace").GetName()).To(Equal(installerNamespace))
		})

		It("runs the image it was built for, hardened, with leader election", func() {
			dep := as[appsv1.Deployment](objs.only("Deployment"))
			Expect(dep.Namespace).To(Equal(installerNamespace))
			c := managerContainer(dep.Spec.Template.Spec)
			Expect(c.Image).To(Equal(installerImage))
			Expect(c.Args).To(ContainElement("--leader-elect"))
			Expect(dep.Spec.Template.Spec.ServiceAccountName).To(Equal(objs.only("ServiceAccount").GetName()))
			expectHardenedPod(dep.Spec.Template.Spec)
			expectProbesAndResources(dep.Spec.Template.Spec, 8081)
			expectServiceReachesManager(as[corev1.Service](objs.only("Service")), dep.Spec.Template, 8443)
		})

		It("binds the rules controller-gen generates to the manager's ServiceAccount", func() {
			role := as[rbacv1.ClusterRole](objs.get("ClusterRole", installerPrefix+"manager-role"))
			Expect(role.Rules).To(Equal(generatedManagerRules()))
			binding := as[rbacv1.ClusterRoleBinding](objs.get("ClusterRoleBinding", installerPrefix+"manager-rolebinding"))
			Expect(binding.RoleRef.Name).To(Equal(role.Name))
			Expect(binding.Subjects).To(ConsistOf(rbacv1.Subject{Kind: "ServiceAccount",
				Name: objs.only("ServiceAccount").GetName(), Namespace: installerNamespace}))
		})

		It("is accepted by the API server: every object, server-side dry-run", func() {
			dryRunApply(text)
		})
	})

	It("points config/default at the released image of VERSION, not controller:latest", func() {
		out, err := kustomize(repoRoot, "build", filepath.Join("config", "default"))
		Expect(err).NotTo(HaveOccurred())
		c := managerContainer(as[appsv1.Deployment](parseManifests(out).only("Deployment")).Spec.Template.Spec)
		Expect(c.Image).To(Equal("ghcr.io/dcs-operator/dcs-backup-operator:v" + versionFile()))
	})

	It("keeps VERSION, the chart's version and appVersion in step", func() {
		data, err := os.ReadFile(filepath.Join(chartDir(), "Chart.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var chart struct {
			Version string `json:"version"`
		}
		Expect(utilyaml.Unmarshal(data, &chart)).To(Succeed())
		Expect(chartAppVersion()).To(Equal(versionFile()), "Chart.yaml appVersion")
		Expect(chart.Version).To(Equal(versionFile()), "Chart.yaml version (make chart-package packages VERSION)")
	})

	It("builds the installer for any image without changing config/ (make build-installer, make deploy)", func() {
		config := filepath.Join(repoRoot, "config")
		before := treeDigest(config)
		objs := parseManifests(buildInstaller(config))
		Expect(managerContainer(as[appsv1.Deployment](objs.only("Deployment")).Spec.Template.Spec).Image).To(Equal(installerImage))
		Expect(treeDigest(config)).To(Equal(before), "config/ is as committed")

		// A build that fails after the image was set leaves its input alone too.
		broken := copyConfig()
		Expect(os.WriteFile(filepath.Join(broken, "default", "metrics_service.yaml"), []byte("kind: [\n"), 0o600)).To(Succeed())
		before = treeDigest(broken)
		_, err := run(repoRoot, []string{"KUSTOMIZE=" + tools.kustomize},
			filepath.Join(repoRoot, "hack", "kustomize-default.sh"), installerImage, broken)
		Expect(err).To(HaveOccurred())
		Expect(treeDigest(broken)).To(Equal(before), "the input of a failed build is unchanged")
	})

	It("builds config/default with the optional ServiceMonitor and NetworkPolicy turned on", func() {
		config := copyConfig()
		enableOptional(config, "../prometheus", "../network-policy")
		text := buildInstaller(config)
		objs := parseManifests(text)
		pod := as[appsv1.Deployment](objs.only("Deployment")).Spec.Template
		svc := as[corev1.Service](objs.only("Service"))

		monitor := objs.only("ServiceMonitor")
		selector, _, err := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
		Expect(err).NotTo(HaveOccurred())
		Expect(labels.SelectorFromSet(selector).Matches(labels.Set(svc.Labels))).To(BeTrue(),
			"the ServiceMonitor selects the metrics Service")
		endpoints, _, err := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
		Expect(err).NotTo(HaveOccurred())
		Expect(endpoints).To(ConsistOf(HaveKeyWithValue("honorLabels", true)))
		policy := as[networkingv1.NetworkPolicy](objs.only("NetworkPolicy"))
		Expect(labels.SelectorFromSet(policy.Spec.PodSelector.MatchLabels).Matches(labels.Set(pod.Labels))).To(BeTrue(),
			"the NetworkPolicy applies to the manager's pods")
		dryRunApply(text)
	})

	It("has samples of both kinds, in the Huawei Cloud and the Open Telekom Cloud forms", func() {
		out, err := kustomize(repoRoot, "build", filepath.Join("config", "samples"))
		Expect(err).NotTo(HaveOccurred())
		objs := parseManifests(out)
		Expect(objs.ofKind("DCSBackup")).To(HaveLen(2))
		huawei := as[backupv1alpha1.DCSBackup](objs.get("DCSBackup", "orders-before-upgrade")).Spec.Connection
		Expect(huawei.Region).To(Equal("eu-west-0"))
		Expect(huawei.Endpoint).To(BeEmpty())
		otc := as[backupv1alpha1.DCSBackup](objs.get("DCSBackup", "sessions-manual")).Spec.Connection
		Expect(otc.Endpoint).To(Equal("https://dcs.eu-de.otc.t-systems.com"))

		schedule := as[backupv1alpha1.DCSBackupSchedule](objs.only("DCSBackupSchedule")).Spec
		Expect(schedule.Schedule).To(Equal("0 3 * * *"))
		Expect(schedule.TimeZone).To(HaveValue(Equal("Europe/Berlin")))
		Expect(schedule.Retention).NotTo(BeNil())
		Expect(schedule.Retention.KeepLast).To(HaveValue(BeEquivalentTo(7)))
		Expect(schedule.Retention.MaxAge).To(HaveValue(HaveField("Duration", Equal(720*time.Hour))))

		// The sample backup and schedule export to the sample storage.
		storage := as[backupv1alpha1.DCSBackupStorage](objs.only("DCSBackupStorage"))
		Expect(storage.Spec.Endpoint).To(HavePrefix("https://"))
		Expect(as[backupv1alpha1.DCSBackup](objs.get("DCSBackup", "orders-before-upgrade")).Spec.Export).
			To(HaveField("StorageRef.Name", storage.Name))
		Expect(schedule.Template.Spec.Export).To(HaveField("StorageRef.Name", storage.Name))
		Expect(schedule.ExportRetention).NotTo(BeNil())

		secret := as[corev1.Secret](readManifests(filepath.Join(repoRoot, "config", "samples", "dcs-credentials_secret.yaml")).
			only("Secret"))
		Expect(secret.StringData).To(HaveKey(backupv1alpha1.SecretKeyAccessKey))
		Expect(secret.StringData).To(HaveKey(backupv1alpha1.SecretKeySecretKey))
		for _, ref := range []string{huawei.CredentialsSecretRef.Name, otc.CredentialsSecretRef.Name,
			schedule.Template.Spec.Connection.CredentialsSecretRef.Name} {
			Expect(ref).To(Equal(secret.Name), "the samples use the example Secret")
		}
	})
})
