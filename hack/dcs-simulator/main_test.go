package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// binary is the simulator's main logic running in-process.
type binary struct {
	addr string
	logs *lockedBuffer
	stop func() error
}

func startBinary(t *testing.T, args ...string) binary {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := binary{logs: &lockedBuffer{}}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, b.logs, b.logs, func(addr string) { addrc <- addr }) }()
	select {
	case b.addr = <-addrc:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("simulator did not start")
	}
	b.stop = func() error { cancel(); return <-done }
	return b
}

// TestServesSignedRequests runs the binary's main logic and talks to it
// with the real client.
func TestServesSignedRequests(t *testing.T) {
	const ak, sk = "BINARYTESTACCESSKEY1", "binary-test-secret-key-0000000000"
	bin := startBinary(t, "--listen=127.0.0.1:0", "--project-id=p1", "--access-key="+ak, "--secret-key="+sk,
		"--instances=inst-a,inst-s:single,inst-c:cluster:ERROR", "--backup-duration=1h", "--rate-limit=100")
	ctx := context.Background()
	client, err := dcs.New(dcs.Config{Endpoint: "http://" + bin.addr, AllowInsecure: true, ProjectID: "p1",
		Credentials: dcs.Credentials{AccessKey: ak, SecretKey: sk}, Limiter: dcs.NewLimiter(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	wantInstance(t, client, "inst-a", dcs.Instance{ID: "inst-a", Status: "RUNNING", CacheMode: "ha"})
	wantInstance(t, client, "inst-c", dcs.Instance{ID: "inst-c", Status: "ERROR", CacheMode: "cluster"})
	id, err := client.CreateBackup(ctx, "inst-a", dcs.CreateBackupRequest{Remark: "from the binary test", Format: dcs.FormatAOF})
	if err != nil {
		t.Fatal(err)
	}
	if bs, err := client.ListBackups(ctx, "inst-a", dcs.ListOptions{}); err != nil || len(bs) != 1 || bs[0].ID != id {
		t.Fatalf("%+v %v", bs, err)
	}
	if _, err = client.CreateBackup(ctx, "inst-s", dcs.CreateBackupRequest{}); dcs.Classify(err) != dcs.ClassUnsupported {
		t.Fatalf("single-node: %v", err)
	}
	if recs := adminBackups(t, bin.addr); len(recs) != 1 || recs[0].Remark != "from the binary test" {
		t.Fatalf("admin backups: %+v", recs)
	}

	if err := bin.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	out := bin.logs.String()
	if !strings.Contains(out, "dcs simulator listening") || strings.Count(out, "msg=request") < 5 {
		t.Fatalf("logs: %s", out)
	}
	if strings.Contains(out, sk) || strings.Contains(out, ak) {
		t.Fatalf("logs leak a key: %s", out)
	}
}

// eventually polls cond every 10 ms until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServesImportsLinksAndTags runs the new calls against the binary:
// tagged instances, download links served by the binary itself, and a
// backup import into an instance whose password is set over the admin API.
func TestServesImportsLinksAndTags(t *testing.T) {
	const password = "binary-test-redis-password"
	bin := startBinary(t, "--listen=127.0.0.1:0", "--instances=src:size=3KiB:tag.env=prod,dst:cluster:shards=2:tag.env=prod,other",
		"--backup-duration=20ms", "--import-duration=20ms", "--max-backups=5")
	ctx := context.Background()
	client, err := dcs.New(dcs.Config{Endpoint: "http://" + bin.addr, AllowInsecure: true, ProjectID: simulator.DefaultProjectID,
		Credentials: dcs.Credentials{AccessKey: simulator.DefaultAccessKey, SecretKey: simulator.DefaultSecretKey},
		Limiter:     dcs.NewLimiter(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	adminPost(t, bin.addr, "instances", `{"instance_id":"dst","password":"`+password+`"}`)

	insts, err := client.ListInstances(ctx, dcs.ListInstancesOptions{Tags: map[string]string{"env": "prod"}})
	if err != nil || len(insts) != 2 || insts[0].ID != "src" || insts[1].ID != "dst" {
		t.Fatalf("instances %+v %v", insts, err)
	}
	bid, err := client.CreateBackup(ctx, "src", dcs.CreateBackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "backup", func() bool {
		bs, err := client.ListBackups(ctx, "src", dcs.ListOptions{})
		return err == nil && len(bs) == 1 && bs[0].Status == dcs.BackupSucceeded
	})
	checkDownload(t, client, "src", bid, 3<<10)

	req := dcs.ImportTaskRequest{TaskName: "import-1", BackupID: bid, TargetInstanceID: "dst", TargetPassword: password + "x"}
	if _, err := client.CreateImportTask(ctx, req); !dcs.IsWrongPassword(err) {
		t.Fatalf("wrong password: %v", err)
	}
	req.TargetPassword = password
	task, err := client.CreateImportTask(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "import", func() bool {
		shown, err := client.ShowImportTask(ctx, task.ID)
		return err == nil && shown.State == dcs.ImportSucceeded
	})
	if err := bin.stop(); err != nil {
		t.Fatal(err)
	}
	if logs := bin.logs.String(); strings.Contains(logs, password) || strings.Contains(logs, "Signature=") {
		t.Fatalf("logs leak a secret: %s", dcs.RedactURL(strings.ReplaceAll(logs, password, "<LEAKED>")))
	}
}

func adminPost(t *testing.T, addr, path, body string) {
	t.Helper()
	res, err := http.Post("http://"+addr+simulator.AdminPrefix+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("admin %s: %d", path, res.StatusCode)
	}
}

// checkDownload downloads the one file of a backup through its link and
// compares it with the simulator's content.
func checkDownload(t *testing.T, client *dcs.Client, inst, bid string, size int64) {
	t.Helper()
	files, err := client.ListBackupFileLinks(context.Background(), inst, bid, time.Hour)
	if err != nil || len(files.Links) != 1 {
		t.Fatalf("links %+v %v", files, err)
	}
	res, err := http.Get(files.Links[0].URL.Reveal())
	if err != nil {
		t.Fatal(dcs.RedactError(err))
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	want := simulator.ObjectContent(files.BucketName, files.FilePath+files.Links[0].FileName, size)
	if sum := sha256.Sum256(body); res.StatusCode != 200 || hex.EncodeToString(sum[:]) != want.SHA256() {
		t.Fatalf("download: %d, %d bytes", res.StatusCode, len(body))
	}
}

func wantInstance(t *testing.T, c *dcs.Client, id string, want dcs.Instance) {
	t.Helper()
	got, err := c.ShowInstance(context.Background(), id)
	if err != nil || got.ID != want.ID || got.Status != want.Status || got.CacheMode != want.CacheMode {
		t.Fatalf("instance %+v (%v), want %+v", got, err, want)
	}
}

func adminBackups(t *testing.T, addr string) []simulator.BackupRecord {
	t.Helper()
	res, err := http.Get("http://" + addr + simulator.AdminPrefix + "backups")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var recs []simulator.BackupRecord
	if err := json.NewDecoder(res.Body).Decode(&recs); err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestHelpAndBadFlags(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out, &out, nil)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"-listen", "-project-id", "-access-key", "-secret-key", "-instances", "-backup-duration",
		"-restore-duration", "-error-rate", "-throttle-rate", "-latency", "-rate-limit", "-auto-backup-interval",
		"-import-duration", "-import-password-check", "-link-expiry", "-link-head-forbidden", "-backup-size", "-max-backups",
		"-import-fail-rate", "-download-rate", "shards=N", "tag.KEY=VALUE", "/_obs/",
		"/_sim/stats", "/_sim/faults", "/_sim/restores", "/_sim/instances", "/_sim/imports", "/_sim/tags", "/_sim/untag",
		"/_sim/instances/remove", "/_sim/links/expire", "/_sim/fail-imports", "/_sim/backup-files"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %s", want)
		}
	}
	if strings.Contains(out.String(), simulator.DefaultSecretKey) {
		t.Error("--help shows the default secret key")
	}
	for _, args := range [][]string{
		{"--nope"}, {"extra"}, {"--error-rate=2"}, {"--instances=a:weird"}, {"--access-key="}, {"--listen=256.0.0.1:x"},
		{"--import-password-check=never"}, {"--backup-size=big"}, {"--import-duration=0"}, {"--link-expiry=-1s"},
		{"--import-fail-rate=1.5"}, {"--download-rate=fast"}, {"--download-rate=0"},
	} {
		if err := run(context.Background(), args, &out, &out, nil); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestParseInstances(t *testing.T) {
	got, err := parseInstances(" a , b:single,c:cluster:FROZEN,,d:ERROR,e:cluster:shards=6:size=2MiB:tag.env=prod:tag.team=:tag.a=b=c")
	if err != nil {
		t.Fatal(err)
	}
	want := []simulator.Instance{{ID: "a"}, {ID: "b", CacheMode: "single"}, {ID: "c", CacheMode: "cluster", Status: "FROZEN"},
		{ID: "d", Status: "ERROR"}, {ID: "e", CacheMode: "cluster", ShardCount: 6, BackupSize: 2 << 20,
			Tags: map[string]string{"env": "prod", "team": "", "a": "b=c"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{":single", "a:Single", "a:x", "a:shards=0", "a:shards=65", "a:shards=x", "a:size=1TB",
		"a:size=0", "a:size=-1", "a:tag.=x", "a:tag=x", "a:password=x"} {
		if _, err := parseInstances(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "1024": 1024, "8B": 8, "3KiB": 3 << 10, "64MiB": 64 << 20, "1GiB": 1 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "MiB", "1.5GiB", "1gb", "-1", "0", "99999999GiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestDownloadRateFlag(t *testing.T) {
	var out bytes.Buffer
	c, err := parseFlags([]string{"--download-rate=8MiB"}, &out)
	if err != nil || c.opts.DownloadRate != 8<<20 {
		t.Fatalf("--download-rate=8MiB: %d, %v", c.opts.DownloadRate, err)
	}
	if c, err = parseFlags(nil, &out); err != nil || c.opts.DownloadRate != 0 {
		t.Fatalf("default: %d, %v (want unlimited)", c.opts.DownloadRate, err)
	}
}
