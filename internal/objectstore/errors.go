package objectstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Class is the controller-facing category of an error. Controllers map it
// to a condition reason (DCSBackupStorage Ready, DCSBackup Exported) and
// decide from Retryable whether to try again.
type Class int

const (
	// ClassNone is a nil error.
	ClassNone Class = iota
	// ClassNoSuchBucket is the bucket does not exist (or the endpoint or
	// region names another store than the user meant).
	ClassNoSuchBucket
	// ClassNotFound is the object (or the multipart upload) does not exist.
	ClassNotFound
	// ClassUnauthorized is the credentials were not accepted: access
	// denied, unknown access key, signature mismatch (a wrong secret key),
	// clock skew, a region the store does not sign for. Retrying is useless
	// until the Secret, the permissions or the clock are fixed.
	ClassUnauthorized
	// ClassUnreachable is no HTTP answer: the endpoint's name does not
	// resolve, the connection is refused or cut, the TLS handshake or the
	// certificate check fails.
	ClassUnreachable
	// ClassTransient is the store answered but is unwell: 5xx, throttling
	// (503 SlowDown, 429), request timeouts, and the per-call timeout.
	ClassTransient
	// ClassSizeMismatch is an upload whose stream was shorter or longer
	// than the size announced; nothing was stored.
	ClassSizeMismatch
	// ClassSource is an upload whose stream failed to read: the source's
	// fault, not the store's; nothing was stored.
	ClassSource
	// ClassInvalid is a configuration or an argument rejected before any
	// request was sent (ErrInvalid).
	ClassInvalid
	// ClassCanceled is the caller's context ended. Nobody is at fault.
	ClassCanceled
	// ClassOther is every other error (an unexpected 4xx answer, a
	// malformed answer).
	ClassOther
)

var classNames = [...]string{"None", "NoSuchBucket", "NotFound", "Unauthorized", "Unreachable", "Transient",
	"SizeMismatch", "Source", "Invalid", "Canceled", "Other"}

// String returns the CamelCase class name, usable as a condition reason.
func (c Class) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Retryable reports whether the same call may succeed later without a
// change of configuration.
func (c Class) Retryable() bool {
	return c == ClassUnreachable || c == ClassTransient || c == ClassSource
}

// ErrTimeout marks a request that ran out of the per-call timeout
// (Config.Timeout or PartTimeout), not of the caller's context.
var ErrTimeout = errors.New("per-call timeout exceeded")

// ErrSizeMismatch marks an upload whose stream did not have the announced
// size (ClassSizeMismatch).
var ErrSizeMismatch = errors.New("the stream's size differs from the announced size")

// Error is a failed call. Its text and fields never hold the secret key
// or a request signature: every string is redacted when the Error is made.
type Error struct {
	// Op is the operation: "check bucket", "upload", "put", "get", "stat",
	// "list", "delete", "abort uploads".
	Op string
	// Bucket and Key say what the call was about; Key is the object key in
	// the bucket (prefix included), or the listed prefix.
	Bucket string
	Key    string
	// Class is the category (also Classify(err)).
	Class Class
	// StatusCode is the HTTP status of an error answer, 0 for others.
	StatusCode int
	// Code and Message are the S3 error code (NoSuchBucket,
	// SignatureDoesNotMatch, ...) and message of an error answer.
	Code    string
	Message string
	// RequestID is the store's request id, for its support.
	RequestID string
	// Err is the underlying error, if any.
	Err error
}

// Error is one line: operation, object, status, code, message, request id.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("objectstore: ")
	b.WriteString(e.Op)
	if e.Bucket != "" {
		b.WriteString(" ")
		b.WriteString(e.Bucket)
		if e.Key != "" {
			b.WriteString("/")
			b.WriteString(e.Key)
		}
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Classify puts err into one Class: the Class of an *Error, else what the
// error says (context ends, ErrInvalid, network failures).
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return classifyFailure(err)
}

// IsNotFound reports whether err says that an object does not exist.
func IsNotFound(err error) bool { return Classify(err) == ClassNotFound }

