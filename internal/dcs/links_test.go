package dcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// docLinks is the documented answer of SPEC.md 15, with the elisions
// filled in.
const docLinks = `{ "file_path" : "42489641-23c4-4855-bc89-befc85e2b7f7/ddfe5f66-a965-43ff-aec7-f3b489dc071b/",
  "bucket_name" : "bucket5da9cf3bfabc4cae9023695b934e5e2b",
  "links" : [ { "file_name" : "redis_192.168.63.250_6379_10923-16383_20190820211816.rdb",
    "link" : "https://bucket5da9cf3bfabc4cae9023695b934e5e2b.obs.eu-de.otc.t-systems.com:443/42489641-23c4-4855-bc89-befc85e2b7f7/ddfe5f66-a965-43ff-aec7-f3b489dc071b/redis_192.168.63.250_6379_10923-16383_20190820211816.rdb?AWSAccessKeyId=PRESIGNEDACCESSKEY01&Expires=1566308915&Signature=s3I%2BrLboSecretPart%3D" } ] }`

const (
	docLinkAK  = "PRESIGNEDACCESSKEY01"
	docLinkSig = "s3I%2BrLboSecretPart%3D"
)

func TestDecodeLinksDocExample(t *testing.T) {
	got, err := decodeBackupFiles([]byte(docLinks))
	if err != nil {
		t.Fatal(err)
	}
	if got.FilePath != "42489641-23c4-4855-bc89-befc85e2b7f7/ddfe5f66-a965-43ff-aec7-f3b489dc071b/" ||
		got.BucketName != "bucket5da9cf3bfabc4cae9023695b934e5e2b" || len(got.Links) != 1 ||
		got.Links[0].FileName != "redis_192.168.63.250_6379_10923-16383_20190820211816.rdb" ||
		!strings.HasSuffix(got.Links[0].URL.Reveal(), "Signature="+docLinkSig) {
		t.Fatalf("%+v", got)
	}
	for _, body := range []string{`{"links":[{"file_name":"a"},7,{"file_name":"b","link":"https://x/b"}]}`, `{"links":{}}`} {
		got, err := decodeBackupFiles([]byte(body))
		if err != nil || len(got.Links) > 1 {
			t.Errorf("%s: %+v %v", body, got, err)
		}
	}
	var de *DecodeError
	if _, err := decodeBackupFiles([]byte(`[]`)); !errors.As(err, &de) {
		t.Errorf("array accepted: %v", err)
	}
}

// TestLinksNeverShowTheirCredentials: however a caller prints what
// ListBackupFileLinks returns, the signature and the access key of the
// links stay out.
func TestLinksNeverShowTheirCredentials(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, docLinks) })
	files, err := s.client(t, nil).ListBackupFileLinks(context.Background(), testInst, "b1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{files, &files, files.Links, files.Links[0], files.Links[0].URL} {
		for _, secret := range []string{docLinkSig, docLinkAK, "s3I+rLboSecretPart="} {
			assertNoPassword(t, fmt.Sprintf("%T", v), v, secret)
		}
	}
	if s := files.Links[0].URL.String(); !strings.Contains(s, "Expires=1566308915") || !strings.Contains(s, "obs.eu-de") {
		t.Errorf("redaction removed too much: %s", s)
	}
	if _, err := url.Parse(files.Links[0].URL.Reveal()); err != nil {
		t.Fatal(err)
	}
}

func TestLinksErrorsNeverShowALink(t *testing.T) {
	link := "https://b.obs.example.com/i/b/f.rdb?AWSAccessKeyId=" + docLinkAK + "&Expires=1&Signature=" + docLinkSig
	s := newStub(t, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 400, `{"error_code":"DCS.4087","error_msg":"cannot sign `+link+`"}`)
	})
	_, err := s.client(t, nil).ListBackupFileLinks(context.Background(), testInst, "b1", time.Hour)
	if !IsBackupNotRestorable(err) {
		t.Fatalf("%v", err)
	}
	assertNoPassword(t, "error", err, docLinkSig)
	assertNoPassword(t, "error", err, docLinkAK)
}

func TestLinksExpiration(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, docLinks) })
	c := s.client(t, nil)
	tests := []struct {
		in   time.Duration
		body string
	}{
		{5 * time.Minute, `{"expiration":300}`},
		{24 * time.Hour, `{"expiration":86400}`},
		{time.Hour + 999*time.Millisecond, `{"expiration":3600}`},
	}
	for _, tc := range tests {
		files, err := c.ListBackupFileLinks(context.Background(), testInst, "b1", tc.in)
		reqs := s.requests()
		if err != nil || strings.TrimSpace(reqs[len(reqs)-1].body) != tc.body ||
			!files.ExpiresAt.Equal(testNow.Add(tc.in.Truncate(time.Second))) {
			t.Errorf("%s: %+v %v, body %s", tc.in, files, err, reqs[len(reqs)-1].body)
		}
	}
	n := len(s.requests())
	for _, bad := range []time.Duration{0, -time.Hour, 5*time.Minute - time.Millisecond, 24*time.Hour + time.Second} {
		if _, err := c.ListBackupFileLinks(context.Background(), testInst, "b1", bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := c.ListBackupFileLinks(context.Background(), testInst, "", time.Hour); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty backup id: %v", err)
	}
	if len(s.requests()) != n {
		t.Fatal("invalid calls were sent")
	}
}
