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

// samples are the DCSBackups and schedules of config/samples, read when
// the demo starts, so that the demo follows whatever the samples say, and
// the sample DCSRestore, which the demo applies once the backup it restores
// succeeded.
type samples struct {
	// objects are the DCSBackups and DCSBackupSchedules, in file order.
	objects []*unstructured.Unstructured
	// restores are the sample DCSRestores (restoreSample), applied later;
	// restoreOf maps each to the DCSBackup it restores.
	restores  []*unstructured.Unstructured
	restoreOf map[string]string
	// backups and schedules are their names.
	backups   []string
	schedules []string
	// instanceIDs and secretNames are what they reference: the simulator
	// serves the instances, the demo creates the Secrets.
	instanceIDs []string
	secretNames []string
}

func loadSamples(path string) (*samples, error) {
	all, err := localenv.ReadManifests(path)
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	s := &samples{objects: localenv.FilterKinds(all, localenv.KindDCSBackup, localenv.KindDCSBackupSchedule)}
	for _, obj := range s.objects {
		if obj.GetKind() == localenv.KindDCSBackup {
			s.backups = append(s.backups, obj.GetName())
		} else {
			s.schedules = append(s.schedules, obj.GetName())
		}
	}
	s.instanceIDs = localenv.InstanceIDs(s.objects)
	s.secretNames = localenv.CredentialsSecretNames(s.objects)
	if len(s.objects) == 0 || len(s.instanceIDs) == 0 {
		return nil, fmt.Errorf("samples: no DCSBackup or DCSBackupSchedule with an instanceID in %s", path)
	}
	return s, s.loadRestores(path)
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
		backup, _, _ := unstructured.NestedString(obj.Object, "spec", "backupRef", "name")
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
		old, _, _ := unstructured.NestedString(obj.Object, "spec", "schedule")
		if err := unstructured.SetNestedField(obj.Object, schedule, "spec", "schedule"); err != nil {
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
