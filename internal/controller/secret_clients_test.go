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
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// The connectors' cache reads a Secret's data once per version: a new
// version is read again, and a deleted Secret's values leave the cache.
func TestSecretBuiltReadsTheDataOncePerVersion(t *testing.T) {
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "dcs"},
		Data: map[string][]byte{"accessKey": []byte("v1")}}
	reads := 0
	c := fake.NewClientBuilder().WithObjects(secret).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				reads++
			}
			return c.Get(ctx, key, obj, opts...)
		},
	}).Build()
	key := types.NamespacedName{Namespace: "shop", Name: "dcs"}
	builds := 0
	build := func(s *corev1.Secret) (string, error) { //nolint:unparam // the signature get takes
		builds++
		return string(s.Data["accessKey"]), nil
	}
	readErr := func(_ types.NamespacedName, err error) error { return err }
	var cache secretBuilt[string, string]
	get := func(k string) (string, error) { return cache.get(ctx, c, c, key, k, build, readErr) }

	for range 3 {
		if v, err := get("a"); err != nil || v != "v1" {
			t.Fatalf("get = %q, %v; want v1", v, err)
		}
	}
	if reads != 1 || builds != 1 {
		t.Fatalf("three gets of one version read the data %d times and built %d times, want once", reads, builds)
	}
	// Another key of the same Secret is built on its own.
	if v, _ := get("b"); v != "v1" || builds != 2 {
		t.Fatalf("second key: %q after %d builds", v, builds)
	}
	secret.Data["accessKey"] = []byte("v2")
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if v, _ := get("a"); v != "v2" {
		t.Fatalf("after the Secret changed, get = %q, want v2", v)
	}
	if err := c.Delete(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := get("a"); !apierrors.IsNotFound(err) {
		t.Fatalf("deleted Secret: err %v, want NotFound", err)
	}
	if len(cache.entries) != 0 {
		t.Fatalf("a deleted Secret's values stay cached: %d entries", len(cache.entries))
	}
}

// A failed build (a key missing in the Secret) caches nothing.
func TestSecretBuiltKeepsNoFailedBuild(t *testing.T) {
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "shop", Name: "dcs"}
	c := fake.NewClientBuilder().WithObjects(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "dcs"}}).Build()
	var cache secretBuilt[string, string]
	failing := func(*corev1.Secret) (string, error) { return "", errors.New("no key") }
	readErr := func(_ types.NamespacedName, err error) error { return err }
	if _, err := cache.get(ctx, c, c, key, "a", failing, readErr); err == nil || len(cache.entries) != 0 {
		t.Fatalf("failed build: err %v, %d entries", err, len(cache.entries))
	}
}
