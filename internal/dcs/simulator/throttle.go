package simulator

import (
	"context"
	"io"
	"time"
)

// Download throttling (Options.DownloadRate). OBS serves a presigned link
// as fast as the network between it and the client allows; on loopback
// the simulator would serve tens of MiB in milliseconds, too fast for a
// test to stop the client mid-copy. A throttled download sends the same
// bytes, with the same headers and Range handling, only at a bounded rate
// per request, like a connection with limited bandwidth.

// throttleChunk is the most a throttled read hands out at once, so that a
// low rate still sends steadily instead of in bursts of a whole buffer.
const throttleChunk = 16 << 10

// throttledReader paces reads of rs to rate bytes per second, measured
// from the first read: http.ServeContent seeks (to learn the size and to
// the start of a range) before it sends anything. Pauses are real time,
// not the simulator's clock (like Faults.Latency), and end with ctx (the
// client went away).
type throttledReader struct {
	ctx   context.Context
	rs    io.ReadSeeker
	rate  int64
	start time.Time
	sent  int64
}

func newThrottledReader(ctx context.Context, rs io.ReadSeeker, rate int64) *throttledReader {
	return &throttledReader{ctx: ctx, rs: rs, rate: rate}
}

func (t *throttledReader) Seek(offset int64, whence int) (int64, error) {
	return t.rs.Seek(offset, whence)
}

func (t *throttledReader) Read(p []byte) (int, error) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	if len(p) > throttleChunk {
		p = p[:throttleChunk]
	}
	n, err := t.rs.Read(p)
	t.sent += int64(n)
	// Wait until the bytes sent so far are due: the rate holds over the
	// whole download, whatever the timer's granularity.
	due := t.start.Add(time.Duration(float64(t.sent) / float64(t.rate) * float64(time.Second)))
	if wait := time.Until(due); wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-t.ctx.Done():
			return n, t.ctx.Err()
		}
	}
	return n, err
}
