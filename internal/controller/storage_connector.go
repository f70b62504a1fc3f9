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
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
)

// StorageConnector turns a DCSBackupStorage's spec into a client of its
// bucket. Tests wrap or replace it.
type StorageConnector interface {
	Connect(ctx context.Context, namespace string, spec backupv1alpha1.DCSBackupStorageSpec) (objectstore.Store, error)
}

// SecretStorageConnector builds bucket clients from the credentials Secret
// in the storage's namespace, the way SecretConnector builds DCS clients:
// the Secret's metadata comes from a metadata-only informer, its data from
// a direct read (with a logger that drops everything) only when its
// resourceVersion changed, and one client is cached per Secret version.
type SecretStorageConnector struct {
	// Metadata reads PartialObjectMetadata of Secrets.
	Metadata client.Reader
	// APIReader reads Secret data directly from the API server.
	APIReader client.Reader
	// AllowInsecure permits plain-http endpoints (--insecure-endpoints).
	AllowInsecure bool
	// Timeout of each request to the store; 0 means the store's default.
	Timeout time.Duration

	clients secretBuilt[backupv1alpha1.DCSBackupStorageSpec, objectstore.Store]
}

// Connect implements StorageConnector. One Secret may serve several
// buckets: a client is cached per Secret version and storage spec.
func (c *SecretStorageConnector) Connect(ctx context.Context, namespace string,
	spec backupv1alpha1.DCSBackupStorageSpec) (objectstore.Store, error) {
	if strings.HasPrefix(spec.Endpoint, "http://") && !c.AllowInsecure {
		return nil, &ConnectError{Reason: backupv1alpha1.ReasonInvalidEndpoint,
			Message: fmt.Sprintf("spec.endpoint %q uses plain http, which would send signed requests and the backups "+
				"unencrypted; use https (the operator allows http only with --insecure-endpoints)", spec.Endpoint)}
	}
	secret := types.NamespacedName{Namespace: namespace, Name: spec.CredentialsSecretRef.Name}
	return c.clients.get(ctx, c.Metadata, c.APIReader, secret, spec,
		func(s *corev1.Secret) (objectstore.Store, error) { return c.build(s, spec) }, storageSecretError)
}

// build makes the client of a bucket from its Secret's data.
func (c *SecretStorageConnector) build(secret *corev1.Secret, spec backupv1alpha1.DCSBackupStorageSpec) (objectstore.Store, error) {
	if err := requireKeyPair(secret, "accessKey, secretKey"); err != nil {
		return nil, err
	}
	st, err := objectstore.New(objectstore.Config{
		Endpoint: strings.TrimSuffix(spec.Endpoint, "/"), AllowInsecure: c.AllowInsecure, Region: spec.Region,
		Bucket: spec.Bucket, Prefix: spec.Prefix, AccessKey: secretValue(secret, backupv1alpha1.SecretKeyAccessKey),
		SecretKey: secretValue(secret, backupv1alpha1.SecretKeySecretKey), Timeout: c.Timeout,
	})
	if err != nil {
		return nil, &ConnectError{Reason: backupv1alpha1.ReasonInvalidEndpoint, Message: "spec: " + err.Error()}
	}
	return st, nil
}

// Forget drops the clients of a Secret that was deleted, so its
// credentials leave memory.
func (c *SecretStorageConnector) Forget(secret types.NamespacedName) { c.clients.forget(secret) }

func storageSecretError(key types.NamespacedName, err error) error {
	if apierrors.IsNotFound(err) {
		return &ConnectError{Reason: backupv1alpha1.ReasonCredentialsNotFound,
			Message: fmt.Sprintf("Secret %q (spec.credentialsSecretRef.name) not found in namespace %q", key.Name, key.Namespace)}
	}
	return fmt.Errorf("reading Secret %s: %w", key, err)
}

// storageReason is the Ready reason (and whether only a person can fix
// it) of a failed bucket check.
func storageReason(err error) (string, bool) {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return ce.Reason, true
	}
	switch objectstore.Classify(err) {
	case objectstore.ClassUnauthorized:
		return backupv1alpha1.ReasonUnauthorized, true
	case objectstore.ClassNoSuchBucket:
		return backupv1alpha1.ReasonBucketNotFound, true
	case objectstore.ClassInvalid:
		return backupv1alpha1.ReasonInvalidEndpoint, true
	case objectstore.ClassUnreachable:
		return backupv1alpha1.ReasonUnreachable, false
	}
	return backupv1alpha1.ReasonStorageError, false
}

// storageHint tells a person what to check for a Ready reason.
var storageHints = map[string]string{
	backupv1alpha1.ReasonUnauthorized: "check the access key pair in Secret %[1]s and that it may list, write " +
		"and read objects of the bucket (README, Exports)",
	backupv1alpha1.ReasonBucketNotFound: "check spec.bucket, spec.endpoint and spec.region: the operator never " +
		"creates buckets",
	backupv1alpha1.ReasonUnreachable: "check spec.endpoint and the network path (DNS, egress policy, TLS) " +
		"from the operator to the store",
}
