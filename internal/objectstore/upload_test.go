package objectstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

const mib = 1 << 20

// generator is a deterministic stream of size pseudo-random bytes: a
// backup file that needs no disk and no memory.
func generator(seed uint64, size int64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return io.LimitReader(rand.NewChaCha8(s), size)
}

// generatedSHA256 is the hex SHA-256 of generator(seed, size).
func generatedSHA256(t testing.TB, seed uint64, size int64) string {
	h := sha256.New()
	if _, err := io.Copy(h, generator(seed, size)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileSHA256 is the size and hex SHA-256 of a file: what landed in the
// bucket, read from the gateway's disk rather than through S3.
func fileSHA256(t testing.TB, path string) (int64, string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return n, hex.EncodeToString(h.Sum(nil))
}

func TestUploadStoresWhatItHashes(t *testing.T) {
	cases := []struct {
		name string
		size int64
	}{
		{"empty", 0},
		{"one byte", 1},
		{"one request", 5*mib - 1},
		{"exactly one part", 5 * mib},
		{"multipart, short last part", 23*mib + 17},
		{"multipart, full parts", 15 * mib},
	}
	c := newClient(t, func(c *Config) { c.PartSize = MinPartSize; c.UploadConcurrency = 3 })
	gw := gateway(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := testContext(t)
			key := fmt.Sprintf("ns/b%d/dump.rdb", i)
			up, err := c.Upload(ctx, key, generator(uint64(i), tc.size), tc.size)
			g.Expect(err).NotTo(HaveOccurred())
			want := generatedSHA256(t, uint64(i), tc.size)
			g.Expect(up).To(Equal(Uploaded{Key: key, Size: tc.size, SHA256: want}))

			size, sum := fileSHA256(t, gw.ObjectPath(c.cfg.Bucket, c.cfg.ObjectKey(key)))
			g.Expect(size).To(Equal(tc.size))
			g.Expect(sum).To(Equal(want), "the bytes in the bucket are the stream's")
			g.Expect(c.Stat(ctx, key)).To(HaveField("Size", tc.size))
		})
	}
	g := NewWithT(t)
	g.Expect(incompleteUploads(g, c, "")).To(BeEmpty())
}

func TestUploadOfTheWrongSizeStoresNothing(t *testing.T) {
	c := newClient(t, func(c *Config) { c.PartSize = MinPartSize })
	cases := []struct {
		name            string
		announced, real int64
	}{
		{"one request, shorter", 3 * mib, 3*mib - 1},
		{"one request, longer", 3 * mib, 3*mib + 1},
		{"multipart, shorter", 12 * mib, 11 * mib},
		{"multipart, one byte longer", 12 * mib, 12*mib + 1},
		{"multipart, ends at a part boundary", 12 * mib, 10 * mib},
		{"empty, longer", 0, 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := testContext(t)
			key := fmt.Sprintf("wrong-%d", i)
			_, err := c.Upload(ctx, key, generator(1, tc.real), tc.announced)
			g.Expect(Classify(err)).To(Equal(ClassSizeMismatch), "error: %v", err)
			g.Expect(errors.Is(err, ErrSizeMismatch)).To(BeTrue())
			_, err = c.Stat(ctx, key)
			g.Expect(IsNotFound(err)).To(BeTrue(), "nothing stored: %v", err)
			g.Expect(incompleteUploads(g, c, c.cfg.ObjectKey(key))).To(BeEmpty(), "the multipart upload was aborted")
		})
	}
}

