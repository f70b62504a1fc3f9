package localenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

const backupYAML = `# a comment
apiVersion: backup.dcs-operator.dev/v1alpha1
kind: DCSBackup
metadata:
  name: one
spec:
  instanceID: inst-a
  connection:
    projectID: p1
    region: eu-west-0
    credentialsSecretRef:
      name: creds-a
---
---
apiVersion: v1
kind: Secret
metadata:
  name: creds-a
stringData:
  accessKey: x
`

const scheduleYAML = `apiVersion: backup.dcs-operator.dev/v1alpha1
kind: DCSBackupSchedule
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  template:
    spec:
      instanceID: inst-b
      connection:
        projectID: p2
        endpoint: https://dcs.example.com
        credentialsSecretRef:
          name: creds-a
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadManifestsFollowsTheKustomization(t *testing.T) {
	g := NewWithT(t)
	dir := writeFiles(t, map[string]string{
		"a.yaml":             backupYAML,
		"b.yaml":             scheduleYAML,
		"unlisted.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		"kustomization.yaml": "resources:\n- b.yaml\n- a.yaml\n",
	})
	objs, err := ReadManifests(dir)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(kindsAndNames(objs)).To(Equal([]string{"DCSBackupSchedule/nightly", "DCSBackup/one", "Secret/creds-a"}))

	g.Expect(os.Remove(filepath.Join(dir, "kustomization.yaml"))).To(Succeed())
	objs, err = ReadManifests(dir)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(kindsAndNames(objs)).To(Equal([]string{"DCSBackup/one", "Secret/creds-a", "DCSBackupSchedule/nightly",
		"ConfigMap/x"}), "without a kustomization: every YAML file in name order")

	_, err = ReadManifests(filepath.Join(dir, "missing.yaml"))
	g.Expect(err).To(HaveOccurred())
}

func kindsAndNames(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

func TestPointAtSimulatorAndReferences(t *testing.T) {
	g := NewWithT(t)
	objs, err := ParseYAML([]byte(backupYAML + "---\n" + scheduleYAML))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(InstanceIDs(objs)).To(Equal([]string{"inst-a", "inst-b"}))
	g.Expect(CredentialsSecretNames(objs)).To(Equal([]string{"creds-a"}))
	g.Expect(FilterKinds(objs, KindDCSBackup, KindDCSBackupSchedule)).To(HaveLen(2))

	for _, obj := range objs {
		ours, err := PointAtSimulator(obj, "http://127.0.0.1:1234", "sim-project")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(ours).To(Equal(obj.GetKind() != "Secret"))
	}
	conn, _, _ := unstructured.NestedMap(objs[0].Object, "spec", "connection")
	g.Expect(conn).To(Equal(map[string]any{"endpoint": "http://127.0.0.1:1234", "projectID": "sim-project",
		"credentialsSecretRef": map[string]any{"name": "creds-a"}}))
	tmpl, _, _ := unstructured.NestedMap(objs[2].Object, "spec", "template", "spec", "connection")
	g.Expect(tmpl).To(HaveKeyWithValue("endpoint", "http://127.0.0.1:1234"))
	g.Expect(tmpl).To(HaveKeyWithValue("projectID", "sim-project"))
	g.Expect(tmpl).NotTo(HaveKey("region"))
}

func TestSimulatorInProcessAdminAPI(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	sim, err := StartSimulatorInProcess(SimulatorOptions{Instances: []string{"i-1", "i-2:single"}})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = sim.Stop() })
	g.Expect(sim.Process()).To(BeNil())
	g.Expect(sim.AccessKey).To(Equal(simulator.DefaultAccessKey))

	_, err = sim.InProcess().AddAutoBackup("i-1")
	g.Expect(err).NotTo(HaveOccurred())
	backups, err := sim.Backups(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(backups).To(HaveLen(1))
	g.Expect(sim.SetFaults(ctx, simulator.Faults{Latency: time.Millisecond})).To(Succeed())
	g.Expect(sim.InProcess().Faults().Latency).To(Equal(time.Millisecond))
	stats, err := sim.Stats(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(stats.Total).To(BeZero(), "admin calls are not API requests")

	var instances []simulator.Instance
	g.Expect(sim.Admin(ctx, "GET", "instances", nil, &instances)).To(Succeed())
	g.Expect(instances).To(ContainElement(HaveField("CacheMode", "single")))
	g.Expect(sim.Admin(ctx, "GET", "nope", nil, nil)).To(MatchError(ContainSubstring("404")))
}

func TestSimulatorArgs(t *testing.T) {
	g := NewWithT(t)
	opts := SimulatorOptions{Listen: "127.0.0.1:9", Instances: []string{"a", "b:single"}, BackupDuration: 12 * time.Second,
		Faults: simulator.Faults{ThrottleRate: 0.25}, Seed: 7, ExtraArgs: []string{"--x"}}.withDefaults()
	g.Expect(opts.args()).To(Equal([]string{
		"--listen=127.0.0.1:9", "--project-id=" + simulator.DefaultProjectID, "--access-key=" + simulator.DefaultAccessKey,
		"--instances=a,b:single", "--backup-duration=12s", "--throttle-rate=0.25", "--seed=7", "--x",
	}))
	_, err := parseInstances([]string{"a:weird"})
	g.Expect(err).To(HaveOccurred())
}
