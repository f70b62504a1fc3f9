package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
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
		"/_sim/stats", "/_sim/faults", "/_sim/restores", "/_sim/instances"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %s", want)
		}
	}
	if strings.Contains(out.String(), simulator.DefaultSecretKey) {
		t.Error("--help shows the default secret key")
	}
	for _, args := range [][]string{
		{"--nope"}, {"extra"}, {"--error-rate=2"}, {"--instances=a:weird"}, {"--access-key="}, {"--listen=256.0.0.1:x"},
	} {
		if err := run(context.Background(), args, &out, &out, nil); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestParseInstances(t *testing.T) {
	got, err := parseInstances(" a , b:single,c:cluster:FROZEN,,d:ERROR")
	if err != nil {
		t.Fatal(err)
	}
	want := []simulator.Instance{{ID: "a"}, {ID: "b", CacheMode: "single"}, {ID: "c", CacheMode: "cluster", Status: "FROZEN"}, {ID: "d", Status: "ERROR"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{":single", "a:Single", "a:x"} {
		if _, err := parseInstances(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
