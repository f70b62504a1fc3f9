package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// lockedBuffer collects the demo's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDemoSmoke is `make demo` in its bounded mode: the samples' backups
// reach Succeeded against the simulator, the sample backup with
// spec.export is copied into the demo's versitygw, the sample schedule
// creates a child, and nothing is left running afterwards.
func TestDemoSmoke(t *testing.T) {
	if os.Getenv(localenv.AssetsEnv) == "" {
		t.Fatal(localenv.AssetsEnv + " is not set: run `make test`, or " +
			localenv.AssetsEnv + "=$(hack/controlplane.sh) go test ./hack/demo/")
	}
	g := NewWithT(t)
	// Ctrl-C on `go test` ends the demo the way it ends `make demo`.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := localenv.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	samples, err := loadSamples(filepath.Join(root, "config", "samples"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(samples.backups).NotTo(BeEmpty())
	g.Expect(samples.schedules).NotTo(BeEmpty())
	backup, schedule := regexp.QuoteMeta(samples.firstBackup()), regexp.QuoteMeta(samples.firstSchedule())
	g.Expect(samples.firstExport()).NotTo(BeEmpty(), "a sample DCSBackup with spec.export")
	g.Expect(samples.storages).NotTo(BeEmpty())
	exported := regexp.QuoteMeta(samples.firstExport())

	var out lockedBuffer
	code := run(ctx, []string{"--until-succeeded", "--for=3m", "--require-schedule-child", "--refresh=1s"}, &out)
	output := out.String()
	t.Log("demo output:\n" + output)
	g.Expect(code).To(Equal(exitOK))

	g.Expect(output).NotTo(ContainSubstring("\033["), "no ANSI sequences when stdout is not a terminal")
	g.Expect(output).To(ContainSubstring("--kubeconfig "), "a ready-to-paste kubectl line")
	g.Expect(output).To(ContainSubstring("/_sim/stats"), "the simulator's admin URL")
	g.Expect(output).To(ContainSubstring(`-> "* * * * *" (every minute, for the demo)`))
	g.Expect(output).To(MatchRegexp(`(?m)^`+backup+`\s+Succeeded\s+100\.00\s`), "the table shows the sample Succeeded")
	g.Expect(output).To(MatchRegexp(`demo: OK after \S+: DCSBackup ` + backup + ` Succeeded .*` +
		`DCSBackup ` + exported + ` exported \(1 file and manifest.json in bucket \S+\).*` +
		`schedule ` + schedule + ` created DCSBackup \S+`))
	g.Expect(output).To(MatchRegexp(`(?m)^`+exported+`\s+Succeeded\s.*\sSucceeded \(1 file\)\s`),
		"the table shows the export")
	g.Expect(output).To(MatchRegexp(`(?m)^\s+DCSBackupStorage \S+: endpoint \S+ -> http://127\.0\.0\.1:\d+ `),
		"the storage pointed at the demo's versitygw")
	g.Expect(output).To(MatchRegexp(`(?m)^export: +ls -l /`), "where to look at the export")
	g.Expect(output).To(ContainSubstring("stopped: nothing left running"))
	g.Expect(localenv.ChildPIDs()).To(BeEmpty())
}

func TestFlags(t *testing.T) {
	g := NewWithT(t)
	var out strings.Builder
	_, err := parseFlags([]string{"--until-succeeded"}, &out)
	g.Expect(err).To(MatchError(ContainSubstring("--for")))
	cfg, err := parseFlags([]string{"--for=90s", "--until-succeeded", "--require-schedule-child=false"}, &out)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cfg.runFor).To(Equal(90 * time.Second))
	g.Expect(cfg.requireChild).To(BeFalse())
	g.Expect(cfg.schedule).To(Equal("* * * * *"))

	t.Setenv("DEMO_DURATION", "2m")
	cfg, err = parseFlags(nil, &out)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cfg.runFor).To(Equal(2 * time.Minute))

	g.Expect(run(context.Background(), []string{"--help"}, &out)).To(Equal(exitOK))
	g.Expect(out.String()).To(ContainSubstring("Ctrl-C stops everything"))
	g.Expect(run(context.Background(), []string{"extra"}, &out)).To(Equal(exitUsage))
}

func TestSamplesExportOnlyToSampleStorages(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	write := func(yaml string) {
		g.Expect(os.WriteFile(filepath.Join(dir, "samples.yaml"), []byte(yaml), 0o644)).To(Succeed())
	}
	const backup = `apiVersion: backup.dcs-operator.dev/v1alpha1
kind: DCSBackup
metadata: {name: b}
spec:
  instanceID: i-1
  connection: {projectID: p, region: r, credentialsSecretRef: {name: dcs-credentials}}
  export: {storageRef: {name: offsite}}
`
	const storage = `apiVersion: backup.dcs-operator.dev/v1alpha1
kind: DCSBackupStorage
metadata: {name: offsite}
spec: {endpoint: "https://s3.example", bucket: bk, prefix: p/, credentialsSecretRef: {name: SECRET}}
`
	write(backup)
	_, err := loadSamples(dir)
	g.Expect(err).To(MatchError(ContainSubstring(`DCSBackup b exports to "offsite", which is not a sample DCSBackupStorage`)))

	write(strings.ReplaceAll(storage, "SECRET", "dcs-credentials") + "---\n" + backup)
	_, err = loadSamples(dir)
	g.Expect(err).To(MatchError(ContainSubstring("which DCS connections use too")))

	write(strings.ReplaceAll(storage, "SECRET", "bucket-credentials") + "---\n" + backup)
	s, err := loadSamples(dir)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.firstExport()).To(Equal("b"))
	g.Expect(s.buckets()).To(Equal([]string{"bk"}))
	g.Expect(s.storageSecretNames).To(Equal([]string{"bucket-credentials"}))
	bucket, path := s.exportPath("b", "ns")
	g.Expect(bucket + "/" + path).To(Equal("bk/p/ns/b/"))
}
