package main

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// samples are the DCSBackups and schedules of config/samples, read when
// the demo starts, so that the demo follows whatever the samples say.
type samples struct {
	// objects are the DCSBackups and DCSBackupSchedules, in file order.
	objects []*unstructured.Unstructured
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
	return s, nil
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

func (s *samples) firstBackup() string   { return first(s.backups) }
func (s *samples) firstSchedule() string { return first(s.schedules) }

func first(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}
