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
	"maps"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// lastAppliedAnnotation is where `kubectl apply` (client side) keeps the
// object as last applied: a copy of the whole spec.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// cacheTransform prepares objects before they enter the informers' cache.
// A fleet keeps tens of thousands of finished DCSBackups in memory, so the
// cache holds only what the controllers read, and the strings that repeat
// from object to object once:
//   - managedFields (one entry per field manager; the largest part of a
//     small object applied by a GitOps tool) and kubectl's
//     last-applied-configuration annotation are dropped;
//   - a DCSBackup keeps only the annotations the operator reads
//     (cachedBackupAnnotation): a schedule's children, most of a fleet's
//     backups, then hold no annotation map at all;
//   - namespaces, label and annotation keys and values, finalizers, the
//     spec's instance and connection fields and the status's phases and
//     condition types and reasons point at one shared copy each.
//
// The controllers write with merge patches computed from the cached object
// (never Update), so what is dropped here is left alone on the server.
func cacheTransform() toolscache.TransformFunc {
	strip := cache.TransformStripManagedFields()
	pool := &internPool{m: map[string]string{}}
	return func(in any) (any, error) {
		out, err := strip(in)
		if err != nil {
			return out, err
		}
		if b, ok := out.(*backupv1alpha1.DCSBackup); ok {
			compactBackup(pool, b)
		}
		if obj, ok := out.(metav1.Object); ok {
			compactMeta(pool, obj)
		}
		return out, nil
	}
}

// maxInterned bounds an internPool.
const maxInterned = 1 << 16

// internPool holds the shared copies of strings. It keeps what it interned
// until it holds maxInterned strings, then starts over: the strings that
// repeat (namespaces, label values, instance IDs, reasons) are a few
// thousand even in a large fleet, and a pool filled with one-off values
// costs no more than the copies it replaced. (The unique package lets go of
// a copy at the next garbage collection, and then makes a new one for each
// object decoded after it.)
type internPool struct {
	mu sync.Mutex
	m  map[string]string
}

func (p *internPool) get(s string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if shared, ok := p.m[s]; ok {
		return shared
	}
	if len(p.m) >= maxInterned {
		clear(p.m)
	}
	// A copy of its own: s may be part of a larger allocation.
	s = strings.Clone(s)
	p.m[s] = s
	return s
}

// intern returns the shared copy of s.
func intern[S ~string](p *internPool, s S) S {
	if s == "" {
		return s
	}
	return S(p.get(string(s)))
}

func internMap(p *internPool, m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[intern(p, k)] = intern(p, v)
	}
	return out
}

func compactMeta(p *internPool, obj metav1.Object) {
	obj.SetNamespace(intern(p, obj.GetNamespace()))
	obj.SetLabels(internMap(p, obj.GetLabels()))
	if a := obj.GetAnnotations(); a != nil {
		delete(a, lastAppliedAnnotation)
		obj.SetAnnotations(internMap(p, a))
	}
	f := obj.GetFinalizers()
	for i := range f {
		f[i] = intern(p, f[i])
	}
}

// cachedBackupAnnotation says whether the cache keeps an annotation of a
// DCSBackup: those of the operator's own domain, except the slot a child
// was made for (written for people and tools, never read back). An
// annotation the operator starts reading on DCSBackups must be kept here.
func cachedBackupAnnotation(key string) bool {
	return strings.HasPrefix(key, backupv1alpha1.GroupVersion.Group+"/") && key != backupv1alpha1.AnnotationScheduledTime
}

func compactBackup(p *internPool, b *backupv1alpha1.DCSBackup) {
	maps.DeleteFunc(b.Annotations, func(k, _ string) bool { return !cachedBackupAnnotation(k) })
	if len(b.Annotations) == 0 {
		b.Annotations = nil
	}
	b.APIVersion, b.Kind = intern(p, b.APIVersion), intern(p, b.Kind)
	spec := &b.Spec
	spec.InstanceID, spec.Format = intern(p, spec.InstanceID), intern(p, spec.Format)
	spec.DeletionPolicy = intern(p, spec.DeletionPolicy)
	conn := &spec.Connection
	conn.ProjectID, conn.Region, conn.Endpoint = intern(p, conn.ProjectID), intern(p, conn.Region), intern(p, conn.Endpoint)
	conn.APIVersion, conn.CredentialsSecretRef.Name = intern(p, conn.APIVersion), intern(p, conn.CredentialsSecretRef.Name)
	st := &b.Status
	st.Phase, st.Format = intern(p, st.Phase), intern(p, st.Format)
	st.BackupType, st.Progress = intern(p, st.BackupType), intern(p, st.Progress)
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.Type, c.Status, c.Reason = intern(p, c.Type), intern(p, c.Status), intern(p, c.Reason)
	}
}
