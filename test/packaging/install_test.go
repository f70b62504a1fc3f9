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
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// samplesNamespace is where the install specs apply config/samples.
const samplesNamespace = "shop"

// The specs run in order, as a user would: install, apply backups, upgrade,
// uninstall. envtest runs no kubelet, so the manager's pod never starts; what
// is checked is what the chart puts into the cluster.
var _ = Describe("helm install into the test control plane", Ordered, func() {
	var notes string

	BeforeAll(func() {
		ensureNamespace(samplesNamespace)
		var err error
		notes, err = helm("install", chartRelease, chartDir(), "--namespace", chartNamespace, "--create-namespace")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			// Leave no release behind if a spec failed before the uninstall spec.
			_, _ = helm("uninstall", chartRelease, "--namespace", chartNamespace, "--ignore-not-found")
		})
	})

	It("tells the user what to apply next", func() {
		Expect(notes).To(ContainSubstring("kubectl -n shop create secret generic dcs-credentials"))
		Expect(notes).To(ContainSubstring("kind: DCSBackup"))
		Expect(notes).To(ContainSubstring("kubectl -n shop wait --for=condition=Succeeded dcsbackup/first-backup"))
	})

	It("establishes the CRDs, and the samples apply against them", func() {
		for _, name := range generatedCRDNames() {
			Eventually(crdEstablished).WithArguments(name).Should(BeTrue())
		}
		_, err := kubectl("apply", "--namespace", samplesNamespace,
			"-f", filepath.Join(repoRoot, "config", "samples", "dcs-credentials_secret.yaml"))
		Expect(err).NotTo(HaveOccurred())
		// Strict field validation: a field the CRDs do not know fails the apply.
		// Eventually: discovery may lag a moment behind the Established condition.
		Eventually(func() error {
			_, err := kubectl("apply", "--server-side", "--field-manager=packaging-test", "--validate=strict",
				"--namespace", samplesNamespace, "-k", filepath.Join(repoRoot, "config", "samples"))
			return err
		}).Should(Succeed())

		// The restore sample is not in the kustomization (it restores data):
		// it must still be valid.
		_, err = kubectl("apply", "--server-side", "--dry-run=server", "--field-manager=packaging-test", "--validate=strict",
			"--namespace", samplesNamespace, "-f", filepath.Join(repoRoot, "config", "samples", "backup_v1alpha1_dcsrestore.yaml"))
		Expect(err).NotTo(HaveOccurred())

		b := &backupv1alpha1.DCSBackup{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: samplesNamespace, Name: "sessions-manual"}, b)).To(Succeed())
		Expect(b.Spec.Connection.Endpoint).To(Equal("https://dcs.eu-de.otc.t-systems.com"))
		Expect(b.Spec.Connection.APIVersion).To(Equal(backupv1alpha1.APIVersionV2), "defaulted by the CRD")
	})

	DescribeTable("the CRDs reject an invalid DCSBackup with a message that names the field",
		func(mutate func(*backupv1alpha1.DCSBackup), want string) {
			b := validBackup()
			mutate(b)
			err := k8sClient.Create(ctx, b)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("neither region nor endpoint", func(b *backupv1alpha1.DCSBackup) {
			b.Spec.Connection.Region = ""
		}, "connection: set region or endpoint"),
		Entry("an endpoint with a path", func(b *backupv1alpha1.DCSBackup) {
			b.Spec.Connection.Endpoint = "https://dcs.eu-de.otc.t-systems.com/v2/project"
		}, "spec.connection.endpoint"),
		Entry("an unknown format", func(b *backupv1alpha1.DCSBackup) {
			b.Spec.Format = "zip"
		}, "spec.format"),
		Entry("an aof backup on the v1 API", func(b *backupv1alpha1.DCSBackup) {
			b.Spec.Format = backupv1alpha1.BackupFormatAOF
			b.Spec.Connection.APIVersion = backupv1alpha1.APIVersionV1
		}, "format: aof needs connection.apiVersion v2"),
	)

	It("keeps a DCSBackup's instance immutable", func() {
		b := &backupv1alpha1.DCSBackup{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: samplesNamespace, Name: "orders-before-upgrade"}, b)).To(Succeed())
		b.Spec.InstanceID = "another-instance"
		Expect(k8sClient.Update(ctx, b)).To(MatchError(ContainSubstring("instanceID is immutable")))
	})

	It("binds exactly the rules controller-gen generates to the manager's ServiceAccount", func() {
		role := &rbacv1.ClusterRole{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: chartFullname + "-manager"}, role)).To(Succeed())
		Expect(role.Rules).To(Equal(generatedManagerRules()))
		binding := &rbacv1.ClusterRoleBinding{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: chartFullname + "-manager"}, binding)).To(Succeed())
		Expect(binding.RoleRef.Name).To(Equal(role.Name))
		Expect(binding.Subjects).To(ConsistOf(rbacv1.Subject{
			Kind: "ServiceAccount", Name: chartFullname, Namespace: chartNamespace}))
	})

	It("lets the manager's ServiceAccount do what the manager does, and no more", func() {
		for _, rule := range generatedManagerRules() {
			for _, attrs := range ruleAttributes(rule, samplesNamespace) {
				Expect(serviceAccountCan(attrs)).To(BeTrue(), "%+v", attrs)
			}
		}
		for _, attrs := range managerExtras() {
			Expect(serviceAccountCan(attrs)).To(BeTrue(), "%+v", attrs)
		}
		for _, attrs := range managerMustNot() {
			Expect(serviceAccountCan(attrs)).To(BeFalse(), "%+v", attrs)
		}
	})

	It("upgrades in place with helm upgrade", func() {
		_, err := helm("upgrade", chartRelease, chartDir(), "--namespace", chartNamespace,
			"--reuse-values", "--set", "replicaCount=2")
		Expect(err).NotTo(HaveOccurred())
		dep := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: chartNamespace, Name: chartFullname}, dep)).To(Succeed())
		Expect(dep.Spec.Replicas).To(HaveValue(BeEquivalentTo(2)))
		Expect(crdEstablished("dcsbackups.backup.dcs-operator.dev")).To(BeTrue())
	})

	It("leaves the CRDs and the backups behind on helm uninstall", func() {
		_, err := helm("uninstall", chartRelease, "--namespace", chartNamespace)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: chartNamespace, Name: chartFullname}, &appsv1.Deployment{})
		}).Should(Satisfy(apierrors.IsNotFound))
		Expect(crdEstablished("dcsbackupschedules.backup.dcs-operator.dev")).To(BeTrue())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: samplesNamespace, Name: "orders-nightly"},
			&backupv1alpha1.DCSBackupSchedule{})).To(Succeed())
	})
})

