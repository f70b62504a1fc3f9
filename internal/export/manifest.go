package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// ManifestName is the file that makes an export folder complete.
const ManifestName = "manifest.json"

// ManifestVersion is the version of the manifest format written.
const ManifestVersion = 1

// Manifest describes one complete export: where the backup came from and
// every file with its size and SHA-256. It is the last object written, so
// its presence means the files are complete, and it is what retention and
// restores read: the bucket is its own catalogue and needs no cluster.
type Manifest struct {
	Version int `json:"version"`
	// Backup is the DCS backup the files are from.
	Backup ManifestBackup `json:"backup"`
	// Source is the DCSBackup that asked for the export.
	Source ManifestSource `json:"source"`
	// ExportedAt is when the copy completed (the operator's clock).
	ExportedAt time.Time `json:"exportedAt"`
	// Files are the backup's files, one per shard; names are relative to
	// the manifest's folder.
	Files []ManifestFile `json:"files"`
	// TotalSize is the sum of the files' sizes.
	TotalSize int64 `json:"totalSize"`
}

// ManifestBackup is the DCS side of an export.
type ManifestBackup struct {
	InstanceID string `json:"instanceID"`
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	Format     string `json:"format,omitempty"`
	Type       string `json:"type,omitempty"`
	// Size is the size DCS reported for the backup (0 if none).
	Size int64 `json:"size,omitempty"`
	// StartedAt and CompletedAt are DCS's times of the backup.
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
}

// ManifestSource is the Kubernetes side of an export.
type ManifestSource struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
	// Schedule is the DCSBackupSchedule that made the DCSBackup, if any.
	Schedule string `json:"schedule,omitempty"`
}

// ManifestFile is one exported file.
type ManifestFile struct {
	// Name is the object's name in the export's folder.
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Folder is the export folder of a DCSBackup, below the storage's prefix.
func Folder(namespace, name string) string { return namespace + "/" + name + "/" }

// Time is the moment retention counts an export at: the backup's
// completion in DCS, else its export.
func (m *Manifest) Time() time.Time {
	if m.Backup.CompletedAt != nil && !m.Backup.CompletedAt.IsZero() {
		return *m.Backup.CompletedAt
	}
	return m.ExportedAt
}

// Marshal encodes the manifest, indented for people who open it in a bucket
// browser.
func (m *Manifest) Marshal() ([]byte, error) {
	return json.MarshalIndent(m, "", "  ")
}

// ParseManifest decodes and checks a manifest.
func ParseManifest(data []byte) (*Manifest, error) {
	m := &Manifest{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return m, m.Validate()
}

// Validate checks what a restore and retention rely on.
func (m *Manifest) Validate() error {
	var errs []error
	if m.Version < 1 || m.Version > ManifestVersion {
		errs = append(errs, fmt.Errorf("version %d is not one this operator reads (1..%d)", m.Version, ManifestVersion))
	}
	if m.Backup.ID == "" || m.Backup.InstanceID == "" {
		errs = append(errs, errors.New("backup.id and backup.instanceID are required"))
	}
	if len(m.Files) == 0 {
		errs = append(errs, errors.New("no files"))
	}
	errs = append(errs, m.validateFiles()...)
	if len(errs) > 0 {
		return fmt.Errorf("manifest: %w", errors.Join(errs...))
	}
	return nil
}

func (m *Manifest) validateFiles() []error {
	var errs []error
	var total int64
	seen := map[string]bool{}
	for _, f := range m.Files {
		if !PlainFileName(f.Name) {
			errs = append(errs, fmt.Errorf("file name %q is not a plain name in the folder", f.Name))
		}
		if seen[f.Name] {
			errs = append(errs, fmt.Errorf("file %q is listed twice", f.Name))
		}
		seen[f.Name] = true
		if f.Size < 0 || len(f.SHA256) != 64 {
			errs = append(errs, fmt.Errorf("file %q: size %d, sha256 %q", f.Name, f.Size, f.SHA256))
		}
		total += f.Size
	}
	if total != m.TotalSize {
		errs = append(errs, fmt.Errorf("totalSize %d is not the sum of the files' sizes (%d)", m.TotalSize, total))
	}
	return errs
}

// PlainFileName reports whether name is a file name in a folder (no
// separator, no dot segment) other than the manifest's.
func PlainFileName(name string) bool {
	return name != "" && name != ManifestName && !strings.Contains(name, "/") && path.Clean(name) == name &&
		name != "." && name != ".."
}
