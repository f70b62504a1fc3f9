package objectstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"
)

// abortTimeout bounds the abort of a failed upload, which runs even when
// the caller's context has ended.
const abortTimeout = 30 * time.Second

// Upload streams size bytes from r to key. Objects up to the part size go
// in one request; larger ones in a multipart upload whose parts are read
// into at most Config.UploadConcurrency buffers, so memory stays bounded
// whatever the size. Reading the next part overlaps with sending the
// previous ones. Every request carries its payload's SHA-256, so the store
// rejects a part that was damaged on the way.
func (c *Client) Upload(ctx context.Context, key string, r io.Reader, size int64) (Uploaded, error) {
	const op = "upload"
	full, err := c.objectKey(key)
	if err == nil && (size < 0 || size > MaxObjectSize) {
		err = invalidf("size %d is outside [0, %d]", size, int64(MaxObjectSize))
	}
	if err != nil {
		return Uploaded{}, c.wrapError(ctx, nil, op, full, err)
	}
	src := newSizedReader(r, size)
	partSize := partSizeFor(size, c.cfg.PartSize)
	if size <= partSize {
		err = c.uploadSingle(ctx, full, src, size)
	} else {
		err = c.uploadMultipart(ctx, full, src, size, partSize)
	}
	if err != nil {
		return Uploaded{}, err
	}
	return Uploaded{Key: key, Size: size, SHA256: src.sum()}, nil
}

// partSizeFor returns the configured part size, or a larger one (whole
// MiB) when the object would need more than MaxParts parts.
func partSizeFor(size, configured int64) int64 {
	if size <= configured*MaxParts {
		return configured
	}
	const mib = 1 << 20
	need := (size + MaxParts - 1) / MaxParts
	return (need + mib - 1) / mib * mib
}

func (c *Client) uploadSingle(ctx context.Context, key string, src *sizedReader, size int64) error {
	buf := make([]byte, size)
	if err := src.fill(buf); err != nil {
		return c.wrapError(ctx, nil, "upload", key, err)
	}
	if err := src.expectEnd(); err != nil {
		return c.wrapError(ctx, nil, "upload", key, err)
	}
	callCtx, cancel := callContext(ctx, c.cfg.PartTimeout)
	defer cancel()
	_, err := c.core.PutObject(callCtx, c.cfg.Bucket, key, bytes.NewReader(buf), size, "", src.sum(), c.putOptions(key))
	return c.wrapError(ctx, callCtx, "upload", key, err)
}

// uploadMultipart runs a multipart upload and aborts it if anything
// fails, with a context of its own: the caller's may be what ended the
// upload, and the parts would otherwise stay, stored and billed but
// invisible to List, until AbortUploads or a lifecycle rule removes them.
func (c *Client) uploadMultipart(ctx context.Context, key string, src *sizedReader, size, partSize int64) error {
	callCtx, cancel := callContext(ctx, c.cfg.Timeout)
	uploadID, err := c.core.NewMultipartUpload(callCtx, c.cfg.Bucket, key, c.putOptions(key))
	cancel()
	if err != nil {
		return c.wrapError(ctx, callCtx, "upload", key, err)
	}
	parts, err := c.uploadParts(ctx, key, uploadID, src, size, partSize)
	if err == nil {
		// PartTimeout, not Timeout: stores assemble the object before they
		// answer, which takes a while for large ones.
		callCtx, cancel = callContext(ctx, c.cfg.PartTimeout)
		_, err = c.core.CompleteMultipartUpload(callCtx, c.cfg.Bucket, key, uploadID, parts, c.putOptions(key))
		cancel()
		err = c.wrapError(ctx, callCtx, "upload", key, err)
	}
	if err == nil {
		return nil
	}
	abortCtx, cancelAbort := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancelAbort()
	if abortErr := c.abortUntilGone(abortCtx, key, uploadID); abortErr != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Err = errors.Join(e.Err, fmt.Errorf("the upload could not be aborted either: %w", abortErr))
		}
	}
	return err
}

// abortRetryDelay is the first pause between two aborts of one upload.
const abortRetryDelay = 50 * time.Millisecond

// abortUntilGone aborts an upload until the store no longer knows it. S3
// documents that a part upload in progress during the abort may still
// land, so that the upload must be aborted again (AbortMultipartUpload):
// parts that the caller's cancellation cut off may be such. A part that
// lands after the last check leaves an upload for AbortUploads to sweep.
// ctx bounds the attempts.
func (c *Client) abortUntilGone(ctx context.Context, key, uploadID string) error {
	delay := abortRetryDelay
	for {
		if err := c.abort(ctx, key, uploadID); err != nil && !IsNotFound(err) {
			return err
		}
		callCtx, cancel := callContext(ctx, c.cfg.Timeout)
		_, err := c.core.ListObjectParts(callCtx, c.cfg.Bucket, key, uploadID, 0, 1)
		cancel()
		switch err = c.wrapError(ctx, callCtx, "abort upload", key, err); {
		case IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return c.wrapError(ctx, nil, "abort upload", key, ctx.Err())
		case <-timer.C:
		}
		delay = min(2*delay, time.Second)
	}
}

