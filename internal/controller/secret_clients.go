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
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// secretBuilt caches what the connectors build from a Secret's data (a DCS
// client, a bucket client), per Secret and key, each with the Secret's
// resourceVersion it was built from. The Secret's data is read again only
// when its resourceVersion changed, so the operator holds in memory only
// the credentials of Secrets in use. The zero value is ready to use.
type secretBuilt[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[secretEntryKey[K]]secretEntry[V]
}

type secretEntryKey[K comparable] struct {
	secret types.NamespacedName
	key    K
}

type secretEntry[V any] struct {
	resourceVersion string
	value           V
}

// get returns the value of key built from Secret secret: the cached one
// while the Secret's resourceVersion, read from metadata (a metadata-only
// informer), is unchanged, else build's result from a fresh read of its
// data through apiReader (a direct GET). readErr turns a failed read of the
// Secret into the connector's error.
func (s *secretBuilt[K, V]) get(ctx context.Context, metadata, apiReader client.Reader, secret types.NamespacedName, key K,
	build func(*corev1.Secret) (V, error), readErr func(types.NamespacedName, error) error) (V, error) {
	var zero V
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := metadata.Get(ctx, secret, meta); err != nil {
		if apierrors.IsNotFound(err) {
			s.forget(secret)
		}
		return zero, readErr(secret, err)
	}
	ek := secretEntryKey[K]{secret: secret, key: key}
	if v, ok := s.lookup(ek, meta.ResourceVersion); ok {
		return v, nil
	}
	// client-go logs response bodies at V(8) through the context's logger:
	// the Secret's data must not reach the log at any verbosity.
	quiet := log.IntoContext(ctx, log.FromContext(ctx).WithSink(log.NullLogSink{}))
	data := &corev1.Secret{}
	if err := apiReader.Get(quiet, secret, data); err != nil {
		return zero, readErr(secret, err)
	}
	v, err := build(data)
	if err != nil {
		return zero, err
	}
	s.store(ek, secretEntry[V]{resourceVersion: data.ResourceVersion, value: v})
	return v, nil
}

func (s *secretBuilt[K, V]) lookup(ek secretEntryKey[K], rv string) (V, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[ek]
	if !ok || e.resourceVersion != rv {
		var zero V
		return zero, false
	}
	return e.value, true
}

func (s *secretBuilt[K, V]) store(ek secretEntryKey[K], e secretEntry[V]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries = map[secretEntryKey[K]]secretEntry[V]{}
	}
	s.entries[ek] = e
}

// forget drops what was built from a Secret that was deleted, so its
// credentials leave memory.
func (s *secretBuilt[K, V]) forget(secret types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ek := range s.entries {
		if ek.secret == secret {
			delete(s.entries, ek)
		}
	}
}

// secretValue is key k of a Secret without the whitespace around it: a
// Secret made with `kubectl create secret --from-file` often ends in a
// newline.
func secretValue(s *corev1.Secret, k string) string { return strings.TrimSpace(string(s.Data[k])) }

// requireKeyPair is a CredentialsNotFound error naming the keys of the
// access key pair that have no value in s (expected lists the keys the
// connector reads), nil when both have one.
func requireKeyPair(s *corev1.Secret, expected string) error {
	var missing []string
	for _, k := range []string{backupv1alpha1.SecretKeyAccessKey, backupv1alpha1.SecretKeySecretKey} {
		if secretValue(s, k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &ConnectError{Reason: backupv1alpha1.ReasonCredentialsNotFound,
		Message: fmt.Sprintf("Secret %q has no value for key(s) %s (expected keys: %s)", s.Name, strings.Join(missing, ", "), expected)}
}
