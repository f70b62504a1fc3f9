package objectstore

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5 is what S3 asks for, not a security measure
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// maxAttempts is how often minio-go sends a request whose body it can
// replay (all of ours) before giving up on a 5xx or a network error: a
// lost part should not fail a long upload, and controllers back off
// between calls anyway.
const maxAttempts = 3

// maxPageSize is S3's limit of keys per list page and per DeleteObjects
// request.
const maxPageSize = 1000

// Client is a Store on an S3-compatible endpoint. Its String and
// GoString methods leave the secret key out.
type Client struct {
	cfg  Config
	mc   *minio.Client
	core minio.Core
	// listPageSize and deleteBatchSize are S3's limits; tests lower them
	// to page and batch with few objects.
	listPageSize    int
	deleteBatchSize int
}

var _ Store = (*Client)(nil)

// New returns a Client for cfg. It sends no request: CheckBucket does.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, &Error{Op: "configure", Bucket: cfg.Bucket, Class: ClassInvalid, Err: err}
	}
	u, _ := url.Parse(cfg.Endpoint) // validated by withDefaults
	transport := cfg.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	mc, err := minio.New(u.Host, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    u.Scheme == "https",
		Transport: transport,
		// With the region given, minio-go never asks the store for the
		// bucket's location (GetBucketLocation), which OBS and Ceph answer
		// differently.
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   maxAttempts,
	})
	if err != nil {
		return nil, &Error{Op: "configure", Bucket: cfg.Bucket, Class: ClassInvalid, Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}
	return &Client{cfg: cfg, mc: mc, core: minio.Core{Client: mc},
		listPageSize: maxPageSize, deleteBatchSize: maxPageSize}, nil
}

// Config returns the configuration with its defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// String describes the client without its secret key: fmt would print
// the unexported configuration field by reflection, secret included. A
// value receiver, so that a dereferenced Client prints safely too.
func (c Client) String() string { return "objectstore.Client" + c.cfg.String() }

// GoString is String, for %#v.
func (c Client) GoString() string { return c.String() }

// callContext bounds one request by d; the cause ErrTimeout tells the
// per-call timeout from the caller's own deadline.
func callContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, ErrTimeout)
}

// objectKey validates a key relative to the prefix and returns the key in
// the bucket.
func (c *Client) objectKey(key string) (string, error) {
	if err := checkKey("key", key, false); err != nil {
		return key, err
	}
	full := c.cfg.Prefix + key
	if len(full) > maxKeyLength {
		return full, invalidf("key %q with the prefix is longer than %d bytes", key, maxKeyLength)
	}
	return full, nil
}

// CheckBucket sends one list request with max-keys=1 under the prefix,
// rather than HEAD bucket: a HEAD answer has no body, so a wrong secret
// key (SignatureDoesNotMatch) and a missing permission (AccessDenied) look
// alike there, while the list answer says which. It also proves the list
// permission that export retention needs.
func (c *Client) CheckBucket(ctx context.Context) error {
	callCtx, cancel := callContext(ctx, c.cfg.Timeout)
	defer cancel()
	for obj := range c.mc.ListObjectsIter(callCtx, c.cfg.Bucket, c.listOptions(c.cfg.Prefix, 1)) {
		if obj.Err != nil {
			return c.wrapError(ctx, callCtx, "check bucket", c.cfg.Prefix, obj.Err)
		}
		break
	}
	// minio-go's iterator ends silently when its context ends.
	return c.wrapError(ctx, callCtx, "check bucket", c.cfg.Prefix, context.Cause(callCtx))
}

// listOptions lists recursively with the V1 API (marker paging): every
// S3-compatible store has it, while ListObjectsV2 came to OBS only in
// 2022 and not to every region's documentation.
func (c *Client) listOptions(prefix string, maxKeys int) minio.ListObjectsOptions {
	noOwner := false
	return minio.ListObjectsOptions{Prefix: prefix, Recursive: true, UseV1: true, MaxKeys: maxKeys, FetchOwner: &noOwner}
}

// Put stores a small object in one request, with its Content-MD5 and
// signed SHA-256, so the store verifies what it received.
func (c *Client) Put(ctx context.Context, key string, data []byte) error {
	const op = "put"
	full, err := c.objectKey(key)
	if err == nil && len(data) > MaxSmallObjectSize {
		err = invalidf("%d bytes is more than %d: use Upload", len(data), MaxSmallObjectSize)
	}
	if err != nil {
		return c.wrapError(ctx, nil, op, full, err)
	}
	md5sum := md5.Sum(data) //nolint:gosec // see the import
	shasum := sha256.Sum256(data)
	callCtx, cancel := callContext(ctx, c.cfg.Timeout)
	defer cancel()
	_, err = c.core.PutObject(callCtx, c.cfg.Bucket, full, bytes.NewReader(data), int64(len(data)),
		base64.StdEncoding.EncodeToString(md5sum[:]), hex.EncodeToString(shasum[:]), c.putOptions(full))
	return c.wrapError(ctx, callCtx, op, full, err)
}

