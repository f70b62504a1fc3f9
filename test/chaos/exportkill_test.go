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

package chaos

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
	"github.com/dcs-operator/dcs-backup-operator/internal/export"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

const (
	exportBucket  = "chaos-exports"
	exportPrefix  = "kills/"
	exportStorage = "offsite"
	exportSecret  = "bucket-credentials"
	// killMomentTimeout bounds the wait for the moment of one kill: a copy
	// uploading, or a manifest written.
	killMomentTimeout = 3 * time.Minute
	// midFileDelayMax: a mid-file kill comes up to this long after the
	// copy's first upload was seen.
	midFileDelayMax = time.Second
	// killWatchEvery is how often the killer looks for an open upload;
	// manifestWatchEvery how often for a new manifest, in the gateway's
	// backend directory.
	killWatchEvery     = 100 * time.Millisecond
	manifestWatchEvery = 5 * time.Millisecond
)

// killMode is the moment of an export kill.
type killMode string

const (
	// killMidFile kills while a copy of the restarted manager uploads a
	// file (a multipart upload of it is open in the bucket).
	killMidFile killMode = "mid-file"
	// killAfterManifest kills as soon as a copy of the restarted manager
	// wrote its manifest: the manager may not have recorded it yet, and
	// the next one must adopt the export instead of copying it again.
	killAfterManifest killMode = "after-manifest"
)

// exportKill is one SIGKILL of the export run.
type exportKill struct {
	at   time.Time
	mode killMode
	// copying is how many exports the killed manager left Copying, and
	// uploads how many of its multipart uploads were open at the kill.
	copying, uploads int
}

// exportRun is the export kill scenario: DCSBackups with spec.export of
// large cluster backups, served slowly, into a versitygw bucket.
type exportRun struct {
	c       client.Client
	ns      string
	sim     *localenv.Simulator
	gw      *localenv.VersityGW
	watcher *bucketWatcher
	names   []string

	// files caches the simulator's files of each backup.
	mu    sync.Mutex
	files map[string][]simulator.BackupFile
}

