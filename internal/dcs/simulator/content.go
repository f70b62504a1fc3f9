package simulator

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"io"
)

// The bytes of a backup file. A file of 1 GiB must come out faster than a
// network can take it (at least 1 GB/s on one core) and be the same every
// time, different for every file, and cheap to recompute in a test that
// compares what landed in a bucket. So a file is a fixed pseudo-random
// block of 64 KiB repeated, each repetition XORed with a 64-bit key mixed
// from the file's seed and the repetition's index: one load, one XOR and
// one store per 8 bytes.

const (
	blockBytes = 64 << 10
	blockWords = blockBytes / 8
)

// block is filled once from a fixed splitmix64 sequence.
var block = func() *[blockWords]uint64 {
	var b [blockWords]uint64
	x := uint64(0x5ca1ab1e0ddba11)
	for i := range b {
		x += 0x9e3779b97f4a7c15
		b[i] = mix64(x)
	}
	return &b
}()

// mix64 is splitmix64's finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Content is the deterministic content of one file: ObjectContent gives
// it, the simulator serves it, and a test recomputes it to compare. It is
// an io.ReaderAt and safe for concurrent use.
type Content struct {
	seed uint64
	size int64
}

// ObjectContent returns the content of the object key of bucket with the
// given size: the bytes a GET of its link serves.
func ObjectContent(bucket, key string, size int64) Content {
	h := fnv.New64a()
	_, _ = h.Write([]byte(bucket))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	return Content{seed: mix64(h.Sum64()), size: max(size, 0)}
}

// Size is the content's length in bytes.
func (c Content) Size() int64 { return c.size }

// Reader returns a reader of the whole content (also an io.Seeker).
func (c Content) Reader() *io.SectionReader { return io.NewSectionReader(c, 0, c.size) }

// SHA256 returns the hex SHA-256 of the content.
func (c Content) SHA256() string {
	h := sha256.New()
	_, _ = io.CopyBuffer(h, c.Reader(), make([]byte, blockBytes))
	return hex.EncodeToString(h.Sum(nil))
}

var errNegativeOffset = errors.New("simulator: negative offset")

// ReadAt fills p with the content from off, returning io.EOF at the end.
func (c Content) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	if off >= c.size {
		return 0, io.EOF
	}
	n := len(p)
	if rest := c.size - off; int64(n) > rest {
		n = int(rest)
	}
	c.fill(p[:n], off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fill writes the content at off into p, block repetition by repetition.
func (c Content) fill(p []byte, off int64) {
	for len(p) > 0 {
		rep := off / blockBytes
		key := mix64(c.seed ^ uint64(rep)*0x9e3779b97f4a7c15)
		in := int(off % blockBytes)
		n := min(len(p), blockBytes-in)
		fillBlock(p[:n], in, key)
		p, off = p[n:], off+int64(n)
	}
}

// fillBlock writes block[in:in+len(p)] XOR key: an unaligned head byte by
// byte, then whole words, then the tail.
func fillBlock(p []byte, in int, key uint64) {
	i := 0
	for ; i < len(p) && (in+i)%8 != 0; i++ {
		pos := in + i
		p[i] = byte((block[pos/8] ^ key) >> (8 * (pos % 8)))
	}
	w := (in + i) / 8
	for ; i+8 <= len(p); i, w = i+8, w+1 {
		binary.LittleEndian.PutUint64(p[i:], block[w]^key)
	}
	for ; i < len(p); i++ {
		pos := in + i
		p[i] = byte((block[pos/8] ^ key) >> (8 * (pos % 8)))
	}
}
