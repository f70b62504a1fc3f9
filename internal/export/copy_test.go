package export

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore/objectstoretest"
)

// world is a simulator with one succeeded backup and a fake bucket.
type world struct {
	sim      *simulator.Simulator
	api      *dcs.Client
	instance string
	backup   dcs.Backup
	store    *objectstoretest.Fake
	calls    atomic.Int32 // links calls
}

func newWorld(t *testing.T, inst simulator.Instance) *world {
	t.Helper()
	sim, srv := simulator.NewServer(simulator.Options{BackupDuration: time.Nanosecond, Instances: []simulator.Instance{inst}})
	t.Cleanup(srv.Close)
	api, err := dcs.New(dcs.Config{Endpoint: srv.URL, AllowInsecure: true, ProjectID: simulator.DefaultProjectID,
		Credentials: dcs.Credentials{AccessKey: simulator.DefaultAccessKey, SecretKey: simulator.DefaultSecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := api.CreateBackup(ctx, inst.ID, dcs.CreateBackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{sim: sim, api: api, instance: inst.ID, store: &objectstoretest.Fake{}}
	for w.backup.Status != dcs.BackupSucceeded {
		records, err := api.ListBackups(ctx, inst.ID, dcs.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records {
			if r.ID == id {
				w.backup = r
			}
		}
	}
	return w
}

func (w *world) job() Job {
	return Job{
		ID: "uid-1", Object: types.NamespacedName{Namespace: "ns", Name: "b"},
		Store: w.store, Folder: "ns/b/", AllowInsecure: true, StartedAt: time.Now(),
		Links: func(ctx context.Context) (dcs.BackupFiles, error) {
			w.calls.Add(1)
			return w.api.ListBackupFileLinks(ctx, w.instance, w.backup.ID, time.Hour)
		},
		Manifest: Manifest{
			Backup: ManifestBackup{InstanceID: w.instance, ID: w.backup.ID, Name: w.backup.Name, Size: w.backup.Size},
			Source: ManifestSource{Namespace: "ns", Name: "b", UID: "uid-1"},
		},
	}
}

// checkComplete checks that the manifest is in the bucket and that every
// file it names is there with the simulator's bytes and their SHA-256.
func (w *world) checkComplete(t *testing.T, res Result, files int) {
	t.Helper()
	if res.Err != nil || res.Manifest == nil {
		t.Fatalf("copy failed: %v", res.Err)
	}
	data, err := w.store.Get(context.Background(), "ns/b/"+ManifestName)
	if err != nil {
		t.Fatalf("no manifest: %v", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := w.sim.BackupFiles(w.instance, w.backup.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != files || len(want) != files {
		t.Fatalf("manifest has %d files, simulator %d, want %d", len(m.Files), len(want), files)
	}
	for i, f := range want {
		w.checkFile(t, m.Files[i], f)
	}
	if m.TotalSize != w.backup.Size || m.Backup.ID != w.backup.ID {
		t.Errorf("manifest %+v for backup %+v", m, w.backup)
	}
}

// checkFile compares a file in the bucket and its manifest entry with the
// bytes the simulator serves.
func (w *world) checkFile(t *testing.T, got ManifestFile, f simulator.BackupFile) {
	t.Helper()
	data, err := w.store.Get(context.Background(), "ns/b/"+f.Name)
	if err != nil {
		t.Fatal(err)
	}
	content, _ := io.ReadAll(f.Content().Reader())
	if string(data) != string(content) {
		t.Errorf("%s: the bucket's bytes differ from the link's", f.Name)
	}
	if got.Name != f.Name || got.Size != f.Size || got.SHA256 != f.Content().SHA256() {
		t.Errorf("manifest file %+v, want %s %d %s", got, f.Name, f.Size, f.Content().SHA256())
	}
}

func TestRunCopiesEveryShardAndWritesTheManifestLast(t *testing.T) {
	w := newWorld(t, simulator.Instance{ID: "c1", CacheMode: "cluster", ShardCount: 3, BackupSize: 3<<20 + 7})
	var order []string
	var mu sync.Mutex
	w.store.Fail = func(op, key string) error {
		if op == "upload" || op == "put" {
			mu.Lock()
			order = append(order, key)
			mu.Unlock()
		}
		return nil
	}
	res := Run(context.Background(), w.job())
	w.checkComplete(t, res, 3)
	if len(order) != 4 || order[3] != "ns/b/"+ManifestName {
		t.Errorf("writes %v: the manifest must come last", order)
	}
	if res.Bytes != w.backup.Size || res.Adopted {
		t.Errorf("result %+v", res)
	}
	if res.Started.IsZero() || res.Ended.Before(res.Started) {
		t.Errorf("run time %s to %s: the duration metric and the retry backoff need both", res.Started, res.Ended)
	}
}

func TestRunRenewsExpiredLinks(t *testing.T) {
	w := newWorld(t, simulator.Instance{ID: "c1", CacheMode: "cluster", ShardCount: 2, BackupSize: 1 << 20})
	var once sync.Once
	w.store.Fail = func(op, _ string) error {
		// The first file's link was used; every link issued so far now
		// answers 403 "Request has expired".
		if op == "upload" {
			once.Do(w.sim.ExpireLinks)
		}
		return nil
	}
	res := Run(context.Background(), w.job())
	w.checkComplete(t, res, 2)
	if got := w.calls.Load(); got != 2 {
		t.Errorf("%d links calls, want 2 (the first and one renewal)", got)
	}
}

// cutOnce cuts the body of the first response after n bytes.
type cutOnce struct {
	n    int64
	done atomic.Bool
	rng  atomic.Int32
}

func (c *cutOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Range") != "" {
		c.rng.Add(1)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !c.done.CompareAndSwap(false, true) {
		return resp, err
	}
	resp.Body = &cutBody{ReadCloser: resp.Body, left: c.n}
	return resp, nil
}

type cutBody struct {
	io.ReadCloser
	left int64
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

func TestRunResumesACutDownloadWithARange(t *testing.T) {
	w := newWorld(t, simulator.Instance{ID: "h1", BackupSize: 2 << 20})
	cut := &cutOnce{n: 300_000}
	job := w.job()
	job.HTTPClient = &http.Client{Transport: cut}
	res := Run(context.Background(), job)
	w.checkComplete(t, res, 1)
	if cut.rng.Load() != 1 {
		t.Errorf("%d range requests, want 1", cut.rng.Load())
	}
}

func TestRunWritesNoManifestWhenAnUploadFails(t *testing.T) {
	w := newWorld(t, simulator.Instance{ID: "c1", CacheMode: "cluster", ShardCount: 3, BackupSize: 3 << 20})
	n := 0
	w.store.Fail = func(op, key string) error {
		if op == "upload" {
			if n++; n == 2 {
				return &objectstore.Error{Op: op, Key: key, Class: objectstore.ClassTransient, Err: errors.New("503 SlowDown")}
			}
		}
		return nil
	}
	res := Run(context.Background(), w.job())
	if objectstore.Classify(res.Err) != objectstore.ClassTransient || res.Manifest != nil {
		t.Fatalf("result %+v", res)
	}
	if res.Ended.IsZero() || res.Ended.Before(res.Started) {
		t.Errorf("a failed run ended at %s (started %s): the controller backs off from its end", res.Ended, res.Started)
	}
	if _, err := w.store.Get(context.Background(), "ns/b/"+ManifestName); !objectstore.IsNotFound(err) {
		t.Errorf("a manifest was written for an incomplete copy: %v", err)
	}
}

func TestRunWritesNoManifestWhenCancelled(t *testing.T) {
	w := newWorld(t, simulator.Instance{ID: "c1", CacheMode: "cluster", ShardCount: 2, BackupSize: 2 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	w.store.Fail = func(op, _ string) error {
		if op == "upload" {
			cancel() // the manager stops while the first file is copied
		}
		return nil
	}
	res := Run(ctx, w.job())
	if res.Err == nil {
		t.Fatal("a cancelled copy succeeded")
	}
	if _, err := w.store.Get(context.Background(), "ns/b/"+ManifestName); !objectstore.IsNotFound(err) {
		t.Errorf("a manifest was written for a cancelled copy: %v", err)
	}
}

func TestRunAbortsUploadsOfEarlierAttempts(t *testing.T) {
	w := newWorld(t, simulator.Instance{ID: "h1", BackupSize: 1 << 20})
	job := w.job()
	w.store.AddUpload("ns/b/old.rdb", job.StartedAt.Add(-time.Minute))
	w.store.AddUpload("ns/other/x.rdb", job.StartedAt.Add(-time.Minute))
	w.checkComplete(t, Run(context.Background(), job), 1)
	if up := w.store.Uploads(); len(up) != 1 || up[0].Key != "ns/other/x.rdb" {
		t.Errorf("uploads left: %+v", up)
	}
}

func TestRunAdoptsACompleteExportAndRefusesAnotherBackups(t *testing.T) {
	w := newWorld(t, simulator.Instance{ID: "h1", BackupSize: 1 << 20})
	w.checkComplete(t, Run(context.Background(), w.job()), 1)
	uploads := w.store.Calls("upload")

	res := Run(context.Background(), w.job())
	if !res.Adopted || res.Manifest == nil || w.store.Calls("upload") != uploads {
		t.Errorf("second run: %+v, %d uploads", res, w.store.Calls("upload")-uploads)
	}

	other := w.job()
	other.Manifest.Backup.ID = "another-backup"
	var conflict *ConflictError
	if res := Run(context.Background(), other); !errors.As(res.Err, &conflict) {
		t.Errorf("another backup's folder: %v", res.Err)
	}

	// A manifest whose files are gone is not adopted: it goes first, then
	// the copy starts again.
	files, _ := w.sim.BackupFiles(w.instance, w.backup.ID)
	if err := w.store.Delete(context.Background(), "ns/b/"+files[0].Name); err != nil {
		t.Fatal(err)
	}
	res = Run(context.Background(), w.job())
	if res.Adopted {
		t.Error("adopted an export with a missing file")
	}
	w.checkComplete(t, res, 1)
}

func TestRunChecksTheTotalAgainstDCS(t *testing.T) {
	w := newWorld(t, simulator.Instance{ID: "h1", BackupSize: 1 << 20})
	job := w.job()
	job.Manifest.Backup.Size = w.backup.Size + 1
	var se *SizeError
	if res := Run(context.Background(), job); !errors.As(res.Err, &se) {
		t.Fatalf("result %v", res.Err)
	}
	if _, err := w.store.Get(context.Background(), "ns/b/"+ManifestName); !objectstore.IsNotFound(err) {
		t.Error("a manifest was written for a copy of the wrong size")
	}
}

func TestRunReportsAGoneBackup(t *testing.T) {
	w := newWorld(t, simulator.Instance{ID: "h1", BackupSize: 1 << 20})
	job := w.job()
	files, err := job.Links(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.api.DeleteBackup(context.Background(), w.instance, w.backup.ID); err != nil {
		t.Fatal(err)
	}
	job.Links = func(context.Context) (dcs.BackupFiles, error) { return files, nil }
	var de *DownloadError
	res := Run(context.Background(), job)
	if !errors.As(res.Err, &de) || !de.Gone() {
		t.Fatalf("result %v", res.Err)
	}
	if strings.Contains(res.Err.Error(), "Signature=") && !strings.Contains(res.Err.Error(), "REDACTED") {
		t.Errorf("the error shows a link's signature: %v", res.Err)
	}
}

func TestRunRefusesPlainHTTPLinks(t *testing.T) {
	w := newWorld(t, simulator.Instance{ID: "h1", BackupSize: 1 << 10})
	job := w.job()
	job.AllowInsecure = false
	if res := Run(context.Background(), job); res.Err == nil || !strings.Contains(res.Err.Error(), "not https") {
		t.Fatalf("result %v", res.Err)
	}
}

func TestLinkReaderStaysAtEOF(t *testing.T) {
	w := newWorld(t, simulator.Instance{ID: "h1", BackupSize: 1 << 16})
	l := &links{source: w.job().Links, now: time.Now}
	if err := l.renewLocked(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := openLink(context.Background(), http.DefaultClient, l, l.files.Links[0].FileName, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil || int64(len(data)) != r.Size() {
		t.Fatalf("read %d of %d bytes: %v", len(data), r.Size(), err)
	}
	// Upload reads once more to make sure nothing follows.
	if n, err := r.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("a read past the end: %d, %v", n, err)
	}
}
