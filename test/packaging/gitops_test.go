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
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The envtest suite of internal/controller checks what the health checks
// say; these specs check that the documented ways of installing them work
// with the real tools.

// componentFixture writes a kustomization of objects that uses the
// component config/<component> (copied beside it, as a vendored or remote
// component would be) and returns its folder.
func componentFixture(component, objects string) string {
	dir := GinkgoT().TempDir()
	Expect(os.CopyFS(filepath.Join(dir, component), os.DirFS(filepath.Join(repoRoot, "config", component)))).To(Succeed())
	app := filepath.Join(dir, "app")
	Expect(os.Mkdir(app, 0o755)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(app, "objects.yaml"), []byte(objects), 0o600)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(app, "kustomization.yaml"),
		[]byte("resources: [objects.yaml]\ncomponents: [../"+component+"]\n"), 0o600)).To(Succeed())
	return app
}

// argocdPatchData is the data of config/argocd/argocd-cm-patch.yaml.
func argocdPatchData() map[string]string {
	return as[corev1.ConfigMap](readManifests(filepath.Join(repoRoot, "config", "argocd", "argocd-cm-patch.yaml")).
		only("ConfigMap")).Data
}

const argocdCM = `apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels: {app.kubernetes.io/part-of: argocd}
data:
  url: https://argocd.example.com
`

var _ = Describe("The GitOps health checks' installers", func() {
	It("config/argocd, as a kustomize component, adds the health checks and actions to argocd-cm", func() {
		out, err := kustomize(componentFixture("argocd", argocdCM), "build")
		Expect(err).NotTo(HaveOccurred())
		cm := as[corev1.ConfigMap](parseManifests(out).only("ConfigMap"))
		Expect(cm.Namespace).To(Equal("argocd"))
		want := argocdPatchData()
		Expect(want).To(HaveLen(5))
		want["url"] = "https://argocd.example.com"
		Expect(cm.Data).To(Equal(want))
	})

	It("argocd-cm-patch.yaml patches a live argocd-cm with kubectl patch --patch-file, as the README says", func() {
		ensureNamespace("argocd")
		cm := as[corev1.ConfigMap](parseManifests(argocdCM).only("ConfigMap"))
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, cm))).To(Succeed()) })
		Expect(kubectl("-n", "argocd", "patch", "configmap", "argocd-cm", "--patch-file",
			filepath.Join(repoRoot, "config", "argocd", "argocd-cm-patch.yaml"))).Error().NotTo(HaveOccurred())
		got := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), got)).To(Succeed())
		want := argocdPatchData()
		want["url"] = "https://argocd.example.com"
		Expect(got.Data).To(Equal(want))
		Expect(got.Labels).To(Equal(map[string]string{"app.kubernetes.io/part-of": "argocd"}))
	})

	It("config/flux, as a kustomize component, gives the labelled Flux Kustomizations the healthCheckExprs", func() {
		objects := `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: shop-backups
  namespace: flux-system
  labels: {backup.dcs-operator.dev/health-checks: "true"}
spec: {interval: 10m, path: ./shop/backups, prune: true, wait: true, sourceRef: {kind: GitRepository, name: flux-system}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: unrelated, namespace: flux-system}
spec: {interval: 10m, path: ./other, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
`
		out, err := kustomize(componentFixture("flux", objects), "build")
		Expect(err).NotTo(HaveOccurred())
		objs := parseManifests(out)
		patch := readManifests(filepath.Join(repoRoot, "config", "flux", "health-check-exprs.yaml")).only("Kustomization")
		want, found, err := unstructured.NestedSlice(patch.Object, "spec", "healthCheckExprs")
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue())
		Expect(want).To(HaveLen(4))

		labelled := objs.get("Kustomization", "shop-backups")
		got, _, _ := unstructured.NestedSlice(labelled.Object, "spec", "healthCheckExprs")
		Expect(got).To(Equal(want))
		Expect(labelled.Object["spec"]).To(HaveKeyWithValue("wait", true))
		Expect(labelled.GetNamespace()).To(Equal("flux-system"))
		Expect(objs.get("Kustomization", "unrelated").Object["spec"]).NotTo(HaveKey("healthCheckExprs"))
	})
})