// putOptions sends the payload's SHA-256 in the signature instead of
// minio-go's chunked streaming signature on http, which not every
// S3-compatible store implements.
func (c *Client) putOptions(key string) minio.PutObjectOptions {
	contentType := "application/octet-stream"
	if path.Ext(key) == ".json" {
		contentType = mime.TypeByExtension(".json")
	}
	return minio.PutObjectOptions{ContentType: contentType, DisableContentSha256: true}
}

// Get reads a small object.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	const op = "get"
	full, err := c.objectKey(key)
	if err != nil {
		return nil, c.wrapError(ctx, nil, op, full, err)
	}
	callCtx, cancel := callContext(ctx, c.cfg.Timeout)
	defer cancel()
	body, info, _, err := c.core.GetObject(callCtx, c.cfg.Bucket, full, minio.GetObjectOptions{})
	if err != nil {
		return nil, c.wrapError(ctx, callCtx, op, full, err)
	}
	defer func() { _ = body.Close() }()
	if info.Size > MaxSmallObjectSize {
		return nil, &Error{Op: op, Bucket: c.cfg.Bucket, Key: full, Class: ClassOther,
			Err: fmt.Errorf("the object has %d bytes, more than the %d a small object may have", info.Size, MaxSmallObjectSize)}
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxSmallObjectSize+1))
	if err == nil && int64(len(data)) != info.Size {
		err = fmt.Errorf("%w: read %d bytes of %d", io.ErrUnexpectedEOF, len(data), info.Size)
	}
	if err != nil {
		return nil, c.wrapError(ctx, callCtx, op, full, err)
	}
	return data, nil
}

// Stat describes an object. A HEAD answer has no body: a missing bucket
// also reads as a missing object here.
func (c *Client) Stat(ctx context.Context, key string) (Object, error) {
	const op = "stat"
	full, err := c.objectKey(key)
	if err != nil {
		return Object{}, c.wrapError(ctx, nil, op, full, err)
	}
	callCtx, cancel := callContext(ctx, c.cfg.Timeout)
	defer cancel()
	info, err := c.mc.StatObject(callCtx, c.cfg.Bucket, full, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, c.wrapError(ctx, callCtx, op, full, err)
	}
	return Object{Key: key, Size: info.Size, LastModified: info.LastModified}, nil
}

// List pages through the objects under prefix. Its timeout is per page:
// Config.Timeout without a new object ends it, however long the whole
// listing takes.
func (c *Client) List(ctx context.Context, prefix string) ([]Object, error) {
	const op = "list"
	full := c.cfg.Prefix + prefix
	if err := checkKey("prefix", prefix, true); err != nil {
		return nil, c.wrapError(ctx, nil, op, full, err)
	}
	listCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(c.cfg.Timeout, func() { cancel(ErrTimeout) })
	defer watchdog.Stop()

	var out []Object
	last := ""
	for obj := range c.mc.ListObjectsIter(listCtx, c.cfg.Bucket, c.listOptions(full, c.listPageSize)) {
		if obj.Err != nil {
			return nil, c.wrapError(ctx, listCtx, op, full, obj.Err)
		}
		// S3 lists keys in ascending order. A store that sends a key again
		// would otherwise make this loop page for ever.
		if out != nil && obj.Key <= last {
			return nil, &Error{Op: op, Bucket: c.cfg.Bucket, Key: full, Class: ClassOther,
				Err: fmt.Errorf("the store listed %q after %q: keys out of order", obj.Key, last)}
		}
		last = obj.Key
		watchdog.Reset(c.cfg.Timeout)
		out = append(out, Object{Key: strings.TrimPrefix(obj.Key, c.cfg.Prefix), Size: obj.Size, LastModified: obj.LastModified})
	}
	// minio-go's iterator ends silently when its context ends.
	if err := context.Cause(listCtx); err != nil {
		return nil, c.wrapError(ctx, listCtx, op, full, err)
	}
	return out, nil
}

