package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
)

// The export scenario at scale 1: one backup of 1 GiB in one file (an ha
// instance), copied by the manager into a versitygw bucket, then by the
// benchmark itself.
const (
	exportBackupBytes = 1 << 30
	// exportMinBytes is the smallest backup BENCH_SCALE makes: still
	// several upload parts.
	exportMinBytes = 64 << 20
	exportBucket   = "bench-exports"
	exportStorage  = "bench-bucket"
	exportSecret   = "bench-bucket-credentials"
	// exportTimeout bounds the copy (at 1 MiB/s something is wrong).
	exportTimeout = 20 * time.Minute
	// exportPoll is how often the benchmark looks at the backup.
	exportPoll = 100 * time.Millisecond
	// metricExportSeconds is the sum of the manager's copy durations.
	metricExportSeconds = "dcs_backup_operator_export_duration_seconds_sum"
)

// exportResult is the export scenario.
type exportResult struct {
	BackupBytes int64   `json:"backup_bytes"`
	Files       int     `json:"files"`
	PartSizeMiB float64 `json:"part_size_mib"`
	// UploadConcurrency is how many parts a copy holds in memory at most.
	UploadConcurrency int     `json:"upload_concurrency"`
	ManagerRSSBefore  float64 `json:"manager_rss_before_mib"`
	ManagerPeakRSS    float64 `json:"manager_peak_rss_during_export_mib"`
	RSSGrowthMiB      float64 `json:"manager_rss_growth_mib"`
	RSSGrowthTarget   float64 `json:"manager_rss_growth_target_mib"`
	ManagerPeakHeap   float64 `json:"manager_peak_heap_during_export_mib"`
	ManagerCPUSeconds float64 `json:"manager_cpu_seconds"`
	// ExportSeconds is the manager's copy (its export_duration_seconds:
	// links, download, upload, manifest); ExportWallSeconds is from
	// adding spec.export to the benchmark seeing Exported=True.
	ExportSeconds       float64 `json:"export_seconds"`
	ExportWallSeconds   float64 `json:"export_wall_seconds"`
	ExportMiBPerSecond  float64 `json:"export_mib_per_second"`
	PlainCopySeconds    float64 `json:"plain_copy_seconds"`
	PlainCopyMiBPerSec  float64 `json:"plain_copy_mib_per_second"`
	ThroughputRatio     float64 `json:"throughput_ratio_to_plain_copy"`
	ThroughputTarget    float64 `json:"throughput_ratio_target"`
	ContentVerified     bool    `json:"sha256_matches_dcs_content"`
	PeakResetSupported  bool    `json:"peak_rss_reset_before_export"`
	SimulatorDownloaded int64   `json:"simulator_downloaded_bytes"`
}

// Targets of the export scenario (issue 13).
const (
	exportRSSGrowthTarget  = 64
	exportThroughputTarget = 0.8
)

// exportScenario measures what an export costs the manager: the growth
// of its resident set while it copies one large backup (it streams, so
// this is its upload parts, not the backup), and its throughput next to a
// plain copy of the same bytes by the benchmark on the same machine.
func (h *harness) exportScenario(ctx context.Context, res *results) error {
	if _, err := localenv.VersityGWBinary(); err != nil {
		return err
	}
	size := max(exportMinBytes, int64(float64(exportBackupBytes)*h.cfg.scale)) >> 20 << 20
	gw, err := h.env.StartVersityGW(ctx, localenv.VersityGWOptions{Buckets: []string{exportBucket}})
	if err != nil {
		return err
	}
	// The two copies are twice the backup on disk: gone with the scenario
	// unless the state directory is kept.
	defer func() {
		_ = gw.Stop()
		if !h.cfg.keep {
			_ = os.RemoveAll(gw.Dir)
		}
	}()
	instance := fmt.Sprintf("export-i0000:size=%d", size)
	r, err := h.newRun(ctx, "export", []string{instance}, 2*time.Second)
	if err != nil {
		return err
	}
	defer func() { _ = r.stop() }()
	er := &exportResult{BackupBytes: size, PartSizeMiB: float64(objectstore.DefaultPartSize) / (1 << 20),
		UploadConcurrency: objectstore.DefaultUploadConcurrency, RSSGrowthTarget: exportRSSGrowthTarget,
		ThroughputTarget: exportThroughputTarget}
	h.logf("export: one backup of %d MiB, copied by the manager, then by a plain copy", size>>20)
	b, err := r.exportSetUp(ctx, gw, strings.Split(instance, ":")[0])
	if err != nil {
		return err
	}
	if err := r.measureExport(ctx, b, er); err != nil {
		return err
	}
	if err := r.plainCopy(ctx, gw, b, er); err != nil {
		return err
	}
	er.ThroughputRatio = round(er.ExportMiBPerSecond/er.PlainCopyMiBPerSec, 3)
	res.Export = er
	h.logf("export: manager RSS +%.0f MiB, %.0f MiB/s; plain copy %.0f MiB/s (%.2fx)", er.RSSGrowthMiB,
		er.ExportMiBPerSecond, er.PlainCopyMiBPerSec, er.ThroughputRatio)
	return nil
}

