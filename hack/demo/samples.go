package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// samples are the DCSBackupStorages, DCSBackups and schedules of
// config/samples, read when the demo starts, so that the demo follows
// whatever the samples say, and the sample DCSRestore, which the demo
// applies once the backup it restores succeeded.
type samples struct {
	// objects are the DCSBackupStorages, DCSBackups and
	// DCSBackupSchedules, in file order.
	objects []*unstructured.Unstructured
	// storages are the DCSBackupStorages among objects: the demo points
	// them at a versitygw of its own. exports maps each DCSBackup with
	// spec.export to its storage.
	storages []*unstructured.Unstructured
	exports  map[string]string
	// restores are the sample DCSRestores (restoreSample), applied later;
	// restoreOf maps each to the DCSBackup it restores.
	restores  []*unstructured.Unstructured
	restoreOf map[string]string
	// backups and schedules are their names.
	backups   []string
	schedules []string
	// instanceIDs and secretNames are what they reference: the simulator
	// serves the instances, the demo creates the Secrets (those of the
	// storages with the gateway's keys).
	instanceIDs        []string
	secretNames        []string
	storageSecretNames []string
}

// Field names of the operator's API that the demo uses.
const (
	fieldSpec = "spec"
	// fieldName is the name of a reference to another object.
	fieldName = "name"
)

// Field paths of the samples that the demo reads or changes.
var (
	pathExportStorage         = []string{fieldSpec, "export", "storageRef", fieldName}
	pathTemplateExportStorage = []string{fieldSpec, "template", fieldSpec, "export", "storageRef", fieldName}
	pathStorageSecret         = []string{fieldSpec, "credentialsSecretRef", fieldName}
)

func loadSamples(path string) (*samples, error) {
	all, err := localenv.ReadManifests(path)
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	s := &samples{
		objects: localenv.FilterKinds(all, localenv.KindDCSBackupStorage, localenv.KindDCSBackup,
			localenv.KindDCSBackupSchedule),
		exports: map[string]string{},
	}
	for _, obj := range s.objects {
		switch obj.GetKind() {
		case localenv.KindDCSBackupStorage:
			s.storages = append(s.storages, obj)
		case localenv.KindDCSBackup:
			s.backups = append(s.backups, obj.GetName())
			if storage, _, _ := unstructured.NestedString(obj.Object, pathExportStorage...); storage != "" {
				s.exports[obj.GetName()] = storage
			}
		default:
			s.schedules = append(s.schedules, obj.GetName())
		}
	}
	s.instanceIDs = localenv.InstanceIDs(s.objects)
	s.secretNames = localenv.CredentialsSecretNames(s.objects)
	if len(s.objects) == 0 || len(s.instanceIDs) == 0 {
		return nil, fmt.Errorf("samples: no DCSBackup or DCSBackupSchedule with an instanceID in %s", path)
	}
	if err := s.checkStorages(); err != nil {
		return nil, err
	}
	return s, s.loadRestores(path)
}

// checkStorages makes sure that every export of the samples goes to a
// sample storage (the demo runs no other), and that the storages'
// Secrets are not the DCS Secrets (they get other keys).
func (s *samples) checkStorages() error {
	for _, obj := range s.storages {
		name, _, _ := unstructured.NestedString(obj.Object, pathStorageSecret...)
		if contains(s.secretNames, name) {
			return fmt.Errorf("samples: DCSBackupStorage %s uses Secret %q, which DCS connections use too", obj.GetName(), name)
		}
		if name != "" && !contains(s.storageSecretNames, name) {
			s.storageSecretNames = append(s.storageSecretNames, name)
		}
	}
	for _, obj := range s.objects {
		storage, _, _ := unstructured.NestedString(obj.Object, pathExportStorage...)
		if storage == "" {
			storage, _, _ = unstructured.NestedString(obj.Object, pathTemplateExportStorage...)
		}
		if storage != "" && !contains(s.storageNames(), storage) {
			return fmt.Errorf("samples: %s %s exports to %q, which is not a sample DCSBackupStorage",
				obj.GetKind(), obj.GetName(), storage)
		}
	}
	return nil
}

func (s *samples) storageNames() []string {
	names := make([]string, 0, len(s.storages))
	for _, obj := range s.storages {
		names = append(names, obj.GetName())
	}
	return names
}

