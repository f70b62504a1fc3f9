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

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
	"github.com/dcs-operator/dcs-backup-operator/internal/plugin"
)

// The plugin is tested the way people run it: the kubectl-dcs binary of
// the release archive (hack/plugin-dist.sh) for this platform, on the PATH
// of the real kubectl (the one built with the control plane), which finds
// it as the plugin of `kubectl dcs`.
// Behind the API server are the operator's manager, as a process, and the
// DCS simulator: the plugin's requests become real backups and restores.

const (
	ns             = "shop"
	secretName     = "dcs-credentials"
	stampedVersion = "v9.8.7-plugin-test"
	// The single-instance schedule backs up instA; the fleet schedule
	// selects instB and instC by tag, and skips instC (single-node).
	instA = "5560df16-cebf-4473-95c4-d1b573c16e79"
	instB = "7c0e3f52-3a1d-4bd6-9c44-0f7ad3e9b1a2"
	instC = "0f0e6a2c-5b7d-4b8e-9d6f-3c2a1b0e9d8c"
)

// plug runs kubectl dcs against one control plane and remembers all it
// printed, so the test can check that no secret ever appeared.
type plug struct {
	t          *testing.T
	kubectl    string
	env        []string
	allPrinted strings.Builder
}

// run runs `kubectl dcs args...` and returns its standard output and
// error, and the error of the run (an *exec.ExitError for a non-zero exit).
func (p *plug) run(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, p.kubectl, append([]string{"dcs"}, args...)...)
	cmd.Env = p.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	p.t.Logf("$ kubectl dcs %s\n%s%s", strings.Join(args, " "), out.String(), errOut.String())
	p.allPrinted.WriteString(out.String() + errOut.String())
	return out.String(), errOut.String(), err
}

// report runs kubectl dcs status -o json.
func (p *plug) report(ctx context.Context, g Gomega, args ...string) plugin.Report {
	out, _, err := p.run(ctx, append([]string{"status", "-o", "json"}, args...)...)
	g.Expect(err).NotTo(HaveOccurred())
	var r plugin.Report
	g.Expect(json.Unmarshal([]byte(out), &r)).To(Succeed())
	return r
}

func exitCode(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	return -1
}

// startEnv starts the control plane, the simulator and the manager, builds
// the plugin, and returns a runner of kubectl dcs, the environment and a
// client of the API server.
func startEnv(ctx context.Context, t *testing.T, g *WithT) (*plug, *localenv.Env, client.Client) {
	if os.Getenv(localenv.AssetsEnv) == "" {
		t.Fatal(localenv.AssetsEnv + " is not set: run `make test`, or " +
			localenv.AssetsEnv + "=$(hack/controlplane.sh) go test ./cmd/kubectl-dcs/")
	}
	env, err := localenv.New(localenv.Options{Progress: t.Output()})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(env.StopOnSignal())
	t.Cleanup(func() {
		g.Expect(env.Stop()).To(Succeed())
		g.Expect(localenv.ChildPIDs()).To(BeEmpty(), "nothing the test started is left running")
	})

	bin := env.Path("bin")
	manager := filepath.Join(bin, "manager")
	g.Expect(localenv.BuildPackage(ctx, env.Root, ".", manager)).To(Succeed())
	installFromReleaseArchive(ctx, g, env, bin)

	cp, err := env.StartControlPlane(ctx, localenv.ControlPlaneOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	sim, err := env.StartSimulatorInProcess(localenv.SimulatorOptions{
		Instances:      []string{instA, instB, instC + ":single"},
		BackupDuration: 2 * time.Second, RestoreDuration: 2 * time.Second,
	})
	g.Expect(err).NotTo(HaveOccurred())
	for _, id := range []string{instB, instC} {
		g.Expect(sim.InProcess().TagInstance(id, map[string]string{"env": "prod"})).To(Succeed())
	}
	_, err = env.StartManager(ctx, localenv.ManagerOptions{Binary: manager})
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(localenv.CreateNamespace(ctx, cp.Client, ns)).To(Succeed())
	g.Expect(localenv.CreateCredentialsSecret(ctx, cp.Client, ns, secretName, sim.AccessKey, sim.SecretKey)).To(Succeed())

	p := &plug{t: t, kubectl: cp.KubectlPath, env: append(os.Environ(),
		"KUBECONFIG="+cp.KubeconfigPath, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))}
	return p, env, cp.Client
}

