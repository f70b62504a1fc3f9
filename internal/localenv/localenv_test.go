package localenv

import (
	"context"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// requireAssets fails the test unless the control plane is available the
// way `make test` provides it.
func requireAssets(t *testing.T) {
	t.Helper()
	if os.Getenv(AssetsEnv) == "" {
		t.Fatal(AssetsEnv + " is not set: run `make test`, or " +
			AssetsEnv + "=$(hack/controlplane.sh) go test ./internal/localenv/")
	}
}

// TestEnvRunsABackupAndLeavesNothingRunning starts the whole environment
// from the binaries, runs one backup through it, crashes and restarts the
// manager, and checks that Stop ends every process.
func TestEnvRunsABackupAndLeavesNothingRunning(t *testing.T) {
	requireAssets(t)
	g := NewWithT(t)
	logf.SetLogger(zap.New(zap.WriteTo(t.Output())))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	env, err := New(Options{Progress: t.Output()})
	g.Expect(err).NotTo(HaveOccurred())
	defer env.StopOnSignal()()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = env.Stop()
		}
	})

	cp, err := env.StartControlPlane(ctx, ControlPlaneOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	sim, err := env.StartSimulator(ctx, SimulatorOptions{Instances: []string{"inst-1"}, BackupDuration: 2 * time.Second})
	g.Expect(err).NotTo(HaveOccurred())
	mgr, err := env.StartManager(ctx, ManagerOptions{Metrics: true})
	g.Expect(err).NotTo(HaveOccurred())

	const ns = "localenv"
	g.Expect(CreateNamespace(ctx, cp.Client, ns)).To(Succeed())
	g.Expect(CreateNamespace(ctx, cp.Client, ns)).To(Succeed(), "an existing namespace is fine")
	g.Expect(CreateCredentialsSecret(ctx, cp.Client, ns, "creds", sim.AccessKey, "wrong")).To(Succeed())
	g.Expect(CreateCredentialsSecret(ctx, cp.Client, ns, "creds", sim.AccessKey, sim.SecretKey)).To(Succeed(),
		"an existing Secret is replaced")
	backup := &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b1"},
		Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
			InstanceID: "inst-1",
			Connection: backupv1alpha1.Connection{ProjectID: sim.ProjectID, Endpoint: sim.URL,
				CredentialsSecretRef: backupv1alpha1.SecretReference{Name: "creds"}},
		}},
	}
	g.Expect(cp.Client.Create(ctx, backup)).To(Succeed())
	waitSucceeded(g, ctx, cp.Client, client.ObjectKeyFromObject(backup))

	out, err := cp.Kubectl(ctx, "get", "dcsb", "-n", ns, "-o", "name").CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(out))
	g.Expect(string(out)).To(Equal("dcsbackup.backup.dcs-operator.dev/b1\n"))
	records, err := sim.Backups(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(records).To(HaveLen(1))
	g.Expect(mgr.MetricsURL).NotTo(BeEmpty())
	g.Expect(ProcUsage(mgr.PID())).To(HaveField("RSSBytes", BeNumerically(">", 0)))

	// A crash and a restart, as a chaos test would do them.
	crashed := mgr.PID()
	g.Expect(mgr.Kill()).To(Succeed())
	g.Expect(processExists(crashed)).To(BeFalse())
	g.Expect(mgr.Start(ctx)).To(Succeed())
	g.Expect(mgr.Restart(ctx)).To(Succeed())

	pids, err := ChildPIDs()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pids).To(ContainElements(mgr.PID(), sim.Process().PID()))
	g.Expect(len(pids)).To(BeNumerically(">=", 4), "kube-apiserver and etcd too")

	stopped = true
	g.Expect(env.Stop()).To(Succeed())
	g.Expect(ChildPIDs()).To(BeEmpty())
	for _, pid := range pids {
		g.Expect(processExists(pid)).To(BeFalse(), "pid %d", pid)
	}
	g.Expect(env.Dir).NotTo(BeADirectory(), "the temporary state directory is removed")
	g.Expect(env.Stop()).To(Succeed(), "a second Stop is harmless")
}

func waitSucceeded(g Gomega, ctx context.Context, c client.Client, key client.ObjectKey) {
	g.Eventually(func(g Gomega) {
		var b backupv1alpha1.DCSBackup
		g.Expect(c.Get(ctx, key, &b)).To(Succeed())
		g.Expect(b.Status.Phase).To(Equal(backupv1alpha1.PhaseSucceeded), "conditions: %+v", b.Status.Conditions)
	}).WithTimeout(2 * time.Minute).WithPolling(250 * time.Millisecond).Should(Succeed())
}
