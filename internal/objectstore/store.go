package objectstore

import (
	"context"
	"io"
	"time"
)

// Store is one bucket of an S3-compatible store, below Config.Prefix, as
// the controllers see it. Keys are relative to the prefix and use "/" as
// the separator. Every error is an *Error; Classify tells its Class.
// Client is the implementation; controller tests fake this interface.
type Store interface {
	// CheckBucket returns nil when the endpoint answers, accepts the
	// credentials, and the bucket exists and may be listed. Otherwise the
	// error's Class says which of these failed.
	CheckBucket(ctx context.Context) error
	// Upload stores exactly size bytes read from r under key, streaming:
	// the object is never held whole in memory or on disk. It fails with
	// ClassSizeMismatch, and stores nothing, when r has fewer or more
	// bytes than size. An existing object is replaced.
	Upload(ctx context.Context, key string, r io.Reader, size int64) (Uploaded, error)
	// Put stores a small object (at most MaxSmallObjectSize bytes, e.g. a
	// manifest) in one request.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns a small object's content; an object larger than
	// MaxSmallObjectSize is an error (ClassOther) and is not read.
	Get(ctx context.Context, key string) ([]byte, error)
	// Stat describes an object; a missing one is ClassNotFound.
	Stat(ctx context.Context, key string) (Object, error)
	// List returns the objects whose keys start with prefix, in key
	// order, across all pages.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete deletes objects; keys that do not exist count as deleted.
	Delete(ctx context.Context, keys ...string) error
	// AbortUploads aborts the incomplete multipart uploads of keys under
	// prefix that started before startedBefore (all if zero): what a
	// crash in the middle of an Upload leaves behind, invisible to List
	// but stored and billed. It returns how many it aborted.
	AbortUploads(ctx context.Context, prefix string, startedBefore time.Time) (int, error)
}

// MaxSmallObjectSize bounds Put and Get, which hold the object in memory.
const MaxSmallObjectSize = 8 << 20

// Object describes a stored object.
type Object struct {
	// Key is relative to the configured prefix.
	Key          string
	Size         int64
	LastModified time.Time
}

// Uploaded is the result of an Upload: what was stored, measured on the
// way.
type Uploaded struct {
	// Key is relative to the configured prefix.
	Key  string
	Size int64
	// SHA256 is the hex SHA-256 of the content.
	SHA256 string
}
