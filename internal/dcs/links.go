package dcs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Bounds of the expiration of backup file links (SPEC.md 15: "from 5
// minutes to 24 hours", 300-86400 s).
const (
	MinLinkExpiration = 5 * time.Minute
	MaxLinkExpiration = 24 * time.Hour
)

// BackupFiles are the files of a backup with presigned download links
// (ListBackupFileLinks, SPEC.md 2.6, 15).
type BackupFiles struct {
	// FilePath is the files' folder in BucketName, e.g.
	// "{instance_id}/{backup_id}/" ([I] from the documented example).
	FilePath   string
	BucketName string
	// Links has one file per shard: a cluster backup has several, whose
	// sizes add up to the backup's size ([I], SPEC.md 15). At most 64.
	Links []BackupFileLink
	// ExpiresAt is the client's clock when it sent the request plus the
	// expiration asked for: the links may stop working from then on (or
	// earlier, if the clocks disagree), so ask again before.
	ExpiresAt time.Time
}

// BackupFileLink is one file and its link. The link needs no DCS
// credentials and is one itself: it never appears in full in a log or an
// error (PresignedURL redacts).
type BackupFileLink struct {
	FileName string
	URL      PresignedURL
}

// ListBackupFileLinks asks for download links of a backup's files
// (POST .../backups/{backup_id}/links with {"expiration": seconds}). The
// call has no v1.0 form: a V1 client uses the v2 path on the same host
// (SPEC.md 1, 3). An expiration outside 5 min..24 h (after dropping
// fractions of a second) is refused before sending, with
// ErrInvalidArgument.
func (c *Client) ListBackupFileLinks(ctx context.Context, instanceID, backupID string, expiration time.Duration) (BackupFiles, error) {
	if err := validatePathSegment("backup id", backupID); err != nil {
		return BackupFiles{}, argError(OpListBackupFileLinks, err)
	}
	seconds := int64(expiration / time.Second)
	if seconds < int64(MinLinkExpiration/time.Second) || seconds > int64(MaxLinkExpiration/time.Second) {
		return BackupFiles{}, argError(OpListBackupFileLinks, fmt.Errorf("%w: link expiration %s is outside %s..%s",
			ErrInvalidArgument, expiration, MinLinkExpiration, MaxLinkExpiration))
	}
	type body struct {
		Expiration int64 `json:"expiration"`
	}
	// The links' lifetime starts when DCS signs them, which is after the
	// request leaves: reading the clock before sending keeps ExpiresAt on
	// the safe side.
	sent := c.cfg.Clock.Now()
	resp, err := c.do(ctx, request{op: OpListBackupFileLinks, method: http.MethodPost, v2Only: true,
		instanceID: instanceID, segments: []string{segBackups, backupID, "links"}, body: body{Expiration: seconds}})
	if err != nil {
		return BackupFiles{}, err
	}
	files, err := decodeBackupFiles(resp.body)
	if err != nil {
		return BackupFiles{}, c.decodeFailure(OpListBackupFileLinks, resp, err)
	}
	files.ExpiresAt = sent.Add(time.Duration(seconds) * time.Second)
	return files, nil
}

type wireLink struct {
	FileName looseString `json:"file_name"`
	Link     looseString `json:"link"`
}

type wireBackupFiles struct {
	FilePath   looseString         `json:"file_path"`
	BucketName looseString         `json:"bucket_name"`
	Links      looseList[wireLink] `json:"links"`
}

// decodeBackupFiles decodes the links answer. A link without a URL is
// dropped: there is nothing to download.
func decodeBackupFiles(body []byte) (BackupFiles, error) {
	var w wireBackupFiles
	if err := json.Unmarshal(body, &w); err != nil {
		return BackupFiles{}, &DecodeError{Err: err}
	}
	out := BackupFiles{FilePath: string(w.FilePath), BucketName: string(w.BucketName)}
	for _, l := range w.Links {
		if l.Link == "" {
			continue
		}
		out.Links = append(out.Links, BackupFileLink{FileName: string(l.FileName), URL: PresignedURL(l.Link)})
	}
	return out, nil
}
