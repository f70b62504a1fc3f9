package objectstoretest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega" //nolint:revive,staticcheck // the matcher language, as in the _test files

	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
)

// Subject is a Store implementation under the contract.
type Subject struct {
	// New returns a store on an empty bucket.
	New func(t *testing.T) objectstore.Store
	// StartUpload leaves an incomplete multipart upload of key in s,
	// started now: what a crash in the middle of an Upload leaves.
	StartUpload func(t *testing.T, s objectstore.Store, key string)
}

// Contract checks the behaviour that controllers rely on, on the real
// client (against versitygw) and on Fake alike.
func Contract(t *testing.T, subject Subject) {
	t.Run("small objects", func(t *testing.T) { smallObjects(t, subject.New(t)) })
	t.Run("upload", func(t *testing.T) { upload(t, subject.New(t)) })
	t.Run("list and delete", func(t *testing.T) { listAndDelete(t, subject.New(t)) })
	t.Run("abort uploads", func(t *testing.T) {
		s := subject.New(t)
		abortUploads(t, s, func(key string) { subject.StartUpload(t, s, key) })
	})
}

func contractContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func smallObjects(t *testing.T, s objectstore.Store) {
	g := NewWithT(t)
	ctx := contractContext(t)
	g.Expect(s.CheckBucket(ctx)).To(Succeed())
	g.Expect(s.Put(ctx, "ns/b1/manifest.json", []byte(`{"v":1}`))).To(Succeed())
	g.Expect(s.Get(ctx, "ns/b1/manifest.json")).To(Equal([]byte(`{"v":1}`)))
	obj, err := s.Stat(ctx, "ns/b1/manifest.json")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(obj.Key).To(Equal("ns/b1/manifest.json"))
	g.Expect(obj.Size).To(BeEquivalentTo(7))
	g.Expect(obj.LastModified).NotTo(BeZero())
	g.Expect(s.Put(ctx, "ns/b1/manifest.json", []byte(`{}`))).To(Succeed(), "Put replaces")
	g.Expect(s.Get(ctx, "ns/b1/manifest.json")).To(Equal([]byte(`{}`)))

	_, err = s.Get(ctx, "ns/missing")
	g.Expect(objectstore.IsNotFound(err)).To(BeTrue(), "error: %v", err)
	_, err = s.Stat(ctx, "ns/missing")
	g.Expect(objectstore.Classify(err)).To(Equal(objectstore.ClassNotFound), "error: %v", err)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	g.Expect(objectstore.Classify(s.CheckBucket(canceled))).To(Equal(objectstore.ClassCanceled))
	g.Expect(objectstore.Classify(s.Put(ctx, "", nil))).To(Equal(objectstore.ClassInvalid))
}

func upload(t *testing.T, s objectstore.Store) {
	g := NewWithT(t)
	ctx := contractContext(t)
	data := strings.Repeat("redis dump ", 1000)
	sum := sha256.Sum256([]byte(data))
	up, err := s.Upload(ctx, "ns/b1/dump.rdb", strings.NewReader(data), int64(len(data)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(up).To(Equal(objectstore.Uploaded{Key: "ns/b1/dump.rdb", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}))
	g.Expect(s.Get(ctx, "ns/b1/dump.rdb")).To(Equal([]byte(data)))

	for name, announced := range map[string]int64{"shorter": int64(len(data)) + 1, "longer": int64(len(data)) - 1} {
		_, err = s.Upload(ctx, "ns/b2/"+name, strings.NewReader(data), announced)
		g.Expect(objectstore.Classify(err)).To(Equal(objectstore.ClassSizeMismatch), "%s: %v", name, err)
		_, err = s.Stat(ctx, "ns/b2/"+name)
		g.Expect(objectstore.IsNotFound(err)).To(BeTrue(), "%s: nothing stored", name)
	}
	_, err = s.Upload(ctx, "ns/b3/dump.rdb", io.MultiReader(strings.NewReader("x"), failing{}), 10)
	g.Expect(objectstore.Classify(err)).To(Equal(objectstore.ClassSource), "error: %v", err)
	g.Expect(errors.Is(err, errBrokenSource)).To(BeTrue())
}

var errBrokenSource = errors.New("the source broke")

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errBrokenSource }

//nolint:goconst // the keys read better written out
func listAndDelete(t *testing.T, s objectstore.Store) {
	g := NewWithT(t)
	ctx := contractContext(t)
	for _, k := range []string{"ns/b2/x", "ns/b1/manifest.json", "ns/b1/a.rdb", "ns/b10/y", "other/z"} {
		g.Expect(s.Put(ctx, k, []byte(k))).To(Succeed())
	}
	all, err := s.List(ctx, "")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(keys(all)).To(Equal([]string{"ns/b1/a.rdb", "ns/b1/manifest.json", "ns/b10/y", "ns/b2/x", "other/z"}))
	g.Expect(all[0].Size).To(BeEquivalentTo(len("ns/b1/a.rdb")))
	g.Expect(s.List(ctx, "ns/b1/")).To(HaveLen(2))
	g.Expect(s.List(ctx, "nothing/")).To(BeEmpty())

	g.Expect(s.Delete(ctx, "ns/b1/a.rdb", "ns/b1/manifest.json", "never-was")).To(Succeed())
	left, err := s.List(ctx, "ns/")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(keys(left)).To(Equal([]string{"ns/b10/y", "ns/b2/x"}))
}

func abortUploads(t *testing.T, s objectstore.Store, startUpload func(key string)) {
	g := NewWithT(t)
	ctx := contractContext(t)
	startUpload("ns/b1/dump.rdb")
	startUpload("other/dump.rdb")
	g.Expect(s.AbortUploads(ctx, "", time.Now().Add(-time.Hour))).To(Equal(0), "recent uploads may still run")
	g.Expect(s.AbortUploads(ctx, "ns/", time.Time{})).To(Equal(1))
	g.Expect(s.AbortUploads(ctx, "", time.Time{})).To(Equal(1))
	g.Expect(s.AbortUploads(ctx, "", time.Time{})).To(Equal(0))
	g.Expect(s.List(ctx, "")).To(BeEmpty(), "incomplete uploads are no objects")
}

func keys(objs []objectstore.Object) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}
