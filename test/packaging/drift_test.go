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
	"path/filepath"
	"reflect"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// hack/verify-generated.sh catches a stale chart in `make verify`; these
// specs say the same in `go test`, by comparing what Helm renders with what
// controller-gen generated.
var _ = Describe("The chart's generated parts", func() {
	It("are the CRDs of config/crd/bases, plus Helm's labels and the keep annotation", func() {
		_, objs := renderChart(chartNamespace)
		bases, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(bases).NotTo(BeEmpty())
		Expect(objs.ofKind("CustomResourceDefinition")).To(HaveLen(len(bases)))

		chartLabels := objs.only("ServiceAccount").GetLabels()
		for _, path := range bases {
			want := readManifests(path).only("CustomResourceDefinition")
			got := withoutHelmMetadata(objs.get("CustomResourceDefinition", want.GetName()), chartLabels)
			// Not Equal: its dump of two whole CRDs would bury the message.
			Expect(reflect.DeepEqual(got.Object, want.Object)).To(BeTrue(),
				"the chart's copy of %s is stale: run `make helm-crds`", filepath.Base(path))
		}
	})

	It("include the manager ClusterRole rules of config/rbac/role.yaml", func() {
		_, objs := renderChart(chartNamespace)
		Expect(objs.get("ClusterRole", chartFullname+"-manager").Object).To(
			HaveKeyWithValue("rules", readManifests(filepath.Join(repoRoot, "config", "rbac", "role.yaml")).
				only("ClusterRole").Object["rules"]),
			"config/rbac/role.yaml differs from the chart's copy: run `make helm-crds`")
	})
})

// withoutHelmMetadata returns a copy of a rendered CRD without what the chart
// adds to controller-gen's: its labels and helm.sh/resource-policy.
func withoutHelmMetadata(u *unstructured.Unstructured, chartLabels map[string]string) *unstructured.Unstructured {
	u = u.DeepCopy()
	lbls := u.GetLabels()
	for k := range chartLabels {
		delete(lbls, k)
	}
	if len(lbls) == 0 {
		lbls = nil
	}
	u.SetLabels(lbls)
	annotations := u.GetAnnotations()
	Expect(annotations).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"))
	delete(annotations, "helm.sh/resource-policy")
	u.SetAnnotations(annotations)
	return u
}
