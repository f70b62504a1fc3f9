package objectstore

import (
	"regexp"
	"strings"
)

// signatureParam matches the values of URL query parameters and
// Authorization header fields that carry a signature, a credential scope
// or a temporary token: presigned links (the DCS backup download links
// are OBS presigned URLs: AccessKeyId, Expires, Signature; S3's carry
// X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token) and V4
// Authorization headers (Signature=...). A source stream's error may
// quote such a link.
var signatureParam = regexp.MustCompile(
	`(?i)\b((?:x-(?:amz|obs)-)?(?:signature|security-token|credential)|(?:aws)?accesskeyid)=([^&\s"'<>,;]+)`)

// v2Authorization matches V2 Authorization header values, "AWS AK:sig"
// and "OBS AK:sig".
var v2Authorization = regexp.MustCompile(`\b(AWS|OBS) ([^\s:]+):([A-Za-z0-9+/=]+)`)

// minSecretLen is the shortest secret replaced literally; replacing a one
// or two character "secret" would garble every message and protect
// nothing.
const minSecretLen = 4

// redactString removes the secrets and every signature from s.
func redactString(s string, secrets ...string) string {
	for _, secret := range secrets {
		if len(secret) >= minSecretLen {
			s = strings.ReplaceAll(s, secret, "(redacted)")
		}
	}
	s = signatureParam.ReplaceAllString(s, "$1=(redacted)")
	return v2Authorization.ReplaceAllString(s, "$1 $2:(redacted)")
}

func (c *Client) redact(s string) string { return redactString(s, c.cfg.SecretKey) }

// redactedError is an error whose text had to be redacted. It does not
// wrap the original: errors.Unwrap must not hand the secret back.
type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }

// redactError returns err itself when its text holds nothing secret, else
// an error with the redacted text.
func (c *Client) redactError(err error) error {
	msg := err.Error()
	if clean := c.redact(msg); clean != msg {
		return &redactedError{msg: clean}
	}
	return err
}
