package dcs

import (
	"errors"
	"net/url"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://b.obs.x:443/p/f.rdb?AWSAccessKeyId=AK1&Expires=1566308915&Signature=s3I%2Brb%3D",
			"https://b.obs.x:443/p/f.rdb?AWSAccessKeyId=REDACTED&Expires=1566308915&Signature=REDACTED"},
		{"https://s3/x?X-Amz-Credential=AK%2F2026&X-Amz-Signature=abc&X-Amz-Security-Token=tok&X-Amz-Expires=60",
			"https://s3/x?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Expires=60"},
		{`Get "https://h/f?Signature=abc": dial tcp`, `Get "https://h/f?Signature=REDACTED": dial tcp`},
		{"SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=0a1b", "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=REDACTED"},
		{"<pre>Signature=0a1b</pre>", "<pre>Signature=REDACTED</pre>"},
		{"no credentials here", "no credentials here"},
	}
	for _, tc := range tests {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q)\n  = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactError(t *testing.T) {
	inner := &url.Error{Op: "Get", URL: "https://h/f?AWSAccessKeyId=AK1&Signature=sig%2B", Err: errors.New("timeout")}
	err := RedactError(inner)
	var ue *url.Error
	if !errors.As(err, &ue) || err.Error() != `Get "https://h/f?AWSAccessKeyId=REDACTED&Signature=REDACTED": timeout` {
		t.Fatalf("%v", err)
	}
	if RedactError(nil) != nil {
		t.Fatal("nil")
	}
}

func TestSecretFormatting(t *testing.T) {
	s := Secret("hunter2-hunter2")
	assertNoPassword(t, "secret", s, "hunter2-hunter2")
	if s.String() != "REDACTED" || Secret("").String() != "" || s.Reveal() != "hunter2-hunter2" {
		t.Fatal(s.String())
	}
}
