package objectstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestNoSecretInAnyOutput provokes every kind of error with a wrong secret
// key, and with a source whose errors quote presigned download links (as
// the DCS backup links are), and searches everything the package hands
// out: error texts in every fmt verb, the fields of *Error, and the
// configuration and client printed as a careless log line would.
func TestNoSecretInAnyOutput(t *testing.T) {
	g := NewWithT(t)
	ctx := testContext(t)
	good := newClient(t, nil)
	g.Expect(good.Put(ctx, "present", []byte("x"))).To(Succeed())

	const wrongSecret = "WrongSecretKey-9f2c41d7e0b3a8" // distinctive, so a leak is found
	const presignedSig = "5e1bd7b3c0f8a2d4e6f7a9b1c3d5e7f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	const obsSig = "Qk5PV0hFUkVTSUdOQVRVUkU9"
	cfg := good.Config()
	cfg.SecretKey = wrongSecret
	c, err := New(cfg)
	g.Expect(err).NotTo(HaveOccurred())

	presigned := "https://obs.eu-de.otc.t-systems.com/dcs-backups/backup.rdb?AccessKeyId=AKEXAMPLE&Expires=1760000000&Signature=" +
		obsSig + " and https://s3.example.com/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101&X-Amz-Signature=" +
		presignedSig + "&X-Amz-Security-Token=" + presignedSig
	sourceErr := fmt.Errorf("GET %s: connection reset by peer, Authorization: AWS4-HMAC-SHA256 Credential=AK, Signature=%s "+
		"or OBS AKEXAMPLE:%s", presigned, presignedSig, obsSig)

	var errs []error
	collect := func(err error) { errs = append(errs, err) }
	collect(c.CheckBucket(ctx))
	collect(c.Put(ctx, "k", []byte("data")))
	_, err = c.Get(ctx, "present")
	collect(err)
	_, err = c.Stat(ctx, "present")
	collect(err)
	_, err = c.List(ctx, "")
	collect(err)
	collect(c.Delete(ctx, "present"))
	_, err = c.AbortUploads(ctx, "", time.Time{})
	collect(err)
	_, err = c.Upload(ctx, "small", strings.NewReader("data"), 4)
	collect(err)
	_, err = c.Upload(ctx, "large", generator(1, 12*mib), 12*mib)
	collect(err)
	_, err = good.Upload(ctx, "broken", &failingReader{r: generator(1, 12*mib), n: 7 * mib, err: sourceErr}, 12*mib)
	collect(err)
	_, err = c.Upload(ctx, "broken", &failingReader{r: generator(1, 3), n: 1, err: sourceErr}, 3)
	collect(err)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	collect(c.CheckBucket(canceled))
	_, err = New(Config{Endpoint: "https://user:" + wrongSecret + "@obs.example.com", Bucket: "b-1", AccessKey: "a",
		SecretKey: wrongSecret})
	collect(err)

	var outputs []string
	for i, err := range errs {
		g.Expect(err).To(HaveOccurred(), "call %d must fail", i)
		outputs = append(outputs, err.Error(), fmt.Sprintf("%v|%+v|%#v|%s|%q", err, err, err, err, err))
		for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
			outputs = append(outputs, e.Error(), fmt.Sprintf("%#v", e))
		}
		var oe *Error
		if errors.As(err, &oe) {
			outputs = append(outputs, fmt.Sprintf("%#v", *oe), oe.Message, oe.Code)
		}
	}
	outputs = append(outputs, fmt.Sprintf("%v|%+v|%#v|%s", cfg, cfg, cfg, cfg), fmt.Sprintf("%v|%+v|%#v|%s", c, c, c, c),
		fmt.Sprintf("%v|%+v", &cfg, *c))
	all := strings.Join(outputs, "\n")

	// A failure names the output, never prints it: it holds the secret.
	for i, out := range outputs {
		for j, secret := range []string{wrongSecret, good.Config().SecretKey, presignedSig, obsSig} {
			if strings.Contains(out, secret) {
				t.Errorf("output %d holds secret %d: %s", i, j, redactString(out, wrongSecret, good.Config().SecretKey))
			}
		}
	}
	// The outputs still say what went wrong.
	g.Expect(all).To(ContainSubstring("SignatureDoesNotMatch"))
	g.Expect(all).To(ContainSubstring("connection reset by peer"))
	g.Expect(all).To(ContainSubstring("Signature=(redacted)"))
	g.Expect(all).To(ContainSubstring("AccessKey:" + c.Config().AccessKey))
	t.Log("searched", len(all), "bytes of output; sample:", errs[0], "|", errs[9])
}

func TestRedactString(t *testing.T) {
	cases := map[string]string{
		"plain message":                              "plain message",
		"secret s3cr3t-value inside":                 "secret (redacted) inside",
		"?X-Amz-Signature=abc123&x=1":                "?X-Amz-Signature=(redacted)&x=1",
		"&signature=abc%2B%3D&Expires=1":             "&signature=(redacted)&Expires=1",
		"?AccessKeyId=AK&Signature=zz":               "?AccessKeyId=(redacted)&Signature=(redacted)",
		"X-Amz-Security-Token=tok X-Amz-Credential=": "X-Amz-Security-Token=(redacted) X-Amz-Credential=",
		"Credential=AK/x, Signature=deadbeef":        "Credential=(redacted), Signature=(redacted)",
		"Authorization: OBS AK:c2lnbmF0dXJl":         "Authorization: OBS AK:(redacted)",
		"x-obs-signature=1&x-obs-security-token=2":   "x-obs-signature=(redacted)&x-obs-security-token=(redacted)",
	}
	for in, want := range cases {
		if got := redactString(in, "s3cr3t-value", "ab"); got != want {
			t.Errorf("redactString(%q) = %q, want %q", in, got, want)
		}
	}
}
