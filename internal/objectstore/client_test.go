package objectstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	. "github.com/onsi/gomega"

	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

func TestCheckBucketClassifiesWhatIsWrong(t *testing.T) {
	gw := gateway(t)
	bucket := newBucket(t)
	closed, err := localenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	selfSigned := httptest.NewUnstartedServer(http.NotFoundHandler())
	selfSigned.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are the point
	selfSigned.StartTLS()
	t.Cleanup(selfSigned.Close)

	cases := []struct {
		name  string
		edit  func(*Config)
		class Class
		code  string
	}{
		{name: "reachable, accepted, present", edit: func(*Config) {}, class: ClassNone},
		{name: "wrong secret key", edit: func(c *Config) { c.SecretKey = "not-" + c.SecretKey },
			class: ClassUnauthorized, code: "SignatureDoesNotMatch"},
		// S3 says InvalidAccessKeyId, versitygw XAdminUserNotFound.
		{name: "unknown access key", edit: func(c *Config) { c.AccessKey = "NOSUCHKEY" }, class: ClassUnauthorized},
		{name: "other region", edit: func(c *Config) { c.Region = "eu-nl" }, class: ClassUnauthorized},
		{name: "missing bucket", edit: func(c *Config) { c.Bucket = "no-such-bucket" },
			class: ClassNoSuchBucket, code: "NoSuchBucket"},
		{name: "closed port", edit: func(c *Config) { c.Endpoint = "http://" + closed }, class: ClassUnreachable},
		{name: "https to an http server", edit: func(c *Config) { c.Endpoint = strings.Replace(gw.URL, "http:", "https:", 1) },
			class: ClassUnreachable},
		{name: "untrusted certificate", edit: func(c *Config) { c.Endpoint = selfSigned.URL }, class: ClassUnreachable},
		{name: "unresolvable name", edit: func(c *Config) { c.Endpoint = "http://no-such-host.invalid" }, class: ClassUnreachable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			cfg := gatewayConfig(t, bucket)
			tc.edit(&cfg)
			c, err := New(cfg)
			g.Expect(err).NotTo(HaveOccurred())
			err = c.CheckBucket(testContext(t))
			g.Expect(Classify(err)).To(Equal(tc.class), "error: %v", err)
			if tc.class == ClassNone {
				return
			}
			var e *Error
			g.Expect(errors.As(err, &e)).To(BeTrue())
			g.Expect(e.Op).To(Equal("check bucket"))
			g.Expect(e.Class.Retryable()).To(Equal(tc.class == ClassUnreachable))
			if tc.code != "" {
				g.Expect(e.Code).To(Equal(tc.code))
				g.Expect(e.RequestID).NotTo(BeEmpty(), "the store's request id, for its support")
			}
		})
	}
}

func TestCheckBucketHonoursTheCallerAndThePerCallTimeout(t *testing.T) {
	g := NewWithT(t)
	// A server that accepts and never answers.
	hang := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); silent.Close() })

	c, err := New(Config{Endpoint: silent.URL, AllowInsecure: true, Bucket: "b-1", AccessKey: "a", SecretKey: "secret",
		Timeout: 300 * time.Millisecond})
	g.Expect(err).NotTo(HaveOccurred())
	err = c.CheckBucket(context.Background())
	g.Expect(Classify(err)).To(Equal(ClassTransient), "error: %v", err)
	g.Expect(errors.Is(err, ErrTimeout)).To(BeTrue())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.Expect(Classify(c.CheckBucket(ctx))).To(Equal(ClassCanceled))
}

func TestSmallObjects(t *testing.T) {
	g := NewWithT(t)
	ctx := testContext(t)
	c := newClient(t, nil)
	gw := gateway(t)

	manifest := []byte(`{"instance":"5560df16","files":[{"name":"a.rdb","size":3}]}`)
	g.Expect(c.Put(ctx, "shop/b1/manifest.json", manifest)).To(Succeed())
	got, err := c.Get(ctx, "shop/b1/manifest.json")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(manifest))
	g.Expect(gw.ObjectPath(c.Config().Bucket, "exports/shop/b1/manifest.json")).To(BeARegularFile(),
		"keys live under the prefix")

	obj, err := c.Stat(ctx, "shop/b1/manifest.json")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(obj.Key).To(Equal("shop/b1/manifest.json"))
	g.Expect(obj.Size).To(BeEquivalentTo(len(manifest)))
	g.Expect(obj.LastModified).To(BeTemporally("~", time.Now(), time.Minute))

	g.Expect(c.Put(ctx, "shop/b1/manifest.json", []byte(`{}`))).To(Succeed(), "Put replaces")
	g.Expect(c.Get(ctx, "shop/b1/manifest.json")).To(Equal([]byte(`{}`)))
	g.Expect(c.Put(ctx, "empty", nil)).To(Succeed())
	g.Expect(c.Get(ctx, "empty")).To(BeEmpty())

	_, err = c.Get(ctx, "shop/missing.json")
	g.Expect(Classify(err)).To(Equal(ClassNotFound), "error: %v", err)
	g.Expect(IsNotFound(err)).To(BeTrue())
	_, err = c.Stat(ctx, "shop/missing.json")
	g.Expect(Classify(err)).To(Equal(ClassNotFound), "error: %v", err)

	big := bytes.Repeat([]byte("x"), MaxSmallObjectSize+1)
	g.Expect(Classify(c.Put(ctx, "big", big))).To(Equal(ClassInvalid))
	_, err = c.Upload(ctx, "big", bytes.NewReader(big), int64(len(big)))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Get(ctx, "big")
	g.Expect(Classify(err)).To(Equal(ClassOther))
	g.Expect(err).To(MatchError(ContainSubstring("more than the 8388608 a small object may have")))
}