// crdEstablished reports whether the API server serves the CRD name.
func crdEstablished(name string) bool {
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{
		Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
		return false
	}
	conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conditions {
		if c := c.(map[string]any); c["type"] == "Established" && c["status"] == "True" {
			return true
		}
	}
	return false
}

// validBackup is a DCSBackup the CRDs accept.
func validBackup() *backupv1alpha1.DCSBackup {
	return &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "invalid-", Namespace: samplesNamespace},
		Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
			InstanceID: "5560df16-cebf-4473-95c4-d1b573c16e79",
			Connection: backupv1alpha1.Connection{
				ProjectID:            "0a1b2c3d4e5f40a1b2c3d4e5f6a7b8c9",
				Region:               "eu-west-0",
				CredentialsSecretRef: backupv1alpha1.SecretReference{Name: "dcs-credentials"},
			},
		}},
	}
}

// ruleAttributes expands an RBAC rule into one access check per verb and
// resource, in namespace.
func ruleAttributes(rule rbacv1.PolicyRule, namespace string) []authorizationv1.ResourceAttributes {
	out := make([]authorizationv1.ResourceAttributes, 0, len(rule.APIGroups)*len(rule.Resources)*len(rule.Verbs))
	for _, group := range rule.APIGroups {
		for _, resource := range rule.Resources {
			res, sub, _ := strings.Cut(resource, "/")
			for _, verb := range rule.Verbs {
				out = append(out, authorizationv1.ResourceAttributes{
					Namespace: namespace, Verb: verb, Group: group, Resource: res, Subresource: sub})
			}
		}
	}
	return out
}

// managerExtras are what the manager needs besides its generated role:
// leader election in its own namespace, and the reviews behind its
// authenticated metrics endpoint.
func managerExtras() []authorizationv1.ResourceAttributes {
	return []authorizationv1.ResourceAttributes{
		{Namespace: chartNamespace, Verb: "create", Group: "coordination.k8s.io", Resource: "leases"},
		{Namespace: chartNamespace, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"},
		{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"},
		{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"},
	}
}

// managerMustNot are things a backup operator has no business doing.
func managerMustNot() []authorizationv1.ResourceAttributes {
	return []authorizationv1.ResourceAttributes{
		{Namespace: samplesNamespace, Verb: "create", Resource: "secrets"},
		{Namespace: samplesNamespace, Verb: "update", Resource: "secrets"},
		{Namespace: samplesNamespace, Verb: "delete", Group: "backup.dcs-operator.dev", Resource: "dcsbackupschedules"},
		{Namespace: "kube-system", Verb: "update", Group: "coordination.k8s.io", Resource: "leases"},
		{Namespace: chartNamespace, Verb: "update", Group: "apps", Resource: "deployments"},
		{Namespace: samplesNamespace, Verb: "create", Resource: "pods"},
		{Verb: "update", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
		{Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
	}
}

// serviceAccountCan asks the API server's authorizer (RBAC) whether the
// chart's ServiceAccount may do attrs.
func serviceAccountCan(attrs authorizationv1.ResourceAttributes) bool {
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               "system:serviceaccount:" + chartNamespace + ":" + chartFullname,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + chartNamespace, "system:authenticated"},
		ResourceAttributes: &attrs,
	}}
	Expect(k8sClient.Create(ctx, review)).To(Succeed())
	return review.Status.Allowed
}
