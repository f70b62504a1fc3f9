package dcs

import (
	"bufio"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/dcstest"
)

// signingVector is one request signed by the official SDK (SPEC.md 7).
type signingVector dcstest.SigningVector

func loadSigningVectors(t testing.TB) []signingVector {
	t.Helper()
	algorithm, vectors, err := dcstest.SigningVectors()
	if err != nil {
		t.Fatal(err)
	}
	if algorithm != SignAlgorithm || len(vectors) != 7 {
		t.Fatalf("unexpected vector file: algorithm %q, %d vectors", algorithm, len(vectors))
	}
	out := make([]signingVector, len(vectors))
	for i, v := range vectors {
		out[i] = signingVector(v)
	}
	return out
}

func (v signingVector) date(t testing.TB) time.Time {
	t.Helper()
	d, err := time.Parse(SdkDateLayout, v.Headers["X-Sdk-Date"])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// clientRequest is the request as the SDK had it before signing: the
// recorded headers minus Content-Length, which Go's transport adds later
// (SPEC.md 7).
func (v signingVector) clientRequest(t testing.TB) *http.Request {
	t.Helper()
	req, err := http.NewRequest(v.Method, "http://"+v.Host+v.RequestURI, strings.NewReader(v.Body))
	if err != nil {
		t.Fatal(err)
	}
	for k, val := range v.Headers {
		if k != "Content-Length" {
			req.Header.Set(k, val)
		}
	}
	return req
}

// serverRequest is the request as a server receives it, parsed from the
// raw HTTP/1.1 text with the recorded headers and Authorization.
func (v signingVector) serverRequest(t testing.TB) *http.Request {
	t.Helper()
	var b strings.Builder
	b.WriteString(v.Method + " " + v.RequestURI + " HTTP/1.1\r\nHost: " + v.Host + "\r\n")
	keys := make([]string, 0, len(v.Headers))
	for k := range v.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k + ": " + v.Headers[k] + "\r\n")
	}
	b.WriteString("Authorization: " + v.Authorization + "\r\n\r\n" + v.Body)
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func (v signingVector) lookup(ak string) (string, bool) {
	if ak == v.AccessKey {
		return v.SecretKey, true
	}
	return "", false
}

func TestSignReproducesEveryVector(t *testing.T) {
	for _, v := range loadSigningVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			req := v.clientRequest(t)
			if err := Sign(req, []byte(v.Body), v.AccessKey, v.SecretKey); err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("Authorization"); got != v.Authorization {
				t.Errorf("authorization mismatch\n got: %s\nwant: %s", got, v.Authorization)
			}
		})
	}
}

func TestCanonicalRequestWorkedExample(t *testing.T) {
	// SPEC.md 6.1, worked example for vector list-backups-paged.
	v := loadSigningVectors(t)[0]
	req := v.clientRequest(t)
	got, err := CanonicalRequest(req, SignedHeaderNames(req.Header), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "GET\n" +
		"/v2/0a1b2c3d4e5f40a1b2c3d4e5f6a7b8c9/instances/5560df16-cebf-4473-95c4-d1b573c16e79/backups/\n" +
		"begin_time=20240101000000&end_time=20240131235959&limit=100&offset=200\n" +
		"user-agent:huaweicloud-usdk-go/3.0; os/Debian_GNU/Linux#12_(bookworm)#amd64 go/go1.26.8; app/332f8626-2208-4b9b-bd27-89557a3e178f\n" +
		"x-project-id:0a1b2c3d4e5f40a1b2c3d4e5f6a7b8c9\n" +
		"x-sdk-date:20261122T075141Z\n" +
		"\n" +
		"user-agent;x-project-id;x-sdk-date\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if got != want {
		t.Fatalf("canonical request\n got: %q\nwant: %q", got, want)
	}
	sts := StringToSign("20261122T075141Z", got)
	if wantSTS := "SDK-HMAC-SHA256\n20261122T075141Z\n5d1a7c8fb4f95178a1064ec8ad6bb6500fea3f92f65d4352c18e9b5fb060a582"; sts != wantSTS {
		t.Fatalf("string to sign %q, want %q", sts, wantSTS)
	}
}

func TestVerifyAcceptsEveryVector(t *testing.T) {
	for _, v := range loadSigningVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			for _, d := range []time.Duration{0, MaxClockSkew, -MaxClockSkew, 14 * time.Minute} {
				auth, err := Verify(v.serverRequest(t), []byte(v.Body), v.lookup, v.date(t).Add(d))
				if err != nil {
					t.Fatalf("clock %+v: %v", d, err)
				}
				if auth.AccessKey != v.AccessKey {
					t.Errorf("access key %q", auth.AccessKey)
				}
			}
		})
	}
}

