package localenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// FieldOwner is the server-side apply field manager of Apply.
const FieldOwner = "localenv"

// Kinds of the operator's API.
const (
	KindDCSBackup         = "DCSBackup"
	KindDCSBackupSchedule = "DCSBackupSchedule"
	KindDCSRestore        = "DCSRestore"
	KindDCSBackupStorage  = "DCSBackupStorage"
)

// Field names of the operator's API.
const (
	fieldSpec       = "spec"
	fieldConnection = "connection"
)

// ReadManifests reads the objects of YAML files and directories. A
// directory with a kustomization.yaml contributes the files listed in its
// resources, in that order (like `kubectl apply -k` without generators or
// patches); any other directory its *.yaml and *.yml files in name order.
func ReadManifests(paths ...string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for _, path := range paths {
		files, err := manifestFiles(path)
		if err != nil {
			return nil, err
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			parsed, err := ParseYAML(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			objs = append(objs, parsed...)
		}
	}
	return objs, nil
}

// manifestFiles expands path into the YAML files it stands for.
func manifestFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	if files, err := kustomizationResources(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return files, err
	}
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		matches, err := filepath.Glob(filepath.Join(path, pattern))
		if err != nil {
			return nil, err
		}
		files = append(files, matches...)
	}
	sort.Strings(files)
	return files, nil
}

// kustomizationResources returns the files a directory's kustomization.yaml
// lists as resources (os.ErrNotExist if it has none).
func kustomizationResources(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := utilyaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	files := make([]string, 0, len(k.Resources))
	for _, r := range k.Resources {
		files = append(files, filepath.Join(dir, r))
	}
	return files, nil
}

// ParseYAML parses a multi-document YAML (or JSON) stream; empty documents
// are skipped.
func ParseYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

// ConnectionPath is the field path of the connection of a DCSBackup
// (spec.connection), a DCSBackupSchedule (spec.template.spec.connection)
// or a DCSRestore of a backup named by its ids (spec.source.connection),
// nil for other kinds and for a DCSRestore of a DCSBackup (spec.backupRef),
// which has no connection of its own.
func ConnectionPath(obj *unstructured.Unstructured) []string {
	switch obj.GetKind() {
	case KindDCSBackup:
		return []string{fieldSpec, fieldConnection}
	case KindDCSBackupSchedule:
		return []string{fieldSpec, "template", fieldSpec, fieldConnection}
	case KindDCSRestore:
		if _, found, _ := unstructured.NestedMap(obj.Object, fieldSpec, "source"); found {
			return []string{fieldSpec, "source", fieldConnection}
		}
		return nil
	default:
		return nil
	}
}

// instancePath is where an object of the operator's API keeps its instance
// ID, nil for other kinds.
func instancePath(obj *unstructured.Unstructured) []string {
	path := ConnectionPath(obj)
	if path == nil {
		return nil
	}
	return append(path[:len(path)-1:len(path)-1], "instanceID")
}

// PointAtSimulator makes a DCSBackup, DCSBackupSchedule or DCSRestore talk
// to a simulator: the connection's endpoint becomes endpoint, its region is
// removed and, if projectID is not empty, its projectID replaced. Other
// kinds are left alone; the result says whether obj has a connection.
func PointAtSimulator(obj *unstructured.Unstructured, endpoint, projectID string) (bool, error) {
	path := ConnectionPath(obj)
	if path == nil {
		return false, nil
	}
	unstructured.RemoveNestedField(obj.Object, append(path, "region")...)
	if err := unstructured.SetNestedField(obj.Object, endpoint, append(path, "endpoint")...); err != nil {
		return true, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	if projectID == "" {
		return true, nil
	}
	if err := unstructured.SetNestedField(obj.Object, projectID, append(path, "projectID")...); err != nil {
		return true, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return true, nil
}

// InstanceIDs returns the instance IDs the DCSBackups and schedules among
// objs name, each once, in order.
func InstanceIDs(objs []*unstructured.Unstructured) []string {
	return uniqueStrings(objs, instancePath)
}

// CredentialsSecretNames returns the Secret names the DCSBackups and
// schedules among objs reference, each once, in order.
func CredentialsSecretNames(objs []*unstructured.Unstructured) []string {
	return uniqueStrings(objs, func(obj *unstructured.Unstructured) []string {
		if path := ConnectionPath(obj); path != nil {
			return append(path, "credentialsSecretRef", "name")
		}
		return nil
	})
}

func uniqueStrings(objs []*unstructured.Unstructured, fieldPath func(*unstructured.Unstructured) []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, obj := range objs {
		path := fieldPath(obj)
		if path == nil {
			continue
		}
		if v, _, _ := unstructured.NestedString(obj.Object, path...); v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Apply server-side applies objs (as FieldOwner, forcing conflicts) in
// namespace; objects that name a namespace of their own keep it.
func Apply(ctx context.Context, c client.Client, namespace string, objs ...*unstructured.Unstructured) error {
	for _, obj := range objs {
		obj = obj.DeepCopy()
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldOwner), client.ForceOwnership)
		if err != nil {
			return fmt.Errorf("apply %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
	return nil
}

// CreateNamespace creates a namespace; one that exists is fine.
func CreateNamespace(ctx context.Context, c client.Client, name string) error {
	err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// CreateCredentialsSecret creates or replaces the Secret DCSBackups
// reference, with the keys the operator reads (accessKey, secretKey).
func CreateCredentialsSecret(ctx context.Context, c client.Client, namespace, name, accessKey, secretKey string) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			backupv1alpha1.SecretKeyAccessKey: []byte(accessKey),
			backupv1alpha1.SecretKeySecretKey: []byte(secretKey),
		},
	}
	err := c.Create(ctx, secret)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	existing := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(secret), existing); err != nil {
		return err
	}
	existing.Data = secret.Data
	existing.StringData = nil
	return c.Update(ctx, existing)
}

// FilterKinds returns the objects of the given kinds, in order.
func FilterKinds(objs []*unstructured.Unstructured, kinds ...string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, obj := range objs {
		if slices.Contains(kinds, obj.GetKind()) {
			out = append(out, obj)
		}
	}
	return out
}