// installFromReleaseArchive builds the release archive of this platform
// with hack/plugin-dist.sh, as make plugin-dist does for the krew manifest,
// checks what it holds, and unpacks the binary into bin.
func installFromReleaseArchive(ctx context.Context, g *WithT, env *localenv.Env, bin string) {
	dist := env.Path("dist")
	build := exec.CommandContext(ctx, filepath.Join(env.Root, "hack", "plugin-dist.sh"), dist, runtime.GOOS+"/"+runtime.GOARCH)
	build.Dir = env.Root
	build.Env = append(os.Environ(), "VERSION="+strings.TrimPrefix(stampedVersion, "v"),
		"LDFLAGS=-X "+localenv.ModulePath+"/internal/version.version="+stampedVersion)
	out, err := build.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(out))

	// The name plugins/krew/dcs.yaml gives the archive (hack/krew-manifest).
	name := fmt.Sprintf("kubectl-dcs_%s_%s_%s.tar.gz", stampedVersion, runtime.GOOS, runtime.GOARCH)
	archive, err := os.ReadFile(filepath.Join(dist, name))
	g.Expect(err).NotTo(HaveOccurred())
	sum := sha256.Sum256(archive)
	checksums, err := os.ReadFile(filepath.Join(dist, "kubectl-dcs_"+stampedVersion+"_checksums.txt"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(checksums)).To(Equal(hex.EncodeToString(sum[:]) + "  " + name + "\n"))

	zr, err := gzip.NewReader(bytes.NewReader(archive))
	g.Expect(err).NotTo(HaveOccurred())
	tr := tar.NewReader(zr)
	var files []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		g.Expect(err).NotTo(HaveOccurred())
		files = append(files, fmt.Sprintf("%s %o %d:%d", h.Name, h.Mode, h.Uid, h.Gid))
		if h.Name == "kubectl-dcs" {
			data, err := io.ReadAll(tr)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(os.MkdirAll(bin, 0o755)).To(Succeed())
			g.Expect(os.WriteFile(filepath.Join(bin, "kubectl-dcs"), data, 0o755)).To(Succeed())
		}
	}
	g.Expect(files).To(ConsistOf("LICENSE 644 0:0", "kubectl-dcs 755 0:0"), "what the krew manifest installs")
}

func connectionTo(sim *localenv.Simulator) backupv1alpha1.Connection {
	return backupv1alpha1.Connection{ProjectID: sim.ProjectID, Endpoint: sim.URL,
		CredentialsSecretRef: backupv1alpha1.SecretReference{Name: secretName}}
}

// createSchedules makes the schedules "orders" (instA) and "prod" (the
// fleet of the instances tagged env=prod), at 03:00 and 02:00 daily: every
// backup in the test is one the plugin asked for.
func createSchedules(ctx context.Context, g *WithT, c client.Client, sim *localenv.Simulator) {
	orders := &backupv1alpha1.DCSBackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders"},
		Spec: backupv1alpha1.DCSBackupScheduleSpec{Schedule: "0 3 * * *",
			Template: backupv1alpha1.DCSBackupTemplate{Spec: backupv1alpha1.DCSBackupTemplateSpec{
				InstanceID: instA, Connection: connectionTo(sim)}}},
	}
	prod := &backupv1alpha1.DCSBackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod"},
		Spec: backupv1alpha1.DCSBackupScheduleSpec{Schedule: "0 2 * * *",
			InstanceSelector: &backupv1alpha1.InstanceSelector{Tags: map[string]string{"env": "prod"}},
			Template:         backupv1alpha1.DCSBackupTemplate{Spec: backupv1alpha1.DCSBackupTemplateSpec{Connection: connectionTo(sim)}}},
	}
	g.Expect(c.Create(ctx, orders)).To(Succeed())
	g.Expect(c.Create(ctx, prod)).To(Succeed())
}