// Delete deletes in batches of up to 1000 keys, one DeleteObjects request
// each (minio-go sends the Content-MD5 that OBS and S3 require for it).
func (c *Client) Delete(ctx context.Context, keys ...string) error {
	const op = "delete"
	objs := make([]minio.ObjectInfo, 0, len(keys))
	for _, k := range keys {
		full, err := c.objectKey(k)
		if err != nil {
			return c.wrapError(ctx, nil, op, full, err)
		}
		objs = append(objs, minio.ObjectInfo{Key: full})
	}
	for len(objs) > 0 {
		n := min(len(objs), c.deleteBatchSize)
		if err := c.deleteBatch(ctx, objs[:n]); err != nil {
			return err
		}
		objs = objs[n:]
	}
	return nil
}

func (c *Client) deleteBatch(ctx context.Context, batch []minio.ObjectInfo) error {
	callCtx, cancel := callContext(ctx, c.cfg.Timeout)
	defer cancel()
	results, err := c.mc.RemoveObjectsWithIter(callCtx, c.cfg.Bucket, func(yield func(minio.ObjectInfo) bool) {
		for _, o := range batch {
			if !yield(o) {
				return
			}
		}
	}, minio.RemoveObjectsOptions{})
	if err != nil {
		return c.wrapError(ctx, callCtx, "delete", "", err)
	}
	for res := range results {
		if err := c.wrapError(ctx, callCtx, "delete", res.ObjectName, res.Err); err != nil && !IsNotFound(err) {
			return err
		}
	}
	return c.wrapError(ctx, callCtx, "delete", "", context.Cause(callCtx))
}

// AbortUploads lists the incomplete uploads under prefix, then aborts
// those started before startedBefore. Listing everything first keeps the
// paging markers valid: versitygw rejects an upload-id-marker whose
// upload was aborted meanwhile. An upload that is gone by the time it is
// aborted (completed or aborted by someone else) is not counted and is no
// error.
func (c *Client) AbortUploads(ctx context.Context, prefix string, startedBefore time.Time) (int, error) {
	const op = "abort uploads"
	full := c.cfg.Prefix + prefix
	if err := checkKey("prefix", prefix, true); err != nil {
		return 0, c.wrapError(ctx, nil, op, full, err)
	}
	uploads, err := c.listUploads(ctx, full)
	if err != nil {
		return 0, err
	}
	aborted := 0
	for _, u := range uploads {
		if !startedBefore.IsZero() && !u.Initiated.Before(startedBefore) {
			continue
		}
		err := c.abort(ctx, u.Key, u.UploadID)
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return aborted, err
		}
		aborted++
	}
	return aborted, nil
}

// listUploads pages through the incomplete uploads of keys with prefix.
func (c *Client) listUploads(ctx context.Context, prefix string) ([]minio.ObjectMultipartInfo, error) {
	const op = "abort uploads"
	var out []minio.ObjectMultipartInfo
	keyMarker, idMarker := "", ""
	for {
		page, err := c.listUploadsPage(ctx, prefix, keyMarker, idMarker)
		if idMarker != "" && hasCode(err, "InvalidArgument") {
			// versitygw v1.8.0 drops the marker key's uploads before it
			// looks for the upload-id marker among them (backend/posix
			// ListMultipartUploads), so it rejects every page after the
			// first. The key marker alone lists the keys after it; further
			// uploads of the marker key are left for the next call.
			page, err = c.listUploadsPage(ctx, prefix, keyMarker, "")
		}
		if err != nil {
			return nil, err
		}
		out = append(out, page.Uploads...)
		if !page.IsTruncated {
			return out, nil
		}
		// Markers that do not move would page for ever.
		if page.NextKeyMarker == keyMarker && page.NextUploadIDMarker == idMarker {
			return nil, &Error{Op: op, Bucket: c.cfg.Bucket, Key: prefix, Class: ClassOther,
				Err: errors.New("the store's upload listing does not advance")}
		}
		keyMarker, idMarker = page.NextKeyMarker, page.NextUploadIDMarker
	}
}

// hasCode reports whether err is an S3 error answer with code.
func hasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

func (c *Client) listUploadsPage(ctx context.Context, prefix, keyMarker, idMarker string) (minio.ListMultipartUploadsResult, error) {
	callCtx, cancel := callContext(ctx, c.cfg.Timeout)
	defer cancel()
	page, err := c.core.ListMultipartUploads(callCtx, c.cfg.Bucket, prefix, keyMarker, idMarker, "", c.listPageSize)
	return page, c.wrapError(ctx, callCtx, "abort uploads", prefix, err)
}

// abort aborts one multipart upload.
func (c *Client) abort(ctx context.Context, key, uploadID string) error {
	callCtx, cancel := callContext(ctx, c.cfg.Timeout)
	defer cancel()
	return c.wrapError(ctx, callCtx, "abort upload", key, c.core.AbortMultipartUpload(callCtx, c.cfg.Bucket, key, uploadID))
}
