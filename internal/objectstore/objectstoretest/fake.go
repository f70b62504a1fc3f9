// Package objectstoretest holds an in-memory objectstore.Store for the
// unit tests of controllers, and the contract that it and the real client
// both pass (Contract), so that a controller tested against the fake
// meets the same behaviour against a bucket.
package objectstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
)

// Fake is an objectstore.Store in memory. It is safe for concurrent use.
// The zero value is an empty bucket with the real clock.
type Fake struct {
	// Now is the time of LastModified and of started uploads; nil means
	// time.Now. Controller tests that move time set it.
	Now func() time.Time
	// Fail, if set, is asked before every call with the operation's name
	// (as in objectstore.Error.Op: "check bucket", "upload", "put", "get",
	// "stat", "list", "delete", "abort uploads") and the key or prefix; a
	// non-nil answer is the call's error, and the call does nothing. Use
	// an *objectstore.Error with the Class under test.
	Fail func(op, key string) error

	mu      sync.Mutex
	objects map[string]fakeObject
	uploads []Upload
	calls   map[string]int
}

type fakeObject struct {
	data     []byte
	modified time.Time
}

// Upload is an incomplete multipart upload, as a crash in the middle of
// an objectstore.Client.Upload leaves it.
type Upload struct {
	Key     string
	Started time.Time
}

var _ objectstore.Store = (*Fake)(nil)

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// call counts the call and asks Fail; f.mu is held.
func (f *Fake) call(ctx context.Context, op, key string) error {
	if f.calls == nil {
		f.calls = map[string]int{}
		f.objects = map[string]fakeObject{}
	}
	f.calls[op]++
	if err := ctx.Err(); err != nil {
		return &objectstore.Error{Op: op, Key: key, Class: objectstore.ClassCanceled, Err: err}
	}
	if f.Fail != nil {
		return f.Fail(op, key)
	}
	return nil
}

// enter is call for methods that read a stream without holding f.mu.
func (f *Fake) enter(ctx context.Context, op, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.call(ctx, op, key)
}

// Calls returns how often op was called, failed calls included.
func (f *Fake) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// AddUpload records an incomplete multipart upload for AbortUploads.
func (f *Fake) AddUpload(key string, started time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads = append(f.uploads, Upload{Key: key, Started: started})
}

// Uploads returns the incomplete uploads.
func (f *Fake) Uploads() []Upload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.uploads)
}

// CheckBucket succeeds unless Fail says otherwise.
func (f *Fake) CheckBucket(ctx context.Context) error {
	return f.enter(ctx, "check bucket", "")
}

// Upload reads the stream whole (this is a fake) and stores it if it has
// exactly size bytes.
func (f *Fake) Upload(ctx context.Context, key string, r io.Reader, size int64) (objectstore.Uploaded, error) {
	const op = "upload"
	if err := f.enter(ctx, op, key); err != nil {
		return objectstore.Uploaded{}, err
	}
	if key == "" || size < 0 {
		return objectstore.Uploaded{}, invalid(op, key)
	}
	data, err := io.ReadAll(io.LimitReader(r, size+1))
	switch {
	case err != nil:
		return objectstore.Uploaded{}, &objectstore.Error{Op: op, Key: key, Class: objectstore.ClassSource, Err: err}
	case int64(len(data)) != size:
		return objectstore.Uploaded{}, &objectstore.Error{Op: op, Key: key, Class: objectstore.ClassSizeMismatch,
			Err: fmt.Errorf("%w: %d bytes announced", objectstore.ErrSizeMismatch, size)}
	}
	f.store(key, data)
	sum := sha256.Sum256(data)
	return objectstore.Uploaded{Key: key, Size: size, SHA256: hex.EncodeToString(sum[:])}, nil
}

func (f *Fake) store(key string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[key] = fakeObject{data: data, modified: f.now()}
}

// Put stores a small object.
func (f *Fake) Put(ctx context.Context, key string, data []byte) error {
	const op = "put"
	if err := f.enter(ctx, op, key); err != nil {
		return err
	}
	if key == "" || len(data) > objectstore.MaxSmallObjectSize {
		return invalid(op, key)
	}
	f.store(key, bytes.Clone(data))
	return nil
}

// Get returns a small object's content.
func (f *Fake) Get(ctx context.Context, key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(ctx, "get", key); err != nil {
		return nil, err
	}
	o, ok := f.objects[key]
	if !ok {
		return nil, notFound("get", key)
	}
	if len(o.data) > objectstore.MaxSmallObjectSize {
		return nil, &objectstore.Error{Op: "get", Key: key, Class: objectstore.ClassOther,
			Err: errors.New("more than a small object may have")}
	}
	return bytes.Clone(o.data), nil
}

// Stat describes an object.
func (f *Fake) Stat(ctx context.Context, key string) (objectstore.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(ctx, "stat", key); err != nil {
		return objectstore.Object{}, err
	}
	o, ok := f.objects[key]
	if !ok {
		return objectstore.Object{}, notFound("stat", key)
	}
	return objectstore.Object{Key: key, Size: int64(len(o.data)), LastModified: o.modified}, nil
}

// List returns the objects under prefix in key order.
func (f *Fake) List(ctx context.Context, prefix string) ([]objectstore.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(ctx, "list", prefix); err != nil {
		return nil, err
	}
	var out []objectstore.Object
	for k, o := range f.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, objectstore.Object{Key: k, Size: int64(len(o.data)), LastModified: o.modified})
		}
	}
	slices.SortFunc(out, func(a, b objectstore.Object) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete deletes objects; missing ones count as deleted.
func (f *Fake) Delete(ctx context.Context, keys ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(ctx, "delete", strings.Join(keys, ",")); err != nil {
		return err
	}
	for _, k := range keys {
		delete(f.objects, k)
	}
	return nil
}

// AbortUploads removes the recorded uploads under prefix started before
// startedBefore (all if zero).
func (f *Fake) AbortUploads(ctx context.Context, prefix string, startedBefore time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(ctx, "abort uploads", prefix); err != nil {
		return 0, err
	}
	before := len(f.uploads)
	f.uploads = slices.DeleteFunc(f.uploads, func(u Upload) bool {
		return strings.HasPrefix(u.Key, prefix) && (startedBefore.IsZero() || u.Started.Before(startedBefore))
	})
	return before - len(f.uploads), nil
}

func notFound(op, key string) error {
	return &objectstore.Error{Op: op, Key: key, Class: objectstore.ClassNotFound, Code: "NoSuchKey"}
}

func invalid(op, key string) error {
	return &objectstore.Error{Op: op, Key: key, Class: objectstore.ClassInvalid, Err: objectstore.ErrInvalid}
}