func TestKubectlDCS(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p, env, c := startEnv(ctx, t, g)
	sim := env.Simulator
	t.Cleanup(func() {
		g.Expect(p.allPrinted.String()).NotTo(ContainSubstring(sim.SecretKey), "the plugin never prints a secret")
	})
	createSchedules(ctx, g, c, sim)

	t.Run("version", func(t *testing.T) {
		out, _, err := p.run(ctx, "version")
		NewWithT(t).Expect(err).NotTo(HaveOccurred())
		NewWithT(t).Expect(out).To(HavePrefix("kubectl-dcs " + stampedVersion + " "))
	})
	t.Run("status before any backup", func(t *testing.T) { statusBeforeBackups(ctx, NewWithT(t), p) })
	t.Run("backup runs a schedule now", func(t *testing.T) { backupSchedule(ctx, NewWithT(t), p, c, sim) })
	t.Run("backup runs a fleet now", func(t *testing.T) { backupFleet(ctx, NewWithT(t), p, sim) })
	t.Run("status after the runs", func(t *testing.T) { statusAfterRuns(ctx, NewWithT(t), p) })
	t.Run("one-off backups", func(t *testing.T) { oneOffBackups(ctx, NewWithT(t), p, c, sim) })
	t.Run("restore in place", func(t *testing.T) { restoreInPlace(ctx, NewWithT(t), p, c, sim) })
	t.Run("restore into another instance", func(t *testing.T) { restoreImport(ctx, NewWithT(t), p, c, sim) })
	t.Run("a failed restore", func(t *testing.T) { restoreFails(ctx, NewWithT(t), p, sim) })
	t.Run("loose backups", func(t *testing.T) { looseBackups(ctx, NewWithT(t), p) })
	// Last: it stops the manager.
	t.Run("no operator", func(t *testing.T) { noOperator(ctx, NewWithT(t), p, env) })
}

// statusBeforeBackups: a row per instance, the fleet's once the operator
// listed its instances; no success yet.
func statusBeforeBackups(ctx context.Context, g *WithT, p *plug) {
	g.Eventually(func(g Gomega) {
		r := p.report(ctx, g, "-n", ns)
		g.Expect(r.Instances).To(HaveLen(3))
		g.Expect(r.Instances[0]).To(And(HaveField("Schedule", "orders"), HaveField("InstanceID", instA),
			HaveField("LastSuccessfulTime", BeNil()), HaveField("NextScheduleTime", Not(BeNil())), HaveField("Ready", "True")))
		g.Expect(r.Instances[1:]).To(ConsistOf(
			And(HaveField("Schedule", "prod"), HaveField("InstanceID", instB), HaveField("Skipped", ""), HaveField("Ready", "True")),
			And(HaveField("Schedule", "prod"), HaveField("InstanceID", instC), HaveField("Skipped", ContainSubstring("single-node")))))
	}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())

	out, _, err := p.run(ctx, "status", "-n", ns)
	g.Expect(err).NotTo(HaveOccurred())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	g.Expect(lines).To(HaveLen(4))
	g.Expect(strings.Fields(lines[0])).To(Equal(strings.Fields(
		"SCHEDULE INSTANCE NAME LAST SUCCESS FRESH NEXT RUN RUNNING LAST EXPORT READY")))
	g.Expect(lines[1]).To(MatchRegexp(`^orders +` + instA + ` +<none> +never +\S+ +in \S+ +<none> +<none> +True$`))
}

