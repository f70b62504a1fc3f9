package localenv

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	. "github.com/onsi/gomega"
)

// requireVersityGW fails the test unless the gateway binary is available
// the way `make test` provides it.
func requireVersityGW(t *testing.T) {
	t.Helper()
	if _, err := VersityGWBinary(); err != nil {
		t.Fatal(err)
	}
}

func gatewayClient(g Gomega, gw *VersityGW, secret string) *minio.Client {
	c, err := minio.New(strings.TrimPrefix(gw.URL, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(gw.AccessKey, secret, ""), Region: gw.Region, BucketLookup: minio.BucketLookupPath,
	})
	g.Expect(err).NotTo(HaveOccurred())
	return c
}

func TestVersityGWServesSignedRequestsAndStops(t *testing.T) {
	requireVersityGW(t)
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	gw, err := StartVersityGW(ctx, VersityGWOptions{Buckets: []string{"exports", "other"}, Region: "eu-de"})
	g.Expect(err).NotTo(HaveOccurred())
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = gw.Stop()
		}
	})
	g.Expect(gw.CreateBucket(ctx, "exports")).To(Succeed(), "an existing bucket is fine")

	c := gatewayClient(g, gw, gw.SecretKey)
	_, err = c.PutObject(ctx, "exports", "ns/b1/manifest.json", bytes.NewReader([]byte(`{}`)), 2, minio.PutObjectOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.ReadFile(gw.ObjectPath("exports", "ns/b1/manifest.json"))).To(Equal([]byte(`{}`)))
	buckets, err := c.ListBuckets(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(buckets).To(ConsistOf(HaveField("Name", "exports"), HaveField("Name", "other")))

	_, err = gatewayClient(g, gw, "wrong").ListBuckets(ctx)
	g.Expect(minio.ToErrorResponse(err).Code).To(Equal("SignatureDoesNotMatch"), "the keys are enforced")
	resp, err := http.Get(gw.URL + "/exports/ns/b1/manifest.json")
	g.Expect(err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusForbidden), "anonymous requests are refused")

	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", gw.Process().PID()))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(cmdline)).NotTo(ContainSubstring(gw.SecretKey), "the secret key is not on the command line")

	// A second gateway gets its own port, keys and directory.
	other, err := StartVersityGW(ctx, VersityGWOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(other.URL).NotTo(Equal(gw.URL))
	g.Expect(other.SecretKey).NotTo(Equal(gw.SecretKey))
	g.Expect(other.Region).To(Equal("us-east-1"))
	g.Expect(other.Stop()).To(Succeed())

	stopped = true
	pid := gw.Process().PID()
	g.Expect(gw.Stop()).To(Succeed())
	g.Expect(gw.Process().Wait()).To(Succeed(), "versitygw exits 0 on SIGTERM")
	g.Expect(processExists(pid)).To(BeFalse())
	g.Expect(gw.Dir).NotTo(BeADirectory(), "the temporary state directory is removed")
}

func TestVersityGWStartFailsWithTheLog(t *testing.T) {
	requireVersityGW(t)
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	busy, err := StartVersityGW(ctx, VersityGWOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = busy.Stop() })

	// The same port twice: the second cannot listen and exits.
	_, err = StartVersityGW(ctx, VersityGWOptions{Listen: strings.TrimPrefix(busy.URL, "http://")})
	g.Expect(err).To(MatchError(And(ContainSubstring("exited before it was ready"), ContainSubstring("versitygw.log"))))
}

func TestVersityGWBinaryNamesTheWayToBuildIt(t *testing.T) {
	g := NewWithT(t)
	t.Setenv(VersityGWEnv, "")
	_, err := VersityGWBinary()
	g.Expect(err).To(MatchError(ContainSubstring("run `make test`")))
	t.Setenv(VersityGWEnv, filepath.Join(t.TempDir(), "missing"))
	_, err = VersityGWBinary()
	g.Expect(err).To(MatchError(ContainSubstring("hack/versitygw.sh")))
}

// TestEnsureVersityGWRunsTheScriptOnlyWithoutTheVariable runs a stand-in
// hack/versitygw.sh of a fake checkout.
func TestEnsureVersityGWRunsTheScriptOnlyWithoutTheVariable(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	root := t.TempDir()
	g.Expect(os.Mkdir(filepath.Join(root, "hack"), 0o755)).To(Succeed())
	script := "#!/bin/sh\necho building >&2\necho /cache/versitygw\n"
	g.Expect(os.WriteFile(filepath.Join(root, "hack", "versitygw.sh"), []byte(script), 0o755)).To(Succeed())

	t.Setenv(VersityGWEnv, "")
	var progress bytes.Buffer
	g.Expect(EnsureVersityGW(ctx, root, &progress)).To(Equal("/cache/versitygw"))
	g.Expect(progress.String()).To(Equal("building\n"))

	bin := filepath.Join(t.TempDir(), "versitygw")
	g.Expect(os.WriteFile(bin, nil, 0o755)).To(Succeed())
	t.Setenv(VersityGWEnv, bin)
	g.Expect(EnsureVersityGW(ctx, root, nil)).To(Equal(bin))
	t.Setenv(VersityGWEnv, bin+"-missing")
	_, err := EnsureVersityGW(ctx, root, nil)
	g.Expect(err).To(MatchError(ContainSubstring("hack/versitygw.sh prints")))
}

func TestEnvStopsItsVersityGW(t *testing.T) {
	requireVersityGW(t)
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := New(Options{})
	g.Expect(err).NotTo(HaveOccurred())
	gw, err := env.StartVersityGW(ctx, VersityGWOptions{Buckets: []string{"b-1"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(env.VersityGW).To(BeIdenticalTo(gw))
	g.Expect(gw.Dir).To(Equal(env.Path("versitygw")))
	g.Expect(filepath.Join(gw.Dir, "versitygw.log")).To(BeARegularFile())
	g.Expect(env.Stop()).To(Succeed())
	g.Expect(gw.Process().Exited()).To(BeTrue())
	g.Expect(env.Dir).NotTo(BeADirectory())
}