func TestListPagesAndStaysUnderThePrefix(t *testing.T) {
	g := NewWithT(t)
	ctx := testContext(t)
	c := newClient(t, nil)
	c.listPageSize = 3 // 8 objects: three pages

	keys := []string{"ns/b1/a.rdb", "ns/b1/manifest.json", "ns/b2/a.rdb", "ns/b2/b.rdb", "ns/b2/manifest.json",
		"ns/b3/manifest.json", "ns/b10/x", "other/b1/manifest.json"}
	for i, k := range keys {
		g.Expect(c.Put(ctx, k, bytes.Repeat([]byte{'x'}, i))).To(Succeed())
	}
	// A neighbour outside the prefix, which List must not show.
	outside, err := New(c.Config().withPrefix("exports-old/"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(outside.Put(ctx, "ns/b1/manifest.json", []byte("{}"))).To(Succeed())

	all, err := c.List(ctx, "")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(all).To(HaveLen(len(keys)))
	g.Expect(all).To(ContainElement(And(HaveField("Key", "ns/b2/b.rdb"), HaveField("Size", BeEquivalentTo(3)),
		HaveField("LastModified", BeTemporally("~", time.Now(), time.Minute)))))

	ns, err := c.List(ctx, "ns/b1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(objectKeys(ns)).To(Equal([]string{"ns/b1/a.rdb", "ns/b1/manifest.json", "ns/b10/x"}),
		"a prefix is a string prefix, in key order")
	none, err := c.List(ctx, "nothing/")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(none).To(BeEmpty())

	_, err = c.List(ctx, "ns//")
	g.Expect(Classify(err)).To(Equal(ClassInvalid))
}

func TestDeleteInBatches(t *testing.T) {
	g := NewWithT(t)
	ctx := testContext(t)
	c := newClient(t, nil)
	c.deleteBatchSize = 2

	for _, k := range []string{"a", "b", "c", "d", "e", "keep"} {
		g.Expect(c.Put(ctx, k, []byte(k))).To(Succeed())
	}
	g.Expect(c.Delete(ctx, "a", "b", "c", "never-existed", "d", "e")).To(Succeed())
	left, err := c.List(ctx, "")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(objectKeys(left)).To(Equal([]string{"keep"}))
	g.Expect(c.Delete(ctx)).To(Succeed(), "nothing to delete")
	g.Expect(Classify(c.Delete(ctx, "../etc"))).To(Equal(ClassInvalid))

	wrong, err := New(c.Config().withSecret("wrong-secret"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(Classify(wrong.Delete(ctx, "keep"))).To(Equal(ClassUnauthorized))
	g.Expect(c.Stat(ctx, "keep")).To(HaveField("Size", BeEquivalentTo(4)))
}

func TestAbortUploadsLeavesRecentAndOtherUploads(t *testing.T) {
	g := NewWithT(t)
	ctx := testContext(t)
	c := newClient(t, nil)
	c.listPageSize = 2

	// What a crash in the middle of an upload leaves: started multipart
	// uploads with a part each.
	started := func(key string) string {
		id, err := c.core.NewMultipartUpload(ctx, c.cfg.Bucket, key, minio.PutObjectOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = c.core.PutObjectPart(ctx, c.cfg.Bucket, key, id, 1, strings.NewReader("part"), 4, minio.PutObjectPartOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		return id
	}
	for _, k := range []string{"exports/ns/b1/a.rdb", "exports/ns/b1/b.rdb", "exports/ns/b2/a.rdb", "exports/other/x",
		"elsewhere/ns/b1/a.rdb"} {
		started(k)
	}
	g.Expect(c.AbortUploads(ctx, "ns/", time.Now().Add(-time.Hour))).To(Equal(0),
		"uploads younger than the cut-off may still be running")
	g.Expect(c.AbortUploads(ctx, "ns/", time.Time{})).To(Equal(3))
	g.Expect(incompleteUploads(g, c, "")).To(ConsistOf("exports/other/x", "elsewhere/ns/b1/a.rdb"))
	g.Expect(c.AbortUploads(ctx, "", time.Now().Add(time.Minute))).To(Equal(1), "only under the prefix")
	g.Expect(incompleteUploads(g, c, "")).To(ConsistOf("elsewhere/ns/b1/a.rdb"))
}

// incompleteUploads lists the keys of the bucket's incomplete uploads
// under prefix (of the bucket, not of the client).
func incompleteUploads(g Gomega, c *Client, prefix string) []string {
	res, err := c.core.ListMultipartUploads(context.Background(), c.cfg.Bucket, prefix, "", "", "", 1000)
	g.Expect(err).NotTo(HaveOccurred())
	keys := make([]string, 0, len(res.Uploads))
	for _, u := range res.Uploads {
		keys = append(keys, u.Key)
	}
	return keys
}

func objectKeys(objs []Object) []string {
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

func (c Config) withPrefix(p string) Config { c.Prefix = p; return c }
func (c Config) withSecret(s string) Config { c.SecretKey = s; return c }