// backupSchedule: backup SCHEDULE --wait sets the run-now annotation, names
// the child the operator makes and follows it to Succeeded.
func backupSchedule(ctx context.Context, g *WithT, p *plug, c client.Client, sim *localenv.Simulator) {
	out, _, err := p.run(ctx, "backup", "orders", "-n", ns, "--wait", "--timeout", "3m")
	g.Expect(err).NotTo(HaveOccurred())

	var s backupv1alpha1.DCSBackupSchedule
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "orders"}, &s)).To(Succeed())
	token := s.Annotations[backupv1alpha1.AnnotationRunNow]
	g.Expect(token).To(HavePrefix("kubectl-dcs-"))
	g.Expect(s.Status.LastRunNowToken).To(Equal(token))
	child := backupv1alpha1.RunNowChildName("orders", token)
	g.Expect(out).To(ContainSubstring("dcsbackupschedule/orders: run requested (" + backupv1alpha1.AnnotationRunNow + "=" + token + ")\n"))
	g.Expect(out).To(ContainSubstring("dcsbackup/" + child + " created\n"))

	var b backupv1alpha1.DCSBackup
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: child}, &b)).To(Succeed())
	g.Expect(b.Status.Phase).To(Equal(backupv1alpha1.PhaseSucceeded), "--wait returned only once it ended")
	g.Expect(out).To(MatchRegexp(`(?m)\s+dcsbackup/` + child + `  Succeeded \(DCS backup \S+, ` + b.Status.BackupID + `, \d+ bytes\)$`))
	g.Expect(sim.InProcess().Backups()).To(ContainElement(And(
		HaveField("InstanceID", instA), HaveField("ID", b.Status.BackupID))))
}

// backupFleet: the run of a fleet schedule makes one backup per instance
// it can back up, and --wait follows them all.
func backupFleet(ctx context.Context, g *WithT, p *plug, sim *localenv.Simulator) {
	out, _, err := p.run(ctx, "backup", "prod", "-n", ns, "--wait", "--timeout", "3m")
	g.Expect(err).NotTo(HaveOccurred())
	created := strings.Count(out, " created\n")
	g.Expect(created).To(Equal(1), "instC is single-node: only instB is backed up")
	g.Expect(out).To(MatchRegexp(`dcsbackup/prod-run-[0-9a-f]{10}-` + instB + ` created\n`))
	g.Expect(out).To(MatchRegexp(`dcsbackup/prod-run-[0-9a-f]{10}-` + instB + `  Succeeded \(DCS backup`))
	g.Expect(sim.InProcess().Backups()).To(ContainElement(HaveField("InstanceID", instB)))
	g.Expect(sim.InProcess().Backups()).NotTo(ContainElement(HaveField("InstanceID", instC)))
}

// statusAfterRuns: the last successes, fresh, and nothing running.
func statusAfterRuns(ctx context.Context, g *WithT, p *plug) {
	g.Eventually(func(g Gomega) {
		r := p.report(ctx, g, "-n", ns)
		g.Expect(r.Instances).To(HaveLen(3))
		g.Expect(r.Instances[0]).To(And(HaveField("InstanceID", instA), HaveField("Fresh", "True"),
			HaveField("LastSuccessfulBackup", HavePrefix("orders-run-")), HaveField("LastSuccessfulTime", Not(BeNil())),
			HaveField("Running", BeEmpty())))
		g.Expect(r.Instances).To(ContainElement(And(HaveField("InstanceID", instB), HaveField("Fresh", "True"),
			HaveField("LastSuccessfulBackup", HavePrefix("prod-run-")), HaveField("Running", BeEmpty()))))
	}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())

	out, _, err := p.run(ctx, "status", "orders", "-n", ns)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(MatchRegexp(`(?m)^orders +` + instA + ` +<none> +\S+ ago +True +in \S+ +<none> +<none> +True$`))

	out, _, err = p.run(ctx, "status", "-A")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(MatchRegexp(`^NAMESPACE +SCHEDULE +INSTANCE`))
	g.Expect(out).To(MatchRegexp(`(?m)^shop +prod +` + instB + ` `))
}

