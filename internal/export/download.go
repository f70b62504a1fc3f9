package export

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// Download limits.
const (
	// maxDownloadTries is how many requests in a row a file's download may
	// spend without receiving a byte (network errors, 5xx, expired links)
	// before the copy gives up and the controller backs off.
	maxDownloadTries = 6
	// downloadRetryBase and downloadRetryLimit bound the pause between two
	// tries.
	downloadRetryBase  = 500 * time.Millisecond
	downloadRetryLimit = 15 * time.Second
	// stallTimeout ends a download that received nothing for this long: a
	// connection that hangs must not hold an export slot for ever.
	stallTimeout = 2 * time.Minute
	// maxErrorBody bounds the error body read from a link's answer.
	maxErrorBody = 4 << 10
)

// DownloadError is a failed GET of a download link. Its text never holds
// the link's signature.
type DownloadError struct {
	File string
	// Status and Code are the HTTP status and the S3 error code, if the
	// store answered.
	Status int
	Code   string
	Err    error
}

func (e *DownloadError) Error() string {
	var b strings.Builder
	b.WriteString("downloading " + e.File)
	if e.Status != 0 {
		b.WriteString(": HTTP " + strconv.Itoa(e.Status))
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *DownloadError) Unwrap() error { return e.Err }

// Gone reports a file the link no longer serves (404 NoSuchKey): the
// backup was deleted, expired or evicted in DCS.
func (e *DownloadError) Gone() bool { return e.Status == http.StatusNotFound }

// Permanent reports an answer that asking again will not change.
func (e *DownloadError) Permanent() bool {
	return e.Gone() || (e.Status >= 400 && e.Status < 500 && e.Status != http.StatusForbidden &&
		e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests)
}

// links hands out the current link of each file of a backup and asks DCS
// for new ones when they expired. Every call to DCS issues new links for
// all files, so one renewal serves every file of the copy.
type links struct {
	source LinkSource
	now    func() time.Time

	mu      sync.Mutex
	files   dcs.BackupFiles
	renewed int
}

// renewAhead renews links this long before DCS says they expire: a file
// opened just before the expiry would need a renewal in its first bytes.
const renewAhead = time.Minute

func (l *links) current(ctx context.Context, name string) (dcs.PresignedURL, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.files.ExpiresAt.IsZero() && l.now().After(l.files.ExpiresAt.Add(-renewAhead)) {
		if err := l.renewLocked(ctx); err != nil {
			return "", err
		}
	}
	return l.findLocked(name)
}

// renew asks DCS for new links (an expired one answered 403) unless
// another file renewed them since stale was handed out.
func (l *links) renew(ctx context.Context, name string, stale dcs.PresignedURL) (dcs.PresignedURL, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, err := l.findLocked(name); err == nil && cur != stale {
		return cur, nil
	}
	if err := l.renewLocked(ctx); err != nil {
		return "", err
	}
	return l.findLocked(name)
}

func (l *links) renewLocked(ctx context.Context) error {
	files, err := l.source(ctx)
	if err != nil {
		return err
	}
	l.files = files
	l.renewed++
	return nil
}

func (l *links) findLocked(name string) (dcs.PresignedURL, error) {
	for _, f := range l.files.Links {
		if f.FileName == name {
			return f.URL, nil
		}
	}
	return "", &DownloadError{File: name, Status: http.StatusNotFound, Code: "NoSuchKey",
		Err: errors.New("DCS no longer lists the file among the backup's links")}
}

// linkReader streams one file from its download link. A connection that
// breaks is resumed where it stopped with a Range request; a link that
// expired is renewed. It hands Upload exactly the file's bytes, or an
// error: it never holds more than what the caller reads into.
type linkReader struct {
	ctx      context.Context
	client   *http.Client
	links    *links
	name     string
	url      dcs.PresignedURL
	size     int64
	off      int64
	progress func(int64)

	body   io.ReadCloser
	stall  *time.Timer
	cancel context.CancelCauseFunc
	tries  int
}

var errStalled = errors.New("no data received for " + stallTimeout.String())

// openLink sends the first GET of a file and learns its size from the
// answer's Content-Length.
func openLink(ctx context.Context, client *http.Client, l *links, name string, progress func(int64)) (*linkReader, error) {
	url, err := l.current(ctx, name)
	if err != nil {
		return nil, err
	}
	r := &linkReader{ctx: ctx, client: client, links: l, name: name, url: url, size: -1, progress: progress}
	if err := r.reopen(); err != nil {
		return nil, err
	}
	return r, nil
}

// Size is the file's size, as the link's first answer announced it.
func (r *linkReader) Size() int64 { return r.size }

func (r *linkReader) Read(p []byte) (int, error) {
	if r.off == r.size {
		// Done: a reader that checks for more (Upload does) must get
		// io.EOF, not a request for the range past the end (416).
		return 0, io.EOF
	}
	for {
		if r.body == nil {
			if err := r.reopen(); err != nil {
				return 0, err
			}
		}
		n, err := r.body.Read(p)
		if n > 0 {
			r.off += int64(n)
			r.tries = 0
			r.stall.Reset(stallTimeout)
			if r.progress != nil {
				r.progress(int64(n))
			}
		}
		switch {
		case err == nil:
			return n, nil
		case r.off > r.size:
			r.closeBody()
			return n, &DownloadError{File: r.name, Err: fmt.Errorf("the link served more than the %d bytes it announced", r.size)}
		case errors.Is(err, io.EOF) && r.off == r.size:
			r.closeBody()
			return n, io.EOF
		}
		// Cut short (a reset, a proxy timeout, a stall): the next read
		// resumes at r.off.
		r.closeBody()
		if n > 0 {
			return n, nil
		}
	}
}

// Close releases the connection.
func (r *linkReader) Close() error {
	r.closeBody()
	return nil
}

func (r *linkReader) closeBody() {
	if r.body != nil {
		_ = r.body.Close()
		r.body = nil
	}
	if r.stall != nil {
		r.stall.Stop()
	}
	if r.cancel != nil {
		r.cancel(nil)
	}
}

// reopen sends GETs until one answers with the bytes from r.off, within
// maxDownloadTries tries that receive nothing.
func (r *linkReader) reopen() error {
	var last error
	for {
		if r.tries >= maxDownloadTries {
			return last
		}
		if r.tries > 0 {
			if err := sleep(r.ctx, backoff(r.tries)); err != nil {
				return err
			}
		}
		r.tries++
		err := r.get()
		if err == nil {
			return nil
		}
		last = err
		var de *DownloadError
		switch {
		case r.ctx.Err() != nil:
			return context.Cause(r.ctx)
		case errors.As(err, &de) && de.Status == http.StatusForbidden:
			// OBS answers an expired link 403 AccessDenied "Request has
			// expired"; new links have new signatures.
			url, rerr := r.links.renew(r.ctx, r.name, r.url)
			if rerr != nil {
				return rerr
			}
			r.url = url
		case errors.As(err, &de) && de.Permanent():
			return err
		}
	}
}

func backoff(try int) time.Duration {
	d := downloadRetryBase << (try - 1)
	if d > downloadRetryLimit || d <= 0 {
		return downloadRetryLimit
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// get sends one GET from r.off and, on a good answer, makes its body the
// one Read reads.
func (r *linkReader) get() error {
	ctx, cancel := context.WithCancelCause(r.ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url.Reveal(), nil)
	if err != nil {
		cancel(nil)
		return &DownloadError{File: r.name, Err: dcs.RedactError(err)}
	}
	if r.off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(r.off, 10)+"-")
	}
	// The timer runs from the request: a store that accepts the
	// connection and never answers counts as stalled too.
	stall := time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
	resp, err := r.client.Do(req)
	if err != nil {
		stall.Stop()
		cancel(nil)
		if c := context.Cause(ctx); errors.Is(c, errStalled) {
			err = c
		}
		return &DownloadError{File: r.name, Err: dcs.RedactError(err)}
	}
	if err := r.accept(resp); err != nil {
		_ = resp.Body.Close()
		stall.Stop()
		cancel(nil)
		return err
	}
	r.body, r.stall, r.cancel = resp.Body, stall, cancel
	return nil
}

// accept checks an answer: the whole file (200) for the first request, the
// rest of it (206 with the matching Content-Range) for a resumed one.
func (r *linkReader) accept(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusOK:
		if resp.ContentLength < 0 {
			return &DownloadError{File: r.name, Status: resp.StatusCode,
				Err: errors.New("the answer has no Content-Length, so the file's size is unknown")}
		}
		if r.size >= 0 && resp.ContentLength != r.size {
			return &DownloadError{File: r.name, Status: resp.StatusCode,
				Err: fmt.Errorf("the file now has %d bytes, %d before", resp.ContentLength, r.size)}
		}
		r.size = resp.ContentLength
		if r.off > 0 {
			// The store ignored the Range header: skip what was read.
			if _, err := io.CopyN(io.Discard, resp.Body, r.off); err != nil {
				return &DownloadError{File: r.name, Err: dcs.RedactError(err)}
			}
		}
		return nil
	case http.StatusPartialContent:
		want := fmt.Sprintf("bytes %d-%d/%d", r.off, r.size-1, r.size)
		if got := resp.Header.Get("Content-Range"); r.off == 0 || got != want {
			return &DownloadError{File: r.name, Status: resp.StatusCode,
				Err: fmt.Errorf("Content-Range %q, expected %q", got, want)}
		}
		return nil
	}
	return &DownloadError{File: r.name, Status: resp.StatusCode, Code: s3ErrorCode(resp)}
}

// s3ErrorCode reads the Code of an S3-style XML error body.
func s3ErrorCode(resp *http.Response) string {
	var body struct {
		Code string `xml:"Code"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if xml.Unmarshal(data, &body) != nil {
		return ""
	}
	return body.Code
}
