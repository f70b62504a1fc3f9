package export

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
)

// LinkSource asks DCS for download links of the backup's files. Every call
// issues new links, valid for a while (dcs.BackupFiles.ExpiresAt).
type LinkSource func(ctx context.Context) (dcs.BackupFiles, error)

// Job is one copy of one backup into one folder of a bucket.
type Job struct {
	// ID identifies the job (the DCSBackup's UID); Object is woken when it
	// ends.
	ID     types.UID
	Object types.NamespacedName
	// Store is the bucket, below the storage's prefix.
	Store objectstore.Store
	// Links issues the backup's download links (through the DCS client,
	// so it counts against the DCS request budget).
	Links LinkSource
	// Folder is the export's folder below the prefix, ending in "/".
	Folder string
	// Manifest has Backup and Source filled in; the copy adds the files.
	Manifest Manifest
	// StartedAt is the intent the controller recorded before handing over
	// the job: multipart uploads of the folder begun before it belong to
	// an earlier attempt and are aborted first.
	StartedAt time.Time
	// HTTPClient downloads the links; nil means a default client.
	HTTPClient *http.Client
	// AllowInsecure accepts plain-http links (the simulator on loopback);
	// a link is a credential, and DCS hands out https ones.
	AllowInsecure bool
	// Clock stamps the manifest; nil means the real clock.
	Clock clock.PassiveClock
	// Progress, if set, is told about every chunk of bytes downloaded.
	Progress func(n int64)
}

// Result is how a job ended.
type Result struct {
	// Manifest is the complete export (nil on failure).
	Manifest *Manifest
	// Adopted is set when a complete export of the same backup was
	// already in the folder and nothing was copied.
	Adopted bool
	// Err is why the copy failed: a *dcs.Error (links), a
	// *DownloadError, an *objectstore.Error, a *ConflictError or a
	// *SizeError.
	Err error
	// Started and Ended are the job's real run time (not the queue).
	Started, Ended time.Time
	// Bytes is how many bytes were uploaded.
	Bytes int64
}

// ConflictError is a folder that holds the export of another backup (or a
// manifest the operator cannot read): it is never overwritten.
type ConflictError struct {
	Folder string
	Reason string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("folder %s %s; it is not overwritten: delete it or rename the DCSBackup", e.Folder, e.Reason)
}

// SizeError is a copy whose files do not add up to what DCS reported.
type SizeError struct {
	Copied, Reported int64
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("the backup's files have %d bytes in all, DCS reports %d for the backup", e.Copied, e.Reported)
}

// ErrNoFiles is a links answer without a file.
var ErrNoFiles = errors.New("DCS lists no file for the backup")

// Run copies the job's backup: it adopts a complete export of the same
// backup already in the folder, else aborts the multipart uploads left by
// an earlier attempt, streams every file from its link into the bucket
// (one at a time; memory stays bounded by the store's upload parts), and
// writes the manifest last, so that a folder with a manifest is always
// complete.
//
// The result is named so that the deferred Ended reaches the caller, on
// every return: the controller times the retry backoff and the duration
// metric from it.
func Run(ctx context.Context, job Job) (res Result) {
	c := clock.PassiveClock(clock.RealClock{})
	if job.Clock != nil {
		c = job.Clock
	}
	res = Result{Started: time.Now()}
	defer func() { res.Ended = time.Now() }()
	m, adopted, err := adopt(ctx, job)
	if err != nil || adopted {
		res.Manifest, res.Adopted, res.Err = m, adopted, err
		return res
	}
	if _, err := job.Store.AbortUploads(ctx, job.Folder, job.StartedAt); err != nil {
		res.Err = err
		return res
	}
	manifest := job.Manifest
	manifest.Version = ManifestVersion
	if res.Err = copyFiles(ctx, job, c, &manifest, &res.Bytes); res.Err != nil {
		return res
	}
	if r := manifest.Backup.Size; r > 0 && manifest.TotalSize != r {
		res.Err = &SizeError{Copied: manifest.TotalSize, Reported: r}
		return res
	}
	manifest.ExportedAt = c.Now().UTC().Truncate(time.Second)
	data, err := manifest.Marshal()
	if err == nil {
		// A copy cancelled now (the manager stopping) must not write the
		// manifest: Put would not notice a cancelled context before
		// sending.
		err = context.Cause(ctx)
	}
	if err == nil {
		err = job.Store.Put(ctx, job.Folder+ManifestName, data)
	}
	if err != nil {
		res.Err = err
		return res
	}
	res.Manifest = &manifest
	return res
}