// exportSetUp makes the storage, starts the manager, and makes the
// backup, without spec.export, waiting until it succeeded and the storage
// is Ready: the manager is idle when the export is added.
func (r *runEnv) exportSetUp(ctx context.Context, gw *localenv.VersityGW, instanceID string) (*backupv1alpha1.DCSBackup, error) {
	c := r.h.c
	if err := localenv.CreateCredentialsSecret(ctx, c, r.ns, exportSecret, gw.AccessKey, gw.SecretKey); err != nil {
		return nil, err
	}
	storage := &backupv1alpha1.DCSBackupStorage{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: exportStorage},
		Spec: backupv1alpha1.DCSBackupStorageSpec{Endpoint: gw.URL, Region: gw.Region, Bucket: exportBucket,
			CredentialsSecretRef: backupv1alpha1.SecretReference{Name: exportSecret}},
	}
	if err := c.Create(ctx, storage); err != nil {
		return nil, err
	}
	if err := r.startManager(ctx); err != nil {
		return nil, err
	}
	b := r.backup(instanceID, 0)
	if err := c.Create(ctx, b); err != nil {
		return nil, err
	}
	err := r.pollUntil(ctx, 2*time.Minute, func() (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(storage), storage); err != nil {
			return false, err
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(b), b); err != nil {
			return false, err
		}
		return b.Status.Phase == backupv1alpha1.PhaseSucceeded &&
			meta.IsStatusConditionTrue(storage.Status.Conditions, backupv1alpha1.ConditionReady), nil
	})
	if err != nil {
		return nil, fmt.Errorf("backup %s succeeded: %v, storage Ready: %v: %w", b.Name, b.Status.Phase,
			meta.IsStatusConditionTrue(storage.Status.Conditions, backupv1alpha1.ConditionReady), err)
	}
	return b, nil
}

// measureExport adds spec.export to the backup and measures the manager
// until the export succeeded.
func (r *runEnv) measureExport(ctx context.Context, b *backupv1alpha1.DCSBackup, er *exportResult) error {
	pid := r.mgr.PID()
	before, err := localenv.ProcUsage(pid)
	if err != nil {
		return err
	}
	// The peak of the start-up (informers filling) is not the export's.
	er.PeakResetSupported = localenv.ResetPeakRSS(pid) == nil
	r.sampler.resetPeak()
	metricsBefore, err := scrape(ctx, r.mgr.MetricsURL)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{
		"export": map[string]any{"storageRef": map[string]any{"name": exportStorage}}}})
	if err != nil {
		return err
	}
	start := time.Now()
	if err := r.h.c.Patch(ctx, b, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return err
	}
	err = r.pollUntil(ctx, exportTimeout, func() (bool, error) {
		if err := r.h.c.Get(ctx, client.ObjectKeyFromObject(b), b); err != nil {
			return false, err
		}
		if e := b.Status.Export; e != nil && e.Phase == backupv1alpha1.ExportPhaseFailed {
			return false, fmt.Errorf("the export failed: %s", e.Message)
		}
		return meta.IsStatusConditionTrue(b.Status.Conditions, backupv1alpha1.ConditionExported), nil
	})
	if err != nil {
		return err
	}
	er.ExportWallSeconds = round(time.Since(start).Seconds(), 2)
	return r.exportFigures(ctx, b, before, metricsBefore, er)
}