// oneOffBackups: --instance with the connection of a schedule, and one
// that fails in DCS: --wait exits non-zero and says why.
func oneOffBackups(ctx context.Context, g *WithT, p *plug, c client.Client, sim *localenv.Simulator) {
	out, _, err := p.run(ctx, "backup", "--instance", instA, "--connection-from", "schedule/orders", "-n", ns,
		"--name", "before-upgrade", "--remark", "before upgrade", "--wait", "--timeout", "3m")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(HavePrefix("dcsbackup/before-upgrade created (instance " + instA + ", connection of dcsbackupschedule/orders)\n"))
	var b backupv1alpha1.DCSBackup
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "before-upgrade"}, &b)).To(Succeed())
	g.Expect(b.Status.Phase).To(Equal(backupv1alpha1.PhaseSucceeded))
	var orders backupv1alpha1.DCSBackupSchedule
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "orders"}, &orders)).To(Succeed())
	g.Expect(b.Spec.Connection).To(Equal(orders.Spec.Template.Spec.Connection), "the schedule's connection, as stored")
	g.Expect(b.Spec.Connection.Endpoint).To(Equal(sim.URL))
	g.Expect(b.Spec.Remark).To(Equal("before upgrade"))
	g.Expect(b.Labels).NotTo(HaveKey(backupv1alpha1.LabelSchedule), "a one-off backup is no schedule's")

	sim.InProcess().FailNextBackups(instB, 1)
	_, errOut, err := p.run(ctx, "backup", "--instance", instB, "--connection-from", "before-upgrade", "-n", ns,
		"--name", "doomed", "--wait", "--timeout", "3m")
	g.Expect(exitCode(err)).To(Equal(1))
	g.Expect(errOut).To(HavePrefix("error: dcsbackup/doomed ended Failed: BackupFailed: "))

	// Without --wait it returns once the DCSBackup exists.
	out, _, err = p.run(ctx, "backup", "--instance", instB, "--connection-from", "backup/before-upgrade", "-n", ns)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(MatchRegexp(`^dcsbackup/` + instB + `-\d{14} created \(instance ` + instB + `, connection of dcsbackup/before-upgrade\)\n$`))
}

// restoreInPlace: restore BACKUP --yes says what it overwrites, backs the
// instance up first, and follows the restore to Succeeded.
func restoreInPlace(ctx context.Context, g *WithT, p *plug, c client.Client, sim *localenv.Simulator) {
	var b backupv1alpha1.DCSBackup
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "before-upgrade"}, &b)).To(Succeed())

	// Without a terminal to ask on and without --yes, nothing happens.
	_, errOut, err := p.run(ctx, "restore", "before-upgrade", "-n", ns)
	g.Expect(exitCode(err)).To(Equal(1))
	g.Expect(errOut).To(ContainSubstring("confirm with --yes"))
	var restores backupv1alpha1.DCSRestoreList
	g.Expect(c.List(ctx, &restores, client.InNamespace(ns))).To(Succeed())
	g.Expect(restores.Items).To(BeEmpty())

	out, _, err := p.run(ctx, "restore", "before-upgrade", "-n", ns, "--yes", "--name", "rollback", "--timeout", "3m")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("into instance " + instA + ", in place: ITS DATA IS REPLACED"))
	g.Expect(out).To(ContainSubstring("after backing the target up as dcsbackup/rollback-pre\n"))
	g.Expect(out).To(ContainSubstring("dcsrestore/rollback created\n"))
	g.Expect(out).To(MatchRegexp(`dcsrestore/rollback  Succeeded \(in-place restore of DCS backup ` + b.Status.BackupID +
		` into instance ` + instA + `\)\n$`))

	var r backupv1alpha1.DCSRestore
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "rollback"}, &r)).To(Succeed())
	g.Expect(r.Status.Phase).To(Equal(backupv1alpha1.RestorePhaseSucceeded))
	g.Expect(r.Spec.BackupRef).To(Equal(&backupv1alpha1.LocalObjectReference{Name: "before-upgrade"}))
	var pre backupv1alpha1.DCSBackup
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "rollback-pre"}, &pre)).To(Succeed())
	g.Expect(pre.Status.Phase).To(Equal(backupv1alpha1.PhaseSucceeded), "the instance was backed up before")
	g.Expect(sim.InProcess().Restores()).To(ConsistOf(And(
		HaveField("InstanceID", instA), HaveField("BackupID", b.Status.BackupID))))
}