// verifyCase changes a vector on its way to the verifier.
type verifyCase struct {
	name    string
	applies func(v signingVector) bool
	mutate  func(v *signingVector, r **http.Request, body *[]byte, lookup *SecretLookup, now *time.Time)
	wantErr error // nil: must be accepted
}

func hasQuery(v signingVector) bool   { return strings.Contains(v.RequestURI, "?") }
func manyParams(v signingVector) bool { return strings.Count(v.RequestURI, "&") >= 1 }
func hasToken(v signingVector) bool   { return v.SecurityToken != "" }
func always(signingVector) bool       { return true }

func verifyCases(t *testing.T) []verifyCase {
	return []verifyCase{
		{"method changed", always, func(v *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			v.Method = "PUT"
			*r = v.serverRequest(t)
		}, ErrSignatureMismatch},
		{"path changed", always, func(v *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			v.RequestURI = strings.Replace(v.RequestURI, "5560df16", "5560df17", 1)
			*r = v.serverRequest(t)
		}, ErrSignatureMismatch},
		{"path escaped differently", always, func(v *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			// %2D is '-': the same path after percent-decoding.
			v.RequestURI = strings.Replace(v.RequestURI, "5560df16-cebf", "5560df16%2Dcebf", 1)
			*r = v.serverRequest(t)
		}, nil},
		{"query added", always, func(v *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			if hasQuery(*v) {
				v.RequestURI += "&x=1"
			} else {
				v.RequestURI += "?x=1"
			}
			*r = v.serverRequest(t)
		}, ErrSignatureMismatch},
		{"query value changed", hasQuery, func(v *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			v.RequestURI = strings.Replace(v.RequestURI, "limit=1", "limit=2", 1)
			*r = v.serverRequest(t)
		}, ErrSignatureMismatch},
		{"query reordered", manyParams, func(v *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			path, query, _ := strings.Cut(v.RequestURI, "?")
			parts := strings.Split(query, "&")
			slices.Reverse(parts)
			v.RequestURI = path + "?" + strings.Join(parts, "&")
			*r = v.serverRequest(t)
		}, nil},
		{"signed header User-Agent changed", always, func(_ *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			(*r).Header.Set("User-Agent", (*r).Header.Get("User-Agent")+"x")
		}, ErrSignatureMismatch},
		{"signed header X-Project-Id changed", always, func(_ *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			(*r).Header.Set("X-Project-Id", "ffffffffffffffffffffffffffffffff")
		}, ErrSignatureMismatch},
		{"signed header X-Sdk-Date changed", always, func(_ *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			(*r).Header.Set("X-Sdk-Date", "20261122T075142Z")
		}, ErrSignatureMismatch},
		{"signed header X-Security-Token changed", hasToken, func(_ *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			(*r).Header.Set("X-Security-Token", "forged")
		}, ErrSignatureMismatch},
		{"body changed", always, func(_ *signingVector, _ **http.Request, body *[]byte, _ *SecretLookup, _ *time.Time) {
			*body = append(*body, ' ')
		}, ErrSignatureMismatch},
		{"secret changed", always, func(v *signingVector, _ **http.Request, _ *[]byte, lookup *SecretLookup, _ *time.Time) {
			*lookup = func(string) (string, bool) { return v.SecretKey + "x", true }
		}, ErrSignatureMismatch},
		{"unknown access key", always, func(_ *signingVector, _ **http.Request, _ *[]byte, lookup *SecretLookup, _ *time.Time) {
			*lookup = func(string) (string, bool) { return "", false }
		}, ErrUnknownAccessKey},
		{"clock 16 minutes ahead", always, func(_ *signingVector, _ **http.Request, _ *[]byte, _ *SecretLookup, now *time.Time) {
			*now = now.Add(16 * time.Minute)
		}, &ClockSkewError{}},
		{"clock 16 minutes behind", always, func(_ *signingVector, _ **http.Request, _ *[]byte, _ *SecretLookup, now *time.Time) {
			*now = now.Add(-16 * time.Minute)
		}, &ClockSkewError{}},
		{"unsigned Content-Type changed", always, func(_ *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			(*r).Header.Set("Content-Type", "text/plain")
		}, nil},
		{"unsigned Content-Length changed", always, func(_ *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			(*r).Header.Set("Content-Length", "4242")
		}, nil},
		{"unsigned header added", always, func(_ *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			(*r).Header.Set("X-Forwarded-For", "10.0.0.1")
		}, nil},
		{"authorization removed", always, func(_ *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			(*r).Header.Del("Authorization")
		}, ErrMissingAuthorization},
		{"sdk date removed", always, func(_ *signingVector, r **http.Request, _ *[]byte, _ *SecretLookup, _ *time.Time) {
			(*r).Header.Del("X-Sdk-Date")
		}, ErrMissingSdkDate},
	}
}