// uploadParts reads the parts in order and sends each from a goroutine.
// A buffer is reused once its part is sent, so at most
// Config.UploadConcurrency buffers exist. The first failure, of the
// stream or of a part, stops the reading; the parts already on the wire
// are let finish rather than cancelled, so that the abort that follows
// does not race with them (a part that lands after an abort brings the
// upload back, S3 AbortMultipartUpload). Only the caller's context
// cancels them.
func (c *Client) uploadParts(ctx context.Context, key, uploadID string, src *sizedReader,
	size, partSize int64) ([]minio.CompletePart, error) {
	count := int((size + partSize - 1) / partSize)
	parts := make([]minio.CompletePart, count)
	// partFailed ends when a part failed (or the caller's context did).
	g, partFailed := errgroup.WithContext(ctx)
	pool := newBufferPool(c.cfg.UploadConcurrency, partSize)
	var readErr error
	for n := 1; n <= count && readErr == nil; n++ {
		buf, ok := pool.get(partFailed)
		if !ok {
			break // g.Wait says why
		}
		part := buf[:min(partSize, size-int64(n-1)*partSize)]
		readErr = src.fill(part)
		if readErr == nil && n == count {
			readErr = src.expectEnd()
		}
		if readErr != nil {
			break
		}
		g.Go(func() error {
			defer pool.put(buf)
			etag, err := c.uploadPart(ctx, key, uploadID, n, part)
			parts[n-1] = minio.CompletePart{PartNumber: n, ETag: etag}
			return err
		})
	}
	waitErr := g.Wait()
	if readErr != nil {
		return nil, c.wrapError(ctx, nil, "upload", key, readErr)
	}
	if waitErr == nil && ctx.Err() != nil {
		waitErr = c.wrapError(ctx, nil, "upload", key, ctx.Err())
	}
	return parts, waitErr
}

// uploadPart sends one part with its SHA-256 in the signature.
func (c *Client) uploadPart(ctx context.Context, key, uploadID string, n int, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	callCtx, cancel := callContext(ctx, c.cfg.PartTimeout)
	defer cancel()
	part, err := c.core.PutObjectPart(callCtx, c.cfg.Bucket, key, uploadID, n, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectPartOptions{Sha256Hex: hex.EncodeToString(sum[:]), DisableContentSha256: true})
	if err != nil {
		return "", c.wrapError(ctx, callCtx, "upload", fmt.Sprintf("%s (part %d)", key, n), err)
	}
	return part.ETag, nil
}

// bufferPool hands out at most limit buffers of one size, made on first
// need, so a small upload with many parts' worth of concurrency does not
// allocate them all.
type bufferPool struct {
	free  chan []byte
	made  int
	limit int
	size  int64
}

func newBufferPool(limit int, size int64) *bufferPool {
	return &bufferPool{free: make(chan []byte, limit), limit: limit, size: size}
}

// get returns a free buffer, or a new one while fewer than limit exist,
// else waits for one; false if ctx ends first. Only one goroutine calls
// get.
func (p *bufferPool) get(ctx context.Context) ([]byte, bool) {
	select {
	case b := <-p.free:
		return b, true
	default:
	}
	if p.made < p.limit {
		p.made++
		return make([]byte, p.size), true
	}
	select {
	case b := <-p.free:
		return b, true
	case <-ctx.Done():
		return nil, false
	}
}

// put returns a buffer; it never blocks, as no more than limit exist.
func (p *bufferPool) put(b []byte) { p.free <- b[:cap(b)] }

// sizedReader reads exactly size bytes of a stream and hashes them.
type sizedReader struct {
	r         io.Reader
	size      int64
	remaining int64
	hash      hash.Hash
}

func newSizedReader(r io.Reader, size int64) *sizedReader {
	return &sizedReader{r: r, size: size, remaining: size, hash: sha256.New()}
}

// sourceError is a failed read of the stream being uploaded
// (ClassSource).
type sourceError struct{ err error }

func (e *sourceError) Error() string { return "reading the stream: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// maxEmptyReads is how many (0, nil) reads in a row fill and expectEnd
// accept before calling the stream stuck (io.ErrNoProgress).
const maxEmptyReads = 100

// fill fills buf from the stream; buf is never longer than what remains.
func (s *sizedReader) fill(buf []byte) error {
	empty := 0
	for len(buf) > 0 {
		n, err := s.r.Read(buf)
		s.hash.Write(buf[:n])
		s.remaining -= int64(n)
		buf = buf[n:]
		empty++
		if n > 0 {
			empty = 0
		}
		if empty >= maxEmptyReads && err == nil {
			err = io.ErrNoProgress
		}
		switch {
		case err == io.EOF && len(buf) > 0:
			return fmt.Errorf("%w: the stream ended after %d of %d bytes", ErrSizeMismatch, s.size-s.remaining, s.size)
		case err != nil && err != io.EOF:
			return &sourceError{err: err}
		}
	}
	return nil
}

// expectEnd checks that nothing follows the announced size. It runs
// before the last part is sent, so a longer stream stores nothing.
func (s *sizedReader) expectEnd() error {
	var b [1]byte
	for range maxEmptyReads {
		n, err := s.r.Read(b[:])
		switch {
		case n > 0:
			return fmt.Errorf("%w: the stream has more than the announced %d bytes", ErrSizeMismatch, s.size)
		case err == io.EOF:
			return nil
		case err != nil:
			return &sourceError{err: err}
		}
	}
	return &sourceError{err: io.ErrNoProgress}
}

// sum is the hex SHA-256 of what was read.
func (s *sizedReader) sum() string { return hex.EncodeToString(s.hash.Sum(nil)) }