// testExportKills SIGKILLs the manager while exports copy, alternately in
// the middle of a file and right after a copy wrote its manifest, and
// restarts it. A watcher reads the bucket throughout: a manifest must
// only ever exist for a complete copy. At the end every backup has
// exactly one complete export with the bytes DCS serves, and no multipart
// upload is left open.
func testExportKills(t *testing.T) {
	sc := shared.scale
	if sc.ExportBackups < 1 {
		t.Skip("CHAOS_EXPORT_BACKUPS=0")
	}
	if _, err := localenv.VersityGWBinary(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	env := scenarioEnv(t, "exportkill")
	rng := &lockedRand{r: newRand(4)}
	x := &exportRun{c: shared.c, ns: "chaos-exportkill", files: map[string][]simulator.BackupFile{}}

	var err error
	if x.gw, err = env.StartVersityGW(ctx, localenv.VersityGWOptions{Buckets: []string{exportBucket}}); err != nil {
		t.Fatal(err)
	}
	instances := instanceIDs("xk", sc.ExportBackups)
	specs := make([]string, len(instances))
	for i, id := range instances {
		specs[i] = fmt.Sprintf("%s:cluster:shards=%d:size=%d", id, sc.ExportShards, sc.ExportBackupBytes)
	}
	x.sim, err = env.StartSimulator(ctx, localenv.SimulatorOptions{
		Binary: shared.bins.Simulator, Instances: specs, BackupDuration: sc.BackupDuration,
		DownloadRate: sc.ExportDownloadRate, Seed: shared.seed + 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if x.watcher, err = newBucketWatcher(x.gw, exportBucket); err != nil {
		t.Fatal(err)
	}
	x.watcher.want = x.servedSHA256
	if err := x.setUp(ctx, instances); err != nil {
		t.Fatal(err)
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	var watching sync.WaitGroup
	watching.Go(func() { x.watcher.run(watchCtx) })
	defer func() { stopWatching(); watching.Wait() }()

	started := time.Now()
	mgr, err := env.StartManager(ctx, localenv.ManagerOptions{
		Binary: shared.bins.Manager, Kubeconfig: shared.cp.KubeconfigPath, Args: []string{"--watch-namespaces=" + x.ns},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.createBackups(ctx, instances); err != nil {
		t.Fatal(err)
	}
	kills, err := x.killDuringCopies(ctx, mgr, sc, rng)
	if err != nil {
		t.Fatalf("killing and restarting the manager (log %s): %v", mgr.LogPath(), err)
	}
	lastKill := started
	if len(kills) > 0 {
		lastKill = kills[len(kills)-1].at
	}
	if err := x.waitExported(ctx, sc.Converge); err != nil {
		t.Errorf("manager log %s: %v", mgr.LogPath(), err)
	}
	res := exportKillResult{ConvergeSeconds: secs(time.Since(lastKill)), ElapsedSeconds: secs(time.Since(started))}
	stopWatching()
	watching.Wait()
	x.finish(ctx, t, sc, kills, &res, mgr.LogPath())
}

// setUp creates the namespace, the DCS and bucket credentials and the
// storage.
func (x *exportRun) setUp(ctx context.Context, instances []string) error {
	if err := localenv.CreateNamespace(ctx, x.c, x.ns); err != nil {
		return err
	}
	if err := localenv.CreateCredentialsSecret(ctx, x.c, x.ns, secretName, x.sim.AccessKey, x.sim.SecretKey); err != nil {
		return err
	}
	if err := localenv.CreateCredentialsSecret(ctx, x.c, x.ns, exportSecret, x.gw.AccessKey, x.gw.SecretKey); err != nil {
		return err
	}
	for i := range instances {
		x.names = append(x.names, fmt.Sprintf("x-%02d", i))
	}
	return x.c.Create(ctx, &backupv1alpha1.DCSBackupStorage{
		ObjectMeta: metav1.ObjectMeta{Namespace: x.ns, Name: exportStorage},
		Spec: backupv1alpha1.DCSBackupStorageSpec{Endpoint: x.gw.URL, Region: x.gw.Region, Bucket: exportBucket,
			Prefix: exportPrefix, CredentialsSecretRef: backupv1alpha1.SecretReference{Name: exportSecret}},
	})
}

// createBackups creates one exporting DCSBackup per instance.
func (x *exportRun) createBackups(ctx context.Context, instances []string) error {
	for i, id := range instances {
		b := &backupv1alpha1.DCSBackup{
			ObjectMeta: metav1.ObjectMeta{Namespace: x.ns, Name: x.names[i]},
			Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
				InstanceID: id,
				Connection: backupv1alpha1.Connection{ProjectID: x.sim.ProjectID, Endpoint: x.sim.URL,
					CredentialsSecretRef: backupv1alpha1.SecretReference{Name: secretName}},
				Remark: "chaos export",
				Export: &backupv1alpha1.ExportSpec{StorageRef: backupv1alpha1.LocalObjectReference{Name: exportStorage}},
			}},
		}
		if err := x.c.Create(ctx, b); err != nil {
			return fmt.Errorf("create backup %s: %w", b.Name, err)
		}
	}
	return nil
}

// killDuringCopies SIGKILLs the manager sc.ExportKills times, alternately
// mid-file and right after a manifest, restarting it after a random pause
// each time. It stops early, without an error, if every export ended.
func (x *exportRun) killDuringCopies(ctx context.Context, mgr *localenv.Manager, sc scale,
	rng *lockedRand) ([]exportKill, error) {
	var kills []exportKill
	// stale are the uploads of killed managers: the next copy of their
	// folder aborts them, so they say nothing about a copy under way.
	stale := map[string]bool{}
	written := x.manifestsOnDisk()
	for k := range sc.ExportKills {
		mode := killMidFile
		if k%2 == 1 {
			mode = killAfterManifest
		}
		found, err := x.waitKillMoment(ctx, mgr, mode, stale, written)
		if err != nil || !found {
			return kills, err
		}
		if mode == killMidFile && !sleepCtx(ctx, rng.between(0, midFileDelayMax)) {
			return kills, ctx.Err()
		}
		uploads := len(x.freshUploads(stale))
		if err := mgr.Kill(); err != nil {
			return kills, err
		}
		kill := exportKill{at: time.Now(), mode: mode, uploads: uploads}
		// The status and the bucket as the killed manager left them; the
		// uploads it left open say nothing about the next manager's copies.
		if kill.copying, err = x.copying(ctx); err != nil {
			return kills, err
		}
		kills = append(kills, kill)
		x.watcher.look(ctx)
		view, _, _ := x.watcher.state()
		for id := range view.uploads {
			stale[id] = true
		}
		written = x.manifestsOnDisk()
		if !sleepCtx(ctx, rng.between(200*time.Millisecond, sc.RestartPauseMax)) {
			return kills, ctx.Err()
		}
		if err := mgr.Start(ctx); err != nil {
			return kills, fmt.Errorf("restart after kill %d: %w", len(kills), err)
		}
	}
	return kills, nil
}

// manifestsOnDisk returns the exports whose manifest the gateway's backend
// holds. Reading the backend's files is far quicker than an S3 listing, so
// a kill can follow a manifest before the manager records the export.
func (x *exportRun) manifestsOnDisk() map[string]bool {
	out := map[string]bool{}
	for _, name := range x.names {
		key := exportPrefix + export.Folder(x.ns, name) + export.ManifestName
		if _, err := os.Stat(x.gw.ObjectPath(exportBucket, key)); err == nil {
			out[key] = true
		}
	}
	return out
}

// newManifest reports whether the backend holds a manifest not in written.
func (x *exportRun) newManifest(written map[string]bool) bool {
	for key := range x.manifestsOnDisk() {
		if !written[key] {
			return true
		}
	}
	return false
}

// waitKillMoment waits for the moment of a kill of the given mode: an
// upload of the running manager open, or a manifest not in written; false
// if every export ended first.
func (x *exportRun) waitKillMoment(ctx context.Context, mgr *localenv.Manager, mode killMode, stale,
	written map[string]bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, killMomentTimeout)
	defer cancel()
	every := killWatchEvery
	if mode == killAfterManifest {
		every = manifestWatchEvery
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	var lastEndCheck time.Time
	for {
		switch {
		case mode == killMidFile && len(x.freshUploads(stale)) > 0:
			return true, nil
		case mode == killAfterManifest && x.newManifest(written):
			return true, nil
		case mgr.Exited():
			return false, fmt.Errorf("the manager exited by itself: %v", mgr.Wait())
		}
		if time.Since(lastEndCheck) > time.Second {
			lastEndCheck = time.Now()
			if done, err := x.allEnded(ctx); err != nil || done {
				return false, err
			}
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("no %s moment within %s: %w", mode, killMomentTimeout, ctx.Err())
		case <-ticker.C:
		}
	}
}

// freshUploads are the open multipart uploads of the running manager.
func (x *exportRun) freshUploads(stale map[string]bool) []string {
	view, _, _ := x.watcher.state()
	var out []string
	for id, key := range view.uploads {
		if !stale[id] {
			out = append(out, key)
		}
	}
	return out
}

func (x *exportRun) list(ctx context.Context) ([]backupv1alpha1.DCSBackup, error) {
	list := &backupv1alpha1.DCSBackupList{}
	if err := x.c.List(ctx, list, client.InNamespace(x.ns)); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// copying counts the exports in phase Copying.
func (x *exportRun) copying(ctx context.Context) (int, error) {
	items, err := x.list(ctx)
	n := 0
	for _, b := range items {
		if b.Status.Export != nil && b.Status.Export.Phase == backupv1alpha1.ExportPhaseCopying {
			n++
		}
	}
	return n, err
}

// allEnded reports whether every backup's export succeeded or failed.
func (x *exportRun) allEnded(ctx context.Context) (bool, error) {
	items, err := x.list(ctx)
	if err != nil {
		return false, nil //nolint:nilerr // an API hiccup: ask again
	}
	if len(items) < len(x.names) {
		return false, nil
	}
	for _, b := range items {
		if e := b.Status.Export; e == nil || (e.Phase != backupv1alpha1.ExportPhaseSucceeded &&
			e.Phase != backupv1alpha1.ExportPhaseFailed) {
			return false, nil
		}
	}
	return true, nil
}

// waitExported waits until every export ended, and describes those that
// did not when the timeout ends.
func (x *exportRun) waitExported(ctx context.Context, timeout time.Duration) error {
	err := pollUntil(ctx, timeout, func() (bool, error) { return x.allEnded(ctx) })
	if err == nil {
		return nil
	}
	items, _ := x.list(ctx)
	var stuck []string
	for i := range items {
		stuck = append(stuck, describeExport(&items[i]))
	}
	return fmt.Errorf("exports not ended %s after the last kill: %w\n  %s", timeout, err, strings.Join(stuck, "\n  "))
}

func describeExport(b *backupv1alpha1.DCSBackup) string {
	s := fmt.Sprintf("%s phase=%q", b.Name, b.Status.Phase)
	if e := b.Status.Export; e != nil {
		s += fmt.Sprintf(" export=%q attempts=%d (%s)", e.Phase, e.Attempts, e.Message)
	}
	if c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionExported); c != nil {
		s += fmt.Sprintf(" Exported=%s/%s", c.Status, c.Reason)
	}
	return s
}

// backupFiles returns the files the simulator serves for a backup.
func (x *exportRun) backupFiles(ctx context.Context, instanceID, backupID string) ([]simulator.BackupFile, error) {
	x.mu.Lock()
	files, ok := x.files[backupID]
	x.mu.Unlock()
	if ok {
		return files, nil
	}
	q := url.Values{"instance_id": {instanceID}, "backup_id": {backupID}}
	if err := x.sim.Admin(ctx, http.MethodGet, "backup-files?"+q.Encode(), nil, &files); err != nil {
		return nil, err
	}
	x.mu.Lock()
	x.files[backupID] = files
	x.mu.Unlock()
	return files, nil
}

// servedSHA256 is the SHA-256 of the bytes DCS serves for a file of a
// manifest's backup: the simulator's deterministic content.
func (x *exportRun) servedSHA256(ctx context.Context, m *export.Manifest, f export.ManifestFile) (string, error) {
	files, err := x.backupFiles(ctx, m.Backup.InstanceID, m.Backup.ID)
	if err != nil {
		return "", err
	}
	for _, bf := range files {
		if bf.Name == f.Name {
			return bf.Content().SHA256(), nil
		}
	}
	return "no such file in backup " + m.Backup.ID, nil
}

// finish checks the end state and records the run.
func (x *exportRun) finish(ctx context.Context, t *testing.T, sc scale, kills []exportKill, res *exportKillResult,
	managerLog string) {
	t.Helper()
	x.watcher.look(ctx) // every manifest of the end state hashed
	res.Backups, res.Shards, res.BackupBytes, res.DownloadRate = len(x.names), sc.ExportShards, sc.ExportBackupBytes,
		sc.ExportDownloadRate
	res.Kills = len(kills)
	for _, k := range kills {
		if k.mode == killMidFile {
			res.KillsMidFile++
		} else {
			res.KillsAfterManifest++
		}
		if k.copying > 0 {
			res.KillsWhileCopying++
		}
	}
	_, res.Looks, res.ManifestsHashed = x.watcher.state()
	problems := x.watcher.findings()
	problems = append(problems, x.verify(ctx, res)...)
	for folder, n := range x.watcher.rewritten() {
		problems = append(problems, fmt.Sprintf("%s had %d different manifests: a complete export was copied "+
			"again instead of adopted", folder, n))
	}
	if stats, err := x.sim.Stats(ctx); err == nil {
		res.DownloadedBytes = stats.DownloadBytes
	}
	res.Problems = len(problems)
	results.addExportKills(*res)
	t.Logf("exportkill: %d backups of %d x %d MiB, links at %d MiB/s; %d kills (%d mid-file, %d after a manifest, "+
		"%d leaving exports Copying); %d attempts recorded, %d adopted; %.0f MiB downloaded for %.0f MiB exported; "+
		"%d looks at the bucket, %d manifests hashed; %d uploads left open; converged %.1fs after the last kill",
		res.Backups, res.Shards, res.BackupBytes/int64(res.Shards)>>20, res.DownloadRate>>20, res.Kills, res.KillsMidFile,
		res.KillsAfterManifest, res.KillsWhileCopying, res.Attempts, res.Adopted, float64(res.DownloadedBytes)/(1<<20),
		float64(res.ExportedBytes)/(1<<20), res.Looks, res.ManifestsHashed, res.LeftoverUploads, res.ConvergeSeconds)
	if panics := grepLines(managerLog, "panic"); len(panics) > 0 {
		t.Errorf("the manager panicked (%s):\n%s", managerLog, strings.Join(head(panics, 5), "\n"))
	}
	if len(problems) > 0 {
		t.Errorf("%d problems (manager log %s, bucket %s):\n  %s", len(problems), managerLog, x.gw.Dir,
			strings.Join(head(problems, 40), "\n  "))
	}
	if len(kills) < sc.ExportKills {
		t.Errorf("only %d of %d kills happened before every export ended: add backups (CHAOS_EXPORT_BACKUPS)",
			len(kills), sc.ExportKills)
	}
}

// verify checks the end state: every DCSBackup exported, each folder
// holding exactly its files and manifest, with the bytes DCS serves, and
// no multipart upload left open.
func (x *exportRun) verify(ctx context.Context, res *exportKillResult) []string {
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	items, err := x.list(ctx)
	if err != nil {
		return []string{err.Error()}
	}
	view, _, _ := x.watcher.state()
	folders := map[string]bool{}
	for i := range items {
		b := &items[i]
		folder := exportPrefix + export.Folder(b.Namespace, b.Name)
		folders[folder] = true
		x.verifyBackup(ctx, b, folder, view, res, problem)
	}
	if len(items) != len(x.names) {
		problem("%d DCSBackups exist, %d were created", len(items), len(x.names))
	}
	keys := make([]string, 0, len(view.sizes))
	for key := range view.sizes {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if i := strings.LastIndexByte(key, '/'); i < 0 || !folders[key[:i+1]] {
			problem("object %s belongs to no export", key)
		}
	}
	for id, key := range view.uploads {
		res.LeftoverUploads++
		problem("multipart upload %s of %s is still open", id, key)
	}
	return problems
}

// verifyBackup checks one DCSBackup's export against its folder.
func (x *exportRun) verifyBackup(ctx context.Context, b *backupv1alpha1.DCSBackup, folder string, view bucketView,
	res *exportKillResult, problem func(string, ...any)) {
	e := b.Status.Export
	c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionExported)
	if b.Status.Phase != backupv1alpha1.PhaseSucceeded || e == nil || e.Phase != backupv1alpha1.ExportPhaseSucceeded ||
		c == nil || c.Status != metav1.ConditionTrue {
		problem("not exported: %s", describeExport(b))
		return
	}
	res.Attempts += int(e.Attempts)
	if c.Reason == backupv1alpha1.ReasonExportAdopted {
		res.Adopted++
	}
	manifestKey := folder + export.ManifestName
	if !x.watcher.hashedNow(manifestKey) {
		problem("%s: no manifest whose files were read back and hashed", manifestKey)
		return
	}
	data, err := x.watcher.read(ctx, manifestKey, nil)
	if err != nil {
		problem("%s: %v", manifestKey, err)
		return
	}
	m, err := export.ParseManifest(data)
	if err != nil {
		problem("%s: %v", manifestKey, err)
		return
	}
	if m.Backup.ID != b.Status.BackupID || m.Backup.InstanceID != b.Spec.InstanceID || m.Source.UID != string(b.UID) {
		problem("%s describes backup %s of %s for %s, the DCSBackup %s has backup %s", manifestKey, m.Backup.ID,
			m.Backup.InstanceID, m.Source.UID, b.Name, b.Status.BackupID)
	}
	served, err := x.backupFiles(ctx, b.Spec.InstanceID, b.Status.BackupID)
	if err != nil {
		problem("%s: the simulator's files: %v", b.Name, err)
		return
	}
	res.ExportedBytes += m.TotalSize
	compareFolder(b, folder, m, served, view, problem)
}

// compareFolder checks a complete export's manifest against the files DCS
// serves, the DCSBackup's status and the objects of its folder.
func compareFolder(b *backupv1alpha1.DCSBackup, folder string, m *export.Manifest, served []simulator.BackupFile,
	view bucketView, problem func(string, ...any)) {
	manifestKey := folder + export.ManifestName
	want := map[string]bool{manifestKey: true}
	status := make([]backupv1alpha1.ExportedObject, 0, len(m.Files))
	for _, f := range m.Files {
		want[folder+f.Name] = true
		status = append(status, backupv1alpha1.ExportedObject{Key: folder + f.Name, Size: f.Size, SHA256: f.SHA256})
	}
	if len(m.Files) != len(served) {
		problem("%s lists %d files, DCS serves %d", manifestKey, len(m.Files), len(served))
	}
	for i := range min(len(m.Files), len(served)) {
		if m.Files[i].Name != served[i].Name || m.Files[i].Size != served[i].Size {
			problem("%s file %d is %s (%d bytes), DCS serves %s (%d bytes)", manifestKey, i, m.Files[i].Name,
				m.Files[i].Size, served[i].Name, served[i].Size)
		}
	}
	if got := b.Status.Export.Objects; fmt.Sprint(status) != fmt.Sprint(got) {
		problem("%s: status.export.objects %v, the manifest lists %v", b.Name, got, status)
	}
	for key := range view.sizes {
		if strings.HasPrefix(key, folder) && !want[key] {
			problem("%s holds %s, which its manifest does not list", folder, key)
		}
	}
}