// restoreImport: --target-instance imports the backup into another
// instance, without a pre-restore backup.
func restoreImport(ctx context.Context, g *WithT, p *plug, c client.Client, sim *localenv.Simulator) {
	out, _, err := p.run(ctx, "restore", "before-upgrade", "-n", ns, "--yes", "--name", "to-b",
		"--target-instance", instB, "--pre-restore-backup=false", "--timeout", "3m")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("into instance " + instB + " (import: the keys the backup holds are overwritten)\n"))
	g.Expect(out).To(ContainSubstring("without backing the target up first"))
	g.Expect(out).To(MatchRegexp(`dcsrestore/to-b  Succeeded \(import restore of DCS backup \S+ into instance ` + instB + `\)\n$`))
	var r backupv1alpha1.DCSRestore
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "to-b"}, &r)).To(Succeed())
	g.Expect(r.Status.MigrationTaskID).NotTo(BeEmpty())
	g.Expect(sim.InProcess().Imports()).To(ContainElement(HaveField("TargetInstanceID", instB)))
}

// restoreFails: a restore DCS fails ends the command with exit code 1 and
// the reason.
func restoreFails(ctx context.Context, g *WithT, p *plug, sim *localenv.Simulator) {
	sim.InProcess().FailNextRestores(instA, 1)
	_, errOut, err := p.run(ctx, "restore", "before-upgrade", "-n", ns, "--yes", "--name", "bad-rollback",
		"--pre-restore-backup=false", "--timeout", "3m")
	g.Expect(exitCode(err)).To(Equal(1))
	g.Expect(errOut).To(HavePrefix("error: dcsrestore/bad-rollback ended Failed: "))
	g.Expect(sim.InProcess().Restores()).To(ContainElement(And(HaveField("InstanceID", instA),
		HaveField("ErrorCode", Not(BeEmpty())))))
}

// looseBackups: status --loose lists what no schedule made.
func looseBackups(ctx context.Context, g *WithT, p *plug) {
	r := p.report(ctx, g, "-n", ns, "--loose")
	g.Expect(r.Backups).To(ContainElements(
		And(HaveField("Name", "before-upgrade"), HaveField("Phase", backupv1alpha1.PhaseSucceeded), HaveField("Origin", "")),
		And(HaveField("Name", "doomed"), HaveField("Phase", backupv1alpha1.PhaseFailed)),
		And(HaveField("Name", "rollback-pre"), HaveField("Origin", "pre-restore backup of dcsrestore/rollback"))))
	g.Expect(r.Backups).NotTo(ContainElement(HaveField("Name", HavePrefix("orders-run-"))))
}

// noOperator: with no operator to act on the run-now annotation, backup
// gives up after --timeout and says what it waited for.
func noOperator(ctx context.Context, g *WithT, p *plug, env *localenv.Env) {
	g.Expect(env.Manager.Stop()).To(Succeed())
	start := time.Now()
	_, errOut, err := p.run(ctx, "backup", "orders", "-n", ns, "--timeout", "3s")
	g.Expect(exitCode(err)).To(Equal(1))
	g.Expect(time.Since(start)).To(BeNumerically(">=", 3*time.Second))
	g.Expect(errOut).To(Equal("error: timed out after 3s waiting for the operator to start the run of dcsbackupschedule/orders; " +
		"is the operator running? The annotation stays set: the run starts when the operator gets to it\n"))
}
