package objectstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// The tests run against a real S3 server: versitygw with its posix
// backend, built by hack/versitygw.sh and named by $VERSITYGW, which
// `make test` sets. One gateway serves the whole package; each test makes
// its own bucket.

const testRegion = "eu-de"

var (
	gatewayOnce sync.Once
	sharedGW    *localenv.VersityGW
	gatewayErr  error
	bucketSeq   atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedGW != nil {
		if err := sharedGW.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop versitygw:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// gateway returns the package's versitygw, started on first use. Without
// $VERSITYGW the test fails and says how to run it.
func gateway(t testing.TB) *localenv.VersityGW {
	t.Helper()
	gatewayOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sharedGW, gatewayErr = localenv.StartVersityGW(ctx, localenv.VersityGWOptions{Region: testRegion})
	})
	if gatewayErr != nil {
		t.Fatal(gatewayErr)
	}
	return sharedGW
}

// newBucket creates an empty bucket for one test.
func newBucket(t testing.TB) string {
	t.Helper()
	gw := gateway(t)
	name := fmt.Sprintf("test-%d-%s", bucketSeq.Add(1), randomHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := gw.CreateBucket(ctx, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// gatewayConfig is a valid configuration for bucket on the gateway.
func gatewayConfig(t testing.TB, bucket string) Config {
	gw := gateway(t)
	return Config{
		Endpoint: gw.URL, AllowInsecure: true, Region: gw.Region, Bucket: bucket,
		AccessKey: gw.AccessKey, SecretKey: gw.SecretKey,
	}
}

// newClient returns a client of a new bucket, with the prefix "exports/",
// after edit changes its configuration.
func newClient(t testing.TB, edit func(*Config)) *Client {
	t.Helper()
	cfg := gatewayConfig(t, newBucket(t))
	cfg.Prefix = "exports/"
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
