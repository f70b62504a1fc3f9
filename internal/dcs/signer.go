package dcs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Signing constants of the SDK-HMAC-SHA256 scheme (SPEC.md 6.1), the
// default signer of huaweicloud-sdk-go-v3 and the one the API gateway in
// front of DCS verifies.
const (
	// SignAlgorithm is the scheme name that starts the Authorization header
	// and the string to sign.
	SignAlgorithm = "SDK-HMAC-SHA256"
	// SdkDateLayout is the Go layout of X-Sdk-Date (yyyyMMdd'T'HHmmss'Z', UTC).
	SdkDateLayout = "20060102T150405Z"
	// MaxClockSkew is how far X-Sdk-Date may be from the gateway's clock
	// (SPEC.md 4.2: "more than 15 minutes" is rejected).
	MaxClockSkew = 15 * time.Minute

	// HeaderSdkDate carries the signing time.
	HeaderSdkDate = "X-Sdk-Date"
	// HeaderProjectID carries the project id (BasicCredentials, SPEC.md 5).
	HeaderProjectID = "X-Project-Id"
	// HeaderSecurityToken carries the STS token of temporary credentials;
	// it is set before signing, so it is signed.
	HeaderSecurityToken = "X-Security-Token"
	// HeaderContentSHA256 replaces the body hash when present (SPEC.md 6.1
	// step 3.6); the SDK sets it to UNSIGNED-PAYLOAD for non-JSON bodies.
	HeaderContentSHA256 = "X-Sdk-Content-Sha256"
	// HeaderRequestID is the gateway's request id response header.
	HeaderRequestID = "X-Request-Id"

	emptyBodySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Sign adds the SDK-HMAC-SHA256 Authorization header to req, exactly as the
// official Go SDK does (SPEC.md 6.1). body must be the exact bytes that will
// be sent. An X-Sdk-Date header that parses is reused (that is how the
// signing vectors are reproduced); otherwise the current UTC time is set.
// The signed headers are every header in req.Header except Content-Type*,
// names containing '_' and Authorization; Host is not signed, like the SDK.
func Sign(req *http.Request, body []byte, accessKey, secretKey string) error {
	date := req.Header.Get(HeaderSdkDate)
	if _, err := time.Parse(SdkDateLayout, date); err != nil {
		date = time.Now().UTC().Format(SdkDateLayout)
		req.Header.Set(HeaderSdkDate, date)
	}
	signed := SignedHeaderNames(req.Header)
	canonical, err := CanonicalRequest(req, signed, body)
	if err != nil {
		return err
	}
	sig := signature(secretKey, StringToSign(date, canonical))
	req.Header.Set("Authorization", fmt.Sprintf("%s Access=%s, SignedHeaders=%s, Signature=%s",
		SignAlgorithm, accessKey, strings.Join(signed, ";"), sig))
	return nil
}

// SignedHeaderNames returns the header names the SDK signs: all names in h,
// lower-cased and sorted, without content-type*, names with '_' and
// authorization (SPEC.md 6.1 step 2).
func SignedHeaderNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "content-type") || strings.Contains(lk, "_") || lk == "authorization" {
			continue
		}
		names = append(names, lk)
	}
	sort.Strings(names)
	return names
}

// CanonicalRequest builds the canonical request of SPEC.md 6.1 step 3 for
// the given signed header names. It works for requests built by a client
// (URL with Host) and for requests received by a server (r.Host, escaped
// path): path segments and query parts are percent-decoded first and then
// re-escaped, so both sides agree whatever escaping the wire used.
func CanonicalRequest(req *http.Request, signedHeaders []string, body []byte) (string, error) {
	uri, err := canonicalURI(req.URL)
	if err != nil {
		return "", err
	}
	query, err := canonicalQuery(req.URL.RawQuery)
	if err != nil {
		return "", err
	}
	payload := req.Header.Get(HeaderContentSHA256)
	if payload == "" {
		payload = hexSHA256(body)
	}
	return strings.Join([]string{
		req.Method,
		uri,
		query,
		canonicalHeaders(req, signedHeaders),
		strings.Join(signedHeaders, ";"),
		payload,
	}, "\n"), nil
}

// StringToSign is "SDK-HMAC-SHA256\n" + X-Sdk-Date + "\n" + hex(sha256(canonical)).
func StringToSign(sdkDate, canonicalRequest string) string {
	return SignAlgorithm + "\n" + sdkDate + "\n" + hexSHA256([]byte(canonicalRequest))
}