// adopt reads the folder's manifest. One of the same backup whose files
// are all there with their sizes is the export already done (a copy that
// completed before a crash recorded it, a DCSBackup re-created by a GitOps
// tool); one of another backup is a conflict. A manifest whose files are
// not all there is deleted, first, and the copy starts again.
func adopt(ctx context.Context, job Job) (*Manifest, bool, error) {
	data, err := job.Store.Get(ctx, job.Folder+ManifestName)
	if objectstore.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, false, &ConflictError{Folder: job.Folder, Reason: "has a manifest.json the operator cannot read (" + err.Error() + ")"}
	}
	if m.Backup.ID != job.Manifest.Backup.ID || m.Backup.InstanceID != job.Manifest.Backup.InstanceID {
		return nil, false, &ConflictError{Folder: job.Folder, Reason: fmt.Sprintf("holds the export of backup %s of instance %s",
			m.Backup.ID, m.Backup.InstanceID)}
	}
	complete, err := FilesPresent(ctx, job.Store, job.Folder, m)
	if err != nil {
		return nil, false, err
	}
	if complete {
		return m, true, nil
	}
	return nil, false, job.Store.Delete(ctx, job.Folder+ManifestName)
}

// FilesPresent reports whether every file of a manifest is in the folder
// with its size.
func FilesPresent(ctx context.Context, store objectstore.Store, folder string, m *Manifest) (bool, error) {
	objs, err := store.List(ctx, folder)
	if err != nil {
		return false, err
	}
	sizes := make(map[string]int64, len(objs))
	for _, o := range objs {
		sizes[o.Key] = o.Size
	}
	for _, f := range m.Files {
		if size, ok := sizes[folder+f.Name]; !ok || size != f.Size {
			return false, nil
		}
	}
	return true, nil
}

func copyFiles(ctx context.Context, job Job, c clock.PassiveClock, m *Manifest, uploaded *int64) error {
	client := job.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	// The links' ExpiresAt is in the DCS client's time, which is c.
	l := &links{source: job.Links, now: c.Now}
	if err := l.renewLocked(ctx); err != nil {
		return err
	}
	if len(l.files.Links) == 0 {
		return ErrNoFiles
	}
	m.Files, m.TotalSize = nil, 0
	for _, f := range l.files.Links {
		if !PlainFileName(f.FileName) {
			return fmt.Errorf("DCS names a backup file %q, which is not a plain file name", f.FileName)
		}
		if !job.AllowInsecure && !isHTTPS(f.URL) {
			return &DownloadError{File: f.FileName, Err: errors.New("the link is not https; the operator follows " +
				"plain-http links only with --insecure-endpoints")}
		}
		r, err := openLink(ctx, client, l, f.FileName, job.Progress)
		if err != nil {
			return err
		}
		up, err := job.Store.Upload(ctx, job.Folder+f.FileName, r, r.Size())
		_ = r.Close()
		if err != nil {
			return err
		}
		*uploaded += up.Size
		m.Files = append(m.Files, ManifestFile{Name: f.FileName, Size: up.Size, SHA256: up.SHA256})
		m.TotalSize += up.Size
	}
	return nil
}

func isHTTPS(u dcs.PresignedURL) bool {
	s := u.Reveal()
	return len(s) > 8 && s[:8] == "https://"
}