// failingReader fails after n bytes with err, calling onFail first if
// set.
type failingReader struct {
	r      io.Reader
	n      int64
	err    error
	onFail func()
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		if f.onFail != nil {
			f.onFail()
		}
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

func TestUploadAbortsWhenTheSourceOrTheCallerFails(t *testing.T) {
	g := NewWithT(t)
	c := newClient(t, func(c *Config) { c.PartSize = MinPartSize; c.UploadConcurrency = 2 })

	broken := &failingReader{r: generator(2, 30*mib), n: 17 * mib, err: io.ErrUnexpectedEOF}
	_, err := c.Upload(testContext(t), "broken", broken, 30*mib)
	g.Expect(Classify(err)).To(Equal(ClassSource), "error: %v", err)
	g.Expect(Classify(err).Retryable()).To(BeTrue())
	g.Expect(errors.Is(err, io.ErrUnexpectedEOF)).To(BeTrue())
	g.Expect(incompleteUploads(g, c, c.cfg.ObjectKey("broken"))).To(BeEmpty())

	// The caller gives up in the middle, and its source (bound to the same
	// context) fails: the upload is aborted all the same.
	ctx, cancel := context.WithCancel(testContext(t))
	giveUp := &failingReader{r: generator(3, 30*mib), n: 12 * mib, err: context.Canceled, onFail: cancel}
	_, err = c.Upload(ctx, "given-up", giveUp, 30*mib)
	g.Expect(Classify(err)).To(Equal(ClassCanceled), "error: %v", err)
	g.Expect(incompleteUploads(g, c, c.cfg.ObjectKey("given-up"))).To(BeEmpty())
	_, err = c.Stat(testContext(t), "given-up")
	g.Expect(IsNotFound(err)).To(BeTrue())
}

func TestUploadRejectsBadArguments(t *testing.T) {
	g := NewWithT(t)
	c := newClient(t, nil)
	ctx := testContext(t)
	for _, key := range []string{"", "/abs", "a//b", "a/../b", "./a", "a/", "tab\there", string([]byte{0xff})} {
		_, err := c.Upload(ctx, key, generator(1, 1), 1)
		g.Expect(Classify(err)).To(Equal(ClassInvalid), "key %q", key)
	}
	_, err := c.Upload(ctx, "neg", generator(1, 1), -1)
	g.Expect(Classify(err)).To(Equal(ClassInvalid))
	_, err = c.Upload(ctx, "huge", generator(1, 1), MaxObjectSize+1)
	g.Expect(Classify(err)).To(Equal(ClassInvalid))
}

func TestPartSizeGrowsForHugeObjects(t *testing.T) {
	g := NewWithT(t)
	g.Expect(partSizeFor(100*mib, 16*mib)).To(BeEquivalentTo(16 * mib))
	g.Expect(partSizeFor(16*mib*MaxParts, 16*mib)).To(BeEquivalentTo(16 * mib))
	g.Expect(partSizeFor(MaxObjectSize, 16*mib)).To(BeEquivalentTo(525 * mib))
	for _, size := range []int64{16*mib*MaxParts + 1, 1 << 40, MaxObjectSize} {
		ps := partSizeFor(size, 16*mib)
		g.Expect((size+ps-1)/ps).To(BeNumerically("<=", MaxParts), "size %d", size)
		g.Expect(ps).To(BeNumerically("<=", MaxPartSize))
	}
}

// heapSampler records the largest HeapInuse seen while it runs.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func sampleHeap(every time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			s.peak = max(s.peak, m.HeapInuse)
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *heapSampler) Peak() uint64 {
	close(s.stop)
	s.done.Wait()
	return s.peak
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestLargeUploadHasBoundedMemory streams 300 MiB: the heap grows by a few
// parts, not by the object. A client that buffered the object would grow
// by 300 MiB; the bound is a generous multiple of what the parts need.
func TestLargeUploadHasBoundedMemory(t *testing.T) {
	g := NewWithT(t)
	const size = 300 * mib
	const partSize, concurrency = 8 * mib, 2
	c := newClient(t, func(c *Config) { c.PartSize = partSize; c.UploadConcurrency = concurrency })
	ctx := testContext(t)
	want := generatedSHA256(t, 42, size)

	before := heapInuse()
	sampler := sampleHeap(5 * time.Millisecond)
	start := time.Now()
	up, err := c.Upload(ctx, "big/dump.rdb", generator(42, size), size)
	elapsed := time.Since(start)
	peak := sampler.Peak()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(up.SHA256).To(Equal(want))

	growth := int64(peak) - int64(before)
	t.Logf("uploaded %d MiB in %s (%.0f MiB/s); heap in use %d MiB before, peak %d MiB (+%d MiB); parts %d MiB x %d",
		size/mib, elapsed.Round(time.Millisecond), float64(size)/mib/elapsed.Seconds(),
		before/mib, peak/mib, growth/mib, partSize/mib, concurrency)
	bound := int64(4*partSize*concurrency + 32*mib)
	g.Expect(growth).To(BeNumerically("<", bound), "heap growth %d MiB, bound %d MiB", growth/mib, bound/mib)

	n, sum := fileSHA256(t, gateway(t).ObjectPath(c.cfg.Bucket, c.cfg.ObjectKey("big/dump.rdb")))
	g.Expect(n).To(BeEquivalentTo(size))
	g.Expect(sum).To(Equal(want))
}

// BenchmarkUpload measures the throughput of Upload against versitygw on
// loopback (the gateway writes to disk, with the default part size).
func BenchmarkUpload(b *testing.B) {
	const size = 128 * mib
	for _, concurrency := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			c := newClient(b, func(c *Config) { c.UploadConcurrency = concurrency })
			ctx := testContext(b)
			b.SetBytes(size)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := c.Upload(ctx, fmt.Sprintf("bench/%d", i%2), generator(uint64(i), size), size); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