func TestVerifyTamperedVectors(t *testing.T) {
	for _, v := range loadSigningVectors(t) {
		for _, tc := range verifyCases(t) {
			if !tc.applies(v) {
				continue
			}
			t.Run(v.Name+"/"+tc.name, func(t *testing.T) {
				v := v
				v.Headers = cloneMap(v.Headers)
				r := v.serverRequest(t)
				body := []byte(v.Body)
				lookup := SecretLookup(v.lookup)
				now := v.date(t)
				tc.mutate(&v, &r, &body, &lookup, &now)
				_, err := Verify(r, body, lookup, now)
				checkVerifyErr(t, err, tc.wantErr)
			})
		}
	}
}

func checkVerifyErr(t *testing.T, err, want error) {
	t.Helper()
	var skew *ClockSkewError
	switch {
	case want == nil && err != nil:
		t.Fatalf("rejected: %v", err)
	case want == nil:
	case err == nil:
		t.Fatalf("accepted, want %v", want)
	case !errors.Is(err, ErrAuthentication):
		t.Fatalf("error %v is not ErrAuthentication", err)
	case errors.As(want, &skew):
		if !errors.As(err, &skew) || !strings.Contains(err.Error(), "20261122T075141Z") {
			t.Fatalf("error %v, want a clock skew error naming the request time", err)
		}
	case !errors.Is(err, want):
		t.Fatalf("error %v, want %v", err, want)
	}
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestVerifyAcceptsOtherSignedHeaderSets(t *testing.T) {
	// Other signers (APIG SDK, gophertelekomcloud) sign host and
	// content-type too: the verifier must follow SignedHeaders.
	v := loadSigningVectors(t)[2]
	req := v.clientRequest(t)
	signed := []string{"content-type", "host", "user-agent", "x-project-id", "x-sdk-date"}
	canonical, err := CanonicalRequest(req, signed, []byte(v.Body))
	if err != nil {
		t.Fatal(err)
	}
	v.Authorization = SignAlgorithm + " Access=" + v.AccessKey + ", SignedHeaders=" + strings.Join(signed, ";") +
		", Signature=" + signature(v.SecretKey, StringToSign(v.Headers["X-Sdk-Date"], canonical))
	if _, err := Verify(v.serverRequest(t), []byte(v.Body), v.lookup, v.date(t)); err != nil {
		t.Fatalf("rejected: %v", err)
	}
	r := v.serverRequest(t)
	r.Header.Set("Content-Type", "text/plain") // now signed
	if _, err := Verify(r, []byte(v.Body), v.lookup, v.date(t)); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatalf("signed content-type change accepted: %v", err)
	}
}

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		in      string
		wantErr error
	}{
		{"SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=00", nil},
		{"SDK-HMAC-SHA256 Access=AK,SignedHeaders=a,Signature=00", nil},
		{"", ErrMissingAuthorization},
		{"Bearer abc", ErrMissingAuthorization},
		{"SDK-HMAC-SHA256 Credential=AK/20261122///sdk_request, SignedHeaders=a, Signature=00", ErrMalformedAuthorization},
		{"SDK-HMAC-SHA256 Access=AK, SignedHeaders=a", ErrMalformedAuthorization},
		{"SDK-HMAC-SHA256 garbage", ErrMalformedAuthorization},
	}
	for _, tc := range tests {
		_, err := ParseAuthorization(tc.in)
		if (tc.wantErr == nil) != (err == nil) || !errors.Is(err, tc.wantErr) {
			t.Errorf("ParseAuthorization(%q) = %v, want %v", tc.in, err, tc.wantErr)
		}
	}
}

func TestEscapeUnreserved(t *testing.T) {
	tests := map[string]string{
		"abcXYZ019-_.~": "abcXYZ019-_.~",
		"a b":           "a%20b",
		"a+b/c:d":       "a%2Bb%2Fc%3Ad",
		"ä":             "%C3%A4",
	}
	for in, want := range tests {
		if got := escapeUnreserved(in); got != want {
			t.Errorf("escapeUnreserved(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"", ""},
		{"b=2&a=1", "a=1&b=2"},
		{"a=2&a=1", "a=1&a=2"},
		{"flag", "flag="},
		{"q=a%20b", "q=a%20b"},
		{"q=a+b", "q=a%20b"},
		{"k=%7e", "k=~"},
	}
	for _, tc := range tests {
		got, err := canonicalQuery(tc.raw)
		if err != nil || got != tc.want {
			t.Errorf("canonicalQuery(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
	if _, err := canonicalQuery("a=%zz"); err == nil {
		t.Error("bad escape accepted")
	}
}
