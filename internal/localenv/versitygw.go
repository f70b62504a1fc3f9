package localenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// VersityGWEnv is the variable with the path of the versitygw binary that
// hack/versitygw.sh builds; `make test` sets it.
const VersityGWEnv = "VERSITYGW"

// DefaultVersityGWStartTimeout bounds the start of versitygw.
const DefaultVersityGWStartTimeout = 30 * time.Second

// VersityGWBinary returns the versitygw binary named by $VERSITYGW, or an
// error that says how to get one.
func VersityGWBinary() (string, error) {
	bin := os.Getenv(VersityGWEnv)
	if bin == "" {
		return "", errors.New(VersityGWEnv + " is not set: run `make test`, or set it to the path " +
			"that hack/versitygw.sh prints (it builds the S3 gateway the tests run against)")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s=%s: %w (hack/versitygw.sh prints the path of a built binary)", VersityGWEnv, bin, err)
	}
	return bin, nil
}

// VersityGWOptions configure StartVersityGW. Zero values take defaults.
type VersityGWOptions struct {
	// Binary is the versitygw binary; empty means VersityGWBinary().
	Binary string
	// Listen is host:port; empty picks a free port on 127.0.0.1.
	Listen string
	// Dir holds the gateway's state: the posix backend's root (buckets/)
	// and the objects' metadata (meta/). Empty means a new temporary
	// directory that Stop removes.
	Dir string
	// AccessKey and SecretKey are the root account's; empty means random
	// keys, so that no test depends on a well-known secret.
	AccessKey string
	SecretKey string
	// Region is what the gateway accepts in signatures; default us-east-1.
	Region string
	// Buckets are created before StartVersityGW returns.
	Buckets []string
	// LogPath receives the gateway's output (banner and access log);
	// default <Dir>/versitygw.log.
	LogPath string
	// StartTimeout bounds the start; default DefaultVersityGWStartTimeout.
	StartTimeout time.Duration
}

// VersityGW is a running versitygw S3 gateway with its posix backend on
// loopback, speaking plain http.
type VersityGW struct {
	// URL is the endpoint, http://127.0.0.1:PORT.
	URL string
	// Region, AccessKey and SecretKey are what clients sign with.
	Region    string
	AccessKey string
	SecretKey string
	// Dir is the state directory; ObjectPath names the file of an object.
	Dir string

	proc      *Process
	removeDir bool
}