// buckets are the storages' buckets, each once: the demo's versitygw
// creates them (the operator never creates buckets).
func (s *samples) buckets() []string {
	var out []string
	for _, obj := range s.storages {
		if b, _, _ := unstructured.NestedString(obj.Object, fieldSpec, "bucket"); b != "" && !contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// storageRegion is the region of the first storage that names one, so
// that the demo's versitygw signs for it and the sample keeps it.
func (s *samples) storageRegion() string {
	for _, obj := range s.storages {
		if r, _, _ := unstructured.NestedString(obj.Object, fieldSpec, "region"); r != "" {
			return r
		}
	}
	return ""
}

// pointStoragesAt points the sample storages at the demo's versitygw
// (endpoint and region) and returns one line per storage saying what
// changed.
func (s *samples) pointStoragesAt(gw *localenv.VersityGW) ([]string, error) {
	lines := make([]string, 0, len(s.storages))
	for _, obj := range s.storages {
		endpoint, _, _ := unstructured.NestedString(obj.Object, fieldSpec, "endpoint")
		region, _, _ := unstructured.NestedString(obj.Object, fieldSpec, "region")
		changes := []string{fmt.Sprintf("endpoint %s -> %s (the demo's versitygw)", endpoint, gw.URL)}
		if region != gw.Region {
			changes = append(changes, fmt.Sprintf("region %q -> %q", region, gw.Region))
		}
		for field, value := range map[string]string{"endpoint": gw.URL, "region": gw.Region} {
			if err := unstructured.SetNestedField(obj.Object, value, fieldSpec, field); err != nil {
				return nil, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
			}
		}
		lines = append(lines, fmt.Sprintf("%s %s: %s", obj.GetKind(), obj.GetName(), strings.Join(changes, ", ")))
	}
	return lines, nil
}

// exportPath is the folder in the bucket that the export of the sample
// DCSBackup backup lands in, <prefix><namespace>/<backup>/, and its
// storage's bucket; empty without an export.
func (s *samples) exportPath(backup, namespace string) (bucket, path string) {
	storage := s.exports[backup]
	for _, obj := range s.storages {
		if obj.GetName() == storage {
			bucket, _, _ = unstructured.NestedString(obj.Object, fieldSpec, "bucket")
			prefix, _, _ := unstructured.NestedString(obj.Object, fieldSpec, "prefix")
			return bucket, prefix + namespace + "/" + backup + "/"
		}
	}
	return "", ""
}

// firstExport is the first sample DCSBackup with spec.export.
func (s *samples) firstExport() string {
	for _, name := range s.backups {
		if s.exports[name] != "" {
			return name
		}
	}
	return ""
}

// restoreSample is the sample DCSRestore. It is not in the samples'
// kustomization (applying it restores data), so the demo reads it itself.
const restoreSample = "backup_v1alpha1_dcsrestore.yaml"

// loadRestores reads the sample DCSRestores of a backup among the samples.
func (s *samples) loadRestores(dir string) error {
	objs, err := localenv.ReadManifests(filepath.Join(dir, restoreSample))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("samples: %w", err)
	}
	s.restoreOf = map[string]string{}
	for _, obj := range localenv.FilterKinds(objs, localenv.KindDCSRestore) {
		backup, _, _ := unstructured.NestedString(obj.Object, fieldSpec, "backupRef", fieldName)
		if !contains(s.backups, backup) {
			return fmt.Errorf("samples: DCSRestore %s restores %q, which is not a sample DCSBackup", obj.GetName(), backup)
		}
		s.restores = append(s.restores, obj)
		s.restoreOf[obj.GetName()] = backup
	}
	return nil
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// pointAt points the samples' connections at the simulator (endpoint, no
// region, its project) and returns one line per object saying what
// changed.
func (s *samples) pointAt(sim *localenv.Simulator) ([]string, error) {
	lines := make([]string, 0, len(s.objects))
	for _, obj := range s.objects {
		if localenv.ConnectionPath(obj) == nil {
			continue // a storage: pointStoragesAt
		}
		changes := connectionChanges(obj, sim)
		if _, err := localenv.PointAtSimulator(obj, sim.URL, sim.ProjectID); err != nil {
			return nil, err
		}
		lines = append(lines, fmt.Sprintf("%s %s: %s", obj.GetKind(), obj.GetName(), strings.Join(changes, ", ")))
	}
	return lines, nil
}

// overrideSchedules gives the sample schedules spec.schedule = schedule, so
// that they fire during the demo, and returns one line per schedule.
func (s *samples) overrideSchedules(schedule string) ([]string, error) {
	var lines []string
	for _, obj := range localenv.FilterKinds(s.objects, localenv.KindDCSBackupSchedule) {
		old, _, _ := unstructured.NestedString(obj.Object, fieldSpec, "schedule")
		if err := unstructured.SetNestedField(obj.Object, schedule, fieldSpec, "schedule"); err != nil {
			return nil, err
		}
		lines = append(lines, fmt.Sprintf("DCSBackupSchedule %s: schedule %q -> %q (every minute, for the demo)",
			obj.GetName(), old, schedule))
	}
	return lines, nil
}

// connectionChanges describes what PointAtSimulator will change.
func connectionChanges(obj *unstructured.Unstructured, sim *localenv.Simulator) []string {
	path := localenv.ConnectionPath(obj)
	get := func(field string) string {
		v, _, _ := unstructured.NestedString(obj.Object, append(path, field)...)
		return v
	}
	was := "endpoint " + get("endpoint")
	if region := get("region"); region != "" {
		was = "region " + region
	}
	changes := []string{fmt.Sprintf("%s -> endpoint %s", was, sim.URL)}
	if project := get("projectID"); project != sim.ProjectID {
		changes = append(changes, fmt.Sprintf("projectID %s -> %s (the simulator's)", project, sim.ProjectID))
	}
	return changes
}

// describe lists the samples: "DCSBackup a, DCSBackupSchedule b".
func (s *samples) describe() string {
	names := make([]string, 0, len(s.objects))
	for _, obj := range s.objects {
		names = append(names, obj.GetKind()+" "+obj.GetName())
	}
	return strings.Join(names, ", ")
}

func (s *samples) restoreNames() []string {
	names := make([]string, 0, len(s.restores))
	for _, obj := range s.restores {
		names = append(names, obj.GetName())
	}
	return names
}

func (s *samples) firstBackup() string   { return first(s.backups) }
func (s *samples) firstSchedule() string { return first(s.schedules) }

func first(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}
