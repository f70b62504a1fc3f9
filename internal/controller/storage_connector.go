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
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

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

	mu      sync.Mutex
	clients map[storageKey]cachedStore
}

// storageKey identifies a client: one Secret may serve several buckets.
type storageKey struct {
	secret types.NamespacedName
	spec   backupv1alpha1.DCSBackupStorageSpec
}

type cachedStore struct {
	resourceVersion string
	store           objectstore.Store
}

// Connect implements StorageConnector.
func (c *SecretStorageConnector) Connect(ctx context.Context, namespace string,
	spec backupv1alpha1.DCSBackupStorageSpec) (objectstore.Store, error) {
	if strings.HasPrefix(spec.Endpoint, "http://") && !c.AllowInsecure {
		return nil, &ConnectError{Reason: backupv1alpha1.ReasonInvalidEndpoint,
			Message: fmt.Sprintf("spec.endpoint %q uses plain http, which would send signed requests and the backups "+
				"unencrypted; use https (the operator allows http only with --insecure-endpoints)", spec.Endpoint)}
	}
	secretKey := types.NamespacedName{Namespace: namespace, Name: spec.CredentialsSecretRef.Name}
	key := storageKey{secret: secretKey, spec: spec}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := c.Metadata.Get(ctx, secretKey, meta); err != nil {
		if apierrors.IsNotFound(err) {
			c.Forget(secretKey)
		}
		return nil, storageSecretError(secretKey, err)
	}
	if st, ok := c.lookup(key, meta.ResourceVersion); ok {
		return st, nil
	}
	// client-go logs response bodies at V(8) through the context's logger.
	quiet := log.IntoContext(ctx, log.FromContext(ctx).WithSink(log.NullLogSink{}))
	secret := &corev1.Secret{}
	if err := c.APIReader.Get(quiet, secretKey, secret); err != nil {
		return nil, storageSecretError(secretKey, err)
	}
	get := func(k string) string { return strings.TrimSpace(string(secret.Data[k])) }
	var missing []string
	for _, k := range []string{backupv1alpha1.SecretKeyAccessKey, backupv1alpha1.SecretKeySecretKey} {
		if get(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, &ConnectError{Reason: backupv1alpha1.ReasonCredentialsNotFound,
			Message: fmt.Sprintf("Secret %q has no value for key(s) %s (expected keys: accessKey, secretKey)",
				secretKey.Name, strings.Join(missing, ", "))}
	}
	st, err := objectstore.New(objectstore.Config{
		Endpoint: strings.TrimSuffix(spec.Endpoint, "/"), AllowInsecure: c.AllowInsecure, Region: spec.Region,
		Bucket: spec.Bucket, Prefix: spec.Prefix, AccessKey: get(backupv1alpha1.SecretKeyAccessKey),
		SecretKey: get(backupv1alpha1.SecretKeySecretKey), Timeout: c.Timeout,
	})
	if err != nil {
		return nil, &ConnectError{Reason: backupv1alpha1.ReasonInvalidEndpoint, Message: "spec: " + err.Error()}
	}
	c.store(key, cachedStore{resourceVersion: secret.ResourceVersion, store: st})
	return st, nil
}

func (c *SecretStorageConnector) lookup(key storageKey, rv string) (objectstore.Store, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs, ok := c.clients[key]
	if !ok || cs.resourceVersion != rv {
		return nil, false
	}
	return cs.store, true
}

func (c *SecretStorageConnector) store(key storageKey, cs cachedStore) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clients == nil {
		c.clients = map[storageKey]cachedStore{}
	}
	c.clients[key] = cs
}

// Forget drops the clients of a Secret that was deleted, so its
// credentials leave memory.
func (c *SecretStorageConnector) Forget(secret types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.clients {
		if k.secret == secret {
			delete(c.clients, k)
		}
	}
}

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