// StartVersityGW starts versitygw and waits until it serves, then creates
// opts.Buckets. The gateway runs in its own process group and is killed if
// this process dies (Linux parent-death signal), like every Process.
func StartVersityGW(ctx context.Context, opts VersityGWOptions) (*VersityGW, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	gw := &VersityGW{
		URL: "http://" + opts.Listen, Region: opts.Region,
		AccessKey: opts.AccessKey, SecretKey: opts.SecretKey, Dir: opts.Dir,
	}
	if gw.Dir == "" {
		if gw.Dir, err = os.MkdirTemp("", "dcs-versitygw-"); err != nil {
			return nil, err
		}
		gw.removeDir = true
	}
	if opts.LogPath == "" {
		opts.LogPath = filepath.Join(gw.Dir, "versitygw.log")
	}
	for _, sub := range []string{"buckets", "meta"} {
		if err := os.MkdirAll(filepath.Join(gw.Dir, sub), 0o700); err != nil {
			return nil, errors.Join(err, gw.removeState())
		}
	}
	gw.proc, err = StartProcess(ProcessSpec{
		Name: "versitygw", Path: opts.Binary, LogPath: opts.LogPath,
		Args: []string{"--port", opts.Listen, "--region", opts.Region,
			// Metadata in a sidecar directory instead of extended
			// attributes: tmpfs before Linux 6.6 has no user xattrs.
			"posix", "--sidecar", filepath.Join(gw.Dir, "meta"), filepath.Join(gw.Dir, "buckets")},
		// Keys go by environment, not by flags that ps shows.
		Env:         []string{"ROOT_ACCESS_KEY_ID=" + opts.AccessKey, "ROOT_SECRET_ACCESS_KEY=" + opts.SecretKey},
		StopTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, errors.Join(err, gw.removeState())
	}
	if err := gw.waitReady(ctx, opts.StartTimeout); err != nil {
		return nil, errors.Join(err, gw.proc.Kill(), gw.removeState())
	}
	for _, b := range opts.Buckets {
		if err := gw.CreateBucket(ctx, b); err != nil {
			return nil, errors.Join(err, gw.Stop())
		}
	}
	return gw, nil
}

// waitReady polls until a request signed with the gateway's keys
// succeeds. An unauthenticated health check could be answered by another
// process that took the port between FreeAddr and the start (versitygw
// prints its banner before it binds, and exits only then); the keys are
// this gateway's own.
func (gw *VersityGW) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := gw.client()
	if err != nil {
		return err
	}
	ticker := time.NewTicker(readyPoll)
	defer ticker.Stop()
	var lastErr error
	for {
		callCtx, cancelCall := context.WithTimeout(ctx, time.Second)
		_, lastErr = c.ListBuckets(callCtx)
		cancelCall()
		if lastErr == nil {
			return nil
		}
		select {
		case <-gw.proc.Done():
			return fmt.Errorf("versitygw exited before it was ready (%v)%s", gw.proc.Wait(), logTail(gw.proc.LogPath()))
		case <-ctx.Done():
			return fmt.Errorf("versitygw not ready at %s: %w (last answer: %v)%s", gw.URL, ctx.Err(), lastErr,
				logTail(gw.proc.LogPath()))
		case <-ticker.C:
		}
	}
}

// client is a minio-go client with the root account's keys. It retries
// nothing, so that waitReady polls at its own pace.
func (gw *VersityGW) client() (*minio.Client, error) {
	return minio.New(strings.TrimPrefix(gw.URL, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(gw.AccessKey, gw.SecretKey, ""), Region: gw.Region,
		BucketLookup: minio.BucketLookupPath, MaxRetries: 1,
	})
}

func (o VersityGWOptions) withDefaults() (VersityGWOptions, error) {
	var err error
	if o.Binary == "" {
		if o.Binary, err = VersityGWBinary(); err != nil {
			return o, err
		}
	}
	if o.Listen == "" {
		if o.Listen, err = FreeAddr(); err != nil {
			return o, err
		}
	}
	if o.AccessKey == "" {
		o.AccessKey = "LOCALENV" + randomHex(8)
	}
	if o.SecretKey == "" {
		o.SecretKey = randomHex(20)
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultVersityGWStartTimeout
	}
	return o, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// CreateBucket creates a bucket as the root account; an existing bucket
// of the root account is fine.
func (gw *VersityGW) CreateBucket(ctx context.Context, name string) error {
	c, err := gw.client()
	if err != nil {
		return err
	}
	err = c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: gw.Region})
	if minio.ToErrorResponse(err).Code == "BucketAlreadyOwnedByYou" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// ObjectPath is the file in which the posix backend keeps an object: what
// landed in the bucket, read without the S3 protocol.
func (gw *VersityGW) ObjectPath(bucket, key string) string {
	return filepath.Join(gw.Dir, "buckets", bucket, filepath.FromSlash(key))
}

// Process is the gateway's process (Kill, Restart, PID, LogPath).
func (gw *VersityGW) Process() *Process { return gw.proc }

// Stop stops the gateway (SIGTERM, then SIGKILL after its grace period)
// and removes the backend directory if StartVersityGW made it.
func (gw *VersityGW) Stop() error {
	return errors.Join(gw.proc.Stop(), gw.removeState())
}

func (gw *VersityGW) removeState() error {
	if !gw.removeDir {
		return nil
	}
	return os.RemoveAll(gw.Dir)
}
