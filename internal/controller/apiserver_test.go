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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

var _ = Describe("The test control plane", func() {
	It("is the kube-apiserver built from source at v1.37.1", func() {
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		v, err := dc.ServerVersion()
		Expect(err).NotTo(HaveOccurred())
		Expect(v.GitVersion).To(Equal("v1.37.1"))
	})

	It("stores a DCSBackup and serves it back with defaults applied", func() {
		b := &backupv1alpha1.DCSBackup{
			ObjectMeta: metav1.ObjectMeta{Name: "roundtrip", Namespace: "default"},
			Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
				InstanceID: "5560df16-cebf-4473-95c4-d1b573c16e79",
				Connection: backupv1alpha1.Connection{
					ProjectID:            "0a1b2c3d4e5f40a1b2c3d4e5f6a7b8c9",
					Region:               "eu-west-0",
					CredentialsSecretRef: backupv1alpha1.SecretReference{Name: "no-such-secret"},
				},
			}},
		}
		Expect(k8sClient.Create(ctx, b)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, b))).To(Succeed()) })

		got := &backupv1alpha1.DCSBackup{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(b), got)).To(Succeed())
		Expect(got.Spec.InstanceID).To(Equal(b.Spec.InstanceID))
		Expect(got.Spec.Format).To(Equal(backupv1alpha1.BackupFormatRDB))
		Expect(got.Spec.DeletionPolicy).To(Equal(backupv1alpha1.DeletionPolicyRetain))
		Expect(got.Spec.Connection.APIVersion).To(Equal(backupv1alpha1.APIVersionV2))
	})

	It("rejects a DCSBackup whose format is not rdb or aof, naming the field", func() {
		b := &backupv1alpha1.DCSBackup{
			ObjectMeta: metav1.ObjectMeta{Name: "bad-format", Namespace: "default"},
			Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
				InstanceID: "5560df16-cebf-4473-95c4-d1b573c16e79",
				Format:     "zip",
				Connection: backupv1alpha1.Connection{
					ProjectID:            "0a1b2c3d4e5f40a1b2c3d4e5f6a7b8c9",
					Region:               "eu-west-0",
					CredentialsSecretRef: backupv1alpha1.SecretReference{Name: "creds"},
				},
			}},
		}
		err := k8sClient.Create(ctx, b)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.format"))
	})
})