// exportFigures reads the manager's figures after the export and checks
// that what it reports is what DCS serves.
func (r *runEnv) exportFigures(ctx context.Context, b *backupv1alpha1.DCSBackup, before localenv.Usage,
	metricsBefore map[string]float64, er *exportResult) error {
	pid := r.mgr.PID()
	peak, err := localenv.ProcPeakRSS(pid)
	if err != nil {
		return err
	}
	after, err := localenv.ProcUsage(pid)
	if err != nil {
		return err
	}
	r.sampler.sample(ctx, r.mgr.MetricsURL, pid)
	heap, _ := r.sampler.peaks()
	// The manager counts the export once its status is written: the
	// benchmark may see the status first.
	var seconds float64
	err = r.pollUntil(ctx, 10*time.Second, func() (bool, error) {
		m, err := scrape(ctx, r.mgr.MetricsURL)
		seconds = m[metricExportSeconds] - metricsBefore[metricExportSeconds]
		return seconds > 0, err
	})
	if err != nil {
		return fmt.Errorf("the manager's %s: %w", metricExportSeconds, err)
	}
	er.ManagerRSSBefore, er.ManagerPeakRSS = mib(float64(before.RSSBytes)), mib(float64(peak))
	er.RSSGrowthMiB = round(er.ManagerPeakRSS-er.ManagerRSSBefore, 1)
	er.ManagerPeakHeap = mib(heap)
	er.ManagerCPUSeconds = round((after.CPU - before.CPU).Seconds(), 2)
	er.ExportSeconds = round(seconds, 2)
	er.ExportMiBPerSecond = round(float64(er.BackupBytes)/(1<<20)/seconds, 1)
	er.Files = len(b.Status.Export.Objects)
	files, err := r.backupFiles(ctx, b)
	if err != nil {
		return err
	}
	var total int64
	er.ContentVerified = len(files) == len(b.Status.Export.Objects)
	for i, f := range files {
		total += f.Size
		if er.ContentVerified && f.Content().SHA256() != b.Status.Export.Objects[i].SHA256 {
			er.ContentVerified = false
		}
	}
	if total != er.BackupBytes || !er.ContentVerified {
		return fmt.Errorf("the export does not hold the backup's bytes: %+v", b.Status.Export.Objects)
	}
	return nil
}

// backupFiles returns the files the simulator serves for b.
func (r *runEnv) backupFiles(ctx context.Context, b *backupv1alpha1.DCSBackup) ([]simulator.BackupFile, error) {
	var files []simulator.BackupFile
	q := url.Values{"instance_id": {b.Spec.InstanceID}, "backup_id": {b.Status.BackupID}}
	return files, r.sim.Admin(ctx, http.MethodGet, "backup-files?"+q.Encode(), nil, &files)
}

// plainCopy copies the backup's files the plain way, on the same machine:
// a GET of each download link streamed by minio-go's PutObject into the
// same gateway, with the manager's part size and number of parts in
// flight. It is the yardstick of the manager's throughput.
func (r *runEnv) plainCopy(ctx context.Context, gw *localenv.VersityGW, b *backupv1alpha1.DCSBackup,
	er *exportResult) error {
	api, err := dcs.New(dcs.Config{Endpoint: r.sim.URL, AllowInsecure: true, ProjectID: r.sim.ProjectID,
		Credentials: dcs.Credentials{AccessKey: r.sim.AccessKey, SecretKey: r.sim.SecretKey},
		Limiter:     dcs.NewLimiter(0, 0)})
	if err != nil {
		return err
	}
	mc, err := minio.New(strings.TrimPrefix(gw.URL, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(gw.AccessKey, gw.SecretKey, ""), Region: gw.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return err
	}
	files, err := api.ListBackupFileLinks(ctx, b.Spec.InstanceID, b.Status.BackupID, time.Hour)
	if err != nil {
		return err
	}
	start := time.Now()
	var copied int64
	for _, f := range files.Links {
		n, err := copyLink(ctx, mc, f.URL, "plain/"+f.FileName)
		if err != nil {
			return fmt.Errorf("plain copy of %s: %w", f.FileName, dcs.RedactError(err))
		}
		copied += n
	}
	seconds := time.Since(start).Seconds()
	if copied != er.BackupBytes {
		return fmt.Errorf("the plain copy moved %d bytes, the backup has %d", copied, er.BackupBytes)
	}
	er.PlainCopySeconds = round(seconds, 2)
	er.PlainCopyMiBPerSec = round(float64(copied)/(1<<20)/seconds, 1)
	stats, err := r.sim.Stats(ctx)
	if err == nil {
		er.SimulatorDownloaded = stats.DownloadBytes
	}
	return nil
}

// copyLink streams one download link into key.
func copyLink(ctx context.Context, mc *minio.Client, link dcs.PresignedURL, key string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link.Reveal(), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK || resp.ContentLength < 0 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return 0, fmt.Errorf("GET: %s, Content-Length %d", resp.Status, resp.ContentLength)
	}
	info, err := mc.PutObject(ctx, exportBucket, key, resp.Body, resp.ContentLength, minio.PutObjectOptions{
		ContentType: "application/octet-stream", PartSize: uint64(objectstore.DefaultPartSize),
		ConcurrentStreamParts: true, NumThreads: uint(objectstore.DefaultUploadConcurrency),
	})
	if err != nil {
		return 0, err
	}
	return info.Size, nil
}

// pollUntil calls cond every exportPoll until it reports true or fails,
// or timeout ends.
func (r *runEnv) pollUntil(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		done, err := cond()
		switch {
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			return err
		case done:
			return nil
		}
		if err := sleepUntil(ctx, time.Now().Add(exportPoll)); err != nil {
			return fmt.Errorf("gave up after %s: %w", timeout, err)
		}
	}
}
