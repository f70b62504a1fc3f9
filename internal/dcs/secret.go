package dcs

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
)

// Secret is a value that must never be printed: the Redis password of an
// import target. Every way of formatting it (fmt verbs, JSON, text
// marshalling, hence slog) shows "REDACTED"; Reveal gives the value to the
// one place that sends it.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String is "REDACTED", or "" for an empty secret (so that a log still
// tells whether one was set).
func (s Secret) String() string { return redacted(string(s)) }

// GoString is String with the type name, for %#v.
func (s Secret) GoString() string { return "dcs.Secret(" + strconv.Quote(s.String()) + ")" }

// Format makes every fmt verb redact.
func (s Secret) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s.String(), s.GoString()) }

// MarshalJSON redacts, so JSON loggers cannot leak the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText redacts; slog's text handler and encoders that prefer
// TextMarshaler use it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// PresignedURL is a download link with query-string authentication
// (SPEC.md 15): whoever holds it can read the file until it expires, so it
// is a credential. Formatting it (fmt, JSON, text, slog) shows the URL
// with its credentials redacted; Reveal gives the full URL to the code
// that downloads.
type PresignedURL string

// Reveal returns the full URL, signature included.
func (u PresignedURL) Reveal() string { return string(u) }

// String is the URL with its signature and access key redacted.
func (u PresignedURL) String() string { return RedactURL(string(u)) }

// GoString is String with the type name, for %#v.
func (u PresignedURL) GoString() string {
	return "dcs.PresignedURL(" + strconv.Quote(u.String()) + ")"
}

// Format makes every fmt verb redact.
func (u PresignedURL) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, u.String(), u.GoString())
}

// MarshalJSON redacts: a presigned URL has no place in a status or a log.
func (u PresignedURL) MarshalJSON() ([]byte, error) { return json.Marshal(u.String()) }

// MarshalText redacts.
func (u PresignedURL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// credentialParam matches the credential parts of presigned URLs (OBS/S3
// v2: AWSAccessKeyId, Signature; S3 v4: X-Amz-Credential, X-Amz-Signature,
// X-Amz-Security-Token) and of Authorization headers (Signature=<hex>,
// the legacy Credential=AK/...), wherever they appear in a text. The value
// ends at the next separator of a query, a header or an HTML page.
var credentialParam = regexp.MustCompile(`(?i)(Signature|AWSAccessKeyId|AccessKeyId|Credential|Security-Token)=[^&\s"'<>,;)]+`)

// RedactURL replaces the credentials of every presigned URL or
// Authorization header in s by REDACTED, keeping the rest (host, path,
// Expires) for diagnosis. Use it on any text that may hold a link, such as
// the error of an HTTP client that fetched one (url.Error quotes the URL).
func RedactURL(s string) string {
	return credentialParam.ReplaceAllString(s, "$1=REDACTED")
}

// RedactError returns err with RedactURL applied to its text, keeping its
// chain for errors.Is and errors.As. A failed GET of a presigned link
// returns a *url.Error whose text holds the whole URL.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	return scrubError(err, nil)
}