// S3 error codes, from the S3 API reference; OBS, Ceph and versitygw use
// the same names.
var (
	unauthorizedCodes = map[string]bool{
		"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
		"RequestTimeTooSkewed": true, "InvalidToken": true, "ExpiredToken": true, "TokenRefreshRequired": true,
		"AuthorizationHeaderMalformed": true, "AuthorizationQueryParametersError": true, "InvalidSecurity": true,
		"AllAccessDisabled": true, "AccountProblem": true,
		// versitygw answers an unknown access key with 404 and this code;
		// S3, OBS and Ceph with 403 InvalidAccessKeyId.
		"XAdminUserNotFound": true,
	}
	transientCodes = map[string]bool{
		"InternalError": true, "ServiceUnavailable": true, "SlowDown": true, "RequestTimeout": true,
		"OperationAborted": true, "XMinioServerNotInitialized": true,
	}
	notFoundCodes = map[string]bool{"NoSuchKey": true, "NoSuchUpload": true, "NotFound": true}
)

// classifyAnswer classifies an S3 error answer.
func classifyAnswer(status int, code string) Class {
	switch {
	case code == "NoSuchBucket":
		return ClassNoSuchBucket
	case notFoundCodes[code]:
		return ClassNotFound
	case unauthorizedCodes[code]:
		return ClassUnauthorized
	case transientCodes[code] || status >= 500 || status == http.StatusTooManyRequests ||
		status == http.StatusRequestTimeout:
		return ClassTransient
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ClassUnauthorized
	default:
		// A 404 with a code of its own is not a missing object: that
		// comes as NoSuchKey (minio-go names HEAD 404s so too).
		return ClassOther
	}
}

// classifyFailure classifies an error without an HTTP answer.
func classifyFailure(err error) Class {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalidCert      x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
		recordHeader     tls.RecordHeaderError
		netErr           net.Error
		source           *sourceError
	)
	switch {
	// The stream's own failures first: they may wrap network errors of
	// the source's connection, which are not the store's.
	case errors.As(err, &source):
		return ClassSource
	case errors.Is(err, ErrTimeout):
		return ClassTransient
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return ClassCanceled
	case errors.Is(err, ErrInvalid):
		return ClassInvalid
	case errors.Is(err, ErrSizeMismatch):
		return ClassSizeMismatch
	// TLS failures come before net.Error: some of them are one too.
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalidCert),
		errors.As(err, &verification), errors.As(err, &recordHeader):
		return ClassUnreachable
	case errors.As(err, &netErr):
		if netErr.Timeout() {
			return ClassTransient
		}
		return ClassUnreachable
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// The connection ended in the middle of an answer.
		return ClassTransient
	}
	return ClassOther
}

// wrapError turns an error of minio-go (or of this package) into an
// *Error of operation op, classified and with every string redacted.
// ctx is the caller's context and callCtx the per-call one (nil if none),
// to tell the caller going away from the per-call timeout.
func (c *Client) wrapError(ctx, callCtx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	e := &Error{Op: op, Bucket: c.cfg.Bucket, Key: key}
	switch {
	case ctx.Err() != nil:
		// The caller went away, whatever minio-go made of it.
		e.Class, e.Err = ClassCanceled, c.redactError(err)
		return e
	case callCtx != nil && errors.Is(context.Cause(callCtx), ErrTimeout):
		// minio-go reports the per-call deadline as a context error; it is
		// the store's (or the network's) slowness, not the caller's end.
		e.Class, e.Err = ClassTransient, ErrTimeout
		if !errors.Is(err, ErrTimeout) {
			e.Err = fmt.Errorf("%w: %w", ErrTimeout, c.redactError(err))
		}
		return e
	}
	if resp, ok := errorResponse(err); ok {
		e.StatusCode, e.Code, e.RequestID = resp.StatusCode, resp.Code, resp.RequestID
		e.Message = c.redact(oneLine(resp.Message))
		e.Class = classifyAnswer(resp.StatusCode, resp.Code)
		return e
	}
	e.Class, e.Err = classifyFailure(err), c.redactError(err)
	return e
}

// errorResponse returns the S3 error answer in err: one with an HTTP
// status, or a per-key error of a DeleteObjects answer (a code only).
func errorResponse(err error) (minio.ErrorResponse, bool) {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && (resp.StatusCode != 0 || resp.Code != "") {
		return resp, true
	}
	return resp, false
}

const maxMessageLen = 512

// oneLine collapses whitespace and shortens s, so that an HTML error page
// of a proxy still fits in a condition message.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessageLen {
		cut := maxMessageLen
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