func signature(secretKey, stringToSign string) string {
	m := hmac.New(sha256.New, []byte(secretKey))
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

func hexSHA256(b []byte) string {
	if len(b) == 0 {
		return emptyBodySHA256
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func canonicalURI(u *url.URL) (string, error) {
	p := u.EscapedPath()
	segments := strings.Split(p, "/")
	for i, s := range segments {
		dec, err := url.PathUnescape(s)
		if err != nil {
			return "", fmt.Errorf("dcs: invalid path escape: %w", err)
		}
		segments[i] = escapeUnreserved(dec)
	}
	uri := strings.Join(segments, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	return uri, nil
}

// canonicalQuery parses rawQuery itself (url.ParseQuery would drop pairs
// with bad escapes silently and reject ';'), sorts keys and each key's
// values, and writes escape(k)=escape(v) pairs. A bare key signs as "k=".
func canonicalQuery(rawQuery string) (string, error) {
	if rawQuery == "" {
		return "", nil
	}
	params := map[string][]string{}
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", fmt.Errorf("dcs: invalid query escape: %w", err)
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", fmt.Errorf("dcs: invalid query escape: %w", err)
		}
		params[dk] = append(params[dk], dv)
	}
	return encodeQuery(params), nil
}

// encodeQuery writes params sorted by key, values sorted, with the signer's
// escaping. The client sends exactly this string, so the wire query and the
// canonical query are the same (the SDK also sends its query sorted).
func encodeQuery(params map[string][]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vals := append([]string(nil), params[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escapeUnreserved(k))
			b.WriteByte('=')
			b.WriteString(escapeUnreserved(v))
		}
	}
	return b.String()
}

func canonicalHeaders(req *http.Request, signedHeaders []string) string {
	var b strings.Builder
	for _, name := range signedHeaders {
		var values []string
		if strings.EqualFold(name, "host") {
			values = []string{requestHost(req)}
		} else {
			values = append(values, req.Header.Values(name)...)
		}
		sort.Strings(values)
		for _, v := range values {
			b.WriteString(name)
			b.WriteByte(':')
			b.WriteString(strings.TrimSpace(v))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func requestHost(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

// escapeUnreserved percent-encodes every byte except the RFC 3986
// unreserved characters, with upper-case hex (SPEC.md 6.1 step 3.2).
func escapeUnreserved(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// Verification errors. Every failure of Verify wraps ErrAuthentication;
// a clock-skew failure is also a *ClockSkewError, so a gateway can answer it
// with its own code (APIGW.0303) and name the time.
var (
	ErrAuthentication         = errors.New("dcs: authentication failed")
	ErrMissingAuthorization   = fmt.Errorf("%w: no SDK-HMAC-SHA256 Authorization header", ErrAuthentication)
	ErrMalformedAuthorization = fmt.Errorf("%w: malformed Authorization header", ErrAuthentication)
	ErrMissingSdkDate         = fmt.Errorf("%w: missing or malformed X-Sdk-Date", ErrAuthentication)
	ErrUnknownAccessKey       = fmt.Errorf("%w: unknown access key", ErrAuthentication)
	ErrSignatureMismatch      = fmt.Errorf("%w: signature mismatch", ErrAuthentication)
)

// ClockSkewError reports an X-Sdk-Date too far from the verifier's clock.
type ClockSkewError struct {
	RequestTime time.Time
	ServerTime  time.Time
}

// Error names both times, like the gateway's APIGW.0303 message.
func (e *ClockSkewError) Error() string {
	return fmt.Sprintf("dcs: request time %s is more than %s away from server time %s",
		e.RequestTime.UTC().Format(SdkDateLayout), MaxClockSkew, e.ServerTime.UTC().Format(SdkDateLayout))
}

// Unwrap makes a ClockSkewError an ErrAuthentication.
func (e *ClockSkewError) Unwrap() error { return ErrAuthentication }

// SecretLookup returns the secret key of an access key.
type SecretLookup func(accessKey string) (secretKey string, ok bool)

// Authorization is a parsed SDK-HMAC-SHA256 Authorization header.
type Authorization struct {
	AccessKey     string
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization parses "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b,
// Signature=hex". The legacy "Credential=" form of SPEC.md 6.3 is rejected.
func ParseAuthorization(header string) (Authorization, error) {
	rest, ok := strings.CutPrefix(header, SignAlgorithm+" ")
	if !ok {
		return Authorization{}, ErrMissingAuthorization
	}
	var a Authorization
	for _, part := range strings.Split(rest, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return Authorization{}, ErrMalformedAuthorization
		}
		switch k {
		case "Access":
			a.AccessKey = v
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	if a.AccessKey == "" || a.Signature == "" || len(a.SignedHeaders) == 0 {
		return Authorization{}, ErrMalformedAuthorization
	}
	return a, nil
}

// Verify checks an SDK-HMAC-SHA256 request as the API gateway does: it
// rebuilds the canonical request from whatever SignedHeaders names (other
// signers sign host and content-type too), enforces MaxClockSkew between
// X-Sdk-Date and now, and compares signatures in constant time. body is the
// exact request body. On success it returns the parsed Authorization.
func Verify(req *http.Request, body []byte, lookup SecretLookup, now time.Time) (Authorization, error) {
	auth, err := ParseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		return Authorization{}, err
	}
	date := req.Header.Get(HeaderSdkDate)
	signedAt, err := time.Parse(SdkDateLayout, date)
	if err != nil {
		return Authorization{}, ErrMissingSdkDate
	}
	if skew := now.Sub(signedAt); skew > MaxClockSkew || skew < -MaxClockSkew {
		return Authorization{}, &ClockSkewError{RequestTime: signedAt, ServerTime: now}
	}
	secret, ok := lookup(auth.AccessKey)
	if !ok {
		return Authorization{}, ErrUnknownAccessKey
	}
	canonical, err := CanonicalRequest(req, auth.SignedHeaders, body)
	if err != nil {
		return Authorization{}, fmt.Errorf("%w: %w", ErrAuthentication, err)
	}
	want := signature(secret, StringToSign(date, canonical))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(auth.Signature))) {
		return Authorization{}, ErrSignatureMismatch
	}
	return auth, nil
}
