package dcs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a failed DCS call: an HTTP error answer (StatusCode set), a
// malformed 2xx body (StatusCode set, Err a *DecodeError), or a transport
// failure (StatusCode 0, Err set). It never holds credentials.
type Error struct {
	// Operation is the client operation, e.g. "create backup".
	Operation string
	// StatusCode is the HTTP status, 0 for transport errors.
	StatusCode int
	// Code is the DCS (DCS.4096) or gateway (APIG.0308) error_code, or the
	// "code" field of other error shapes (SPEC.md 5: error_code+error_msg,
	// then code+message, then one level of nesting).
	Code string
	// Message is error_msg (or message); the raw body, shortened, when the
	// body is not JSON.
	Message string
	// RequestID is the X-Request-Id header, else the body's request_id
	// (APIG puts it only in the body, SPEC.md 4.2).
	RequestID string
	// RetryAfter is the Retry-After header (seconds or HTTP date), 0 if absent.
	RetryAfter time.Duration
	// Err is the underlying transport, timeout or decode error, if any.
	Err error
}

// Error is one line: operation, status, code, message, request id.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("dcs: ")
	b.WriteString(e.Operation)
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
		b.WriteString(oneLine(e.Err.Error(), maxMessageLen))
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// DecodeError is a 2xx body that could not be decoded even leniently. A
// retry does not fix it (SPEC.md 4.3), so it classifies as terminal.
type DecodeError struct {
	Err error
}

func (e *DecodeError) Error() string { return "malformed response body: " + e.Err.Error() }

// Unwrap returns the JSON error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Sentinel errors wrapped by *Error.Err.
var (
	// ErrTimeout marks a call that ran out of the client's per-call Timeout
	// (not the caller's context): a transient failure.
	ErrTimeout = errors.New("per-call timeout exceeded")
	// ErrRateLimited marks a call refused by the client-side Limiter because
	// its wait would not fit in the call's deadline.
	ErrRateLimited = errors.New("client-side rate limit")
	// ErrInvalidArgument marks a call rejected before any request was sent.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrTooManyPages marks a list that did not end within the page cap (a
	// server that keeps returning full pages).
	ErrTooManyPages = errors.New("too many pages")
)

// Class is the controller-facing category of an error (SPEC.md 4.3). The
// controllers map it to a Synced condition reason and a requeue delay.
type Class int

const (
	// ClassNone is a nil error.
	ClassNone Class = iota
	// ClassBusy is the instance runs another operation (DCS.4096 backup,
	// DCS.4097 restore, DCS.4049 not RUNNING, ...). Retry later.
	ClassBusy
	// ClassThrottled is 429 / APIG.0308 from the gateway, or the client-side
	// limiter. Retry after RetryAfter(err).
	ClassThrottled
	// ClassTransient is 5xx, gateway 502/504, timeouts, connection errors.
	// Retry with backoff.
	ClassTransient
	// ClassUnauthorized is bad credentials, signature, clock skew, project or
	// permission (401/403). Retrying is useless until the Secret or the
	// clock is fixed.
	ClassUnauthorized
	// ClassNotFound is the instance does not exist (404 DCS.3022), or the
	// migration task is gone (400 DCS.4133, SPEC.md 14).
	ClassNotFound
	// ClassUnsupported is the instance cannot be backed up or restored
	// (DCS.4095, e.g. single-node).
	ClassUnsupported
	// ClassTerminal is every other error (4xx such as DCS.4087 backup not
	// restorable, DCS.4080 wrong Redis password, DCS.4098 remark too long,
	// DCS.4061, DCS.4039 quota, decode errors, invalid arguments).
	ClassTerminal
	// ClassCanceled is the caller's context ended (cancelled or its own
	// deadline), or the call gave its place in the budget up (WithYield).
	// Nobody is at fault; the caller is going away or comes back later.
	ClassCanceled
)

var classNames = [...]string{"None", "Busy", "Throttled", "Transient", "Unauthorized", "NotFound", "Unsupported", "Terminal", "Canceled"}

// String returns the CamelCase class name.
func (c Class) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Retryable reports whether the same call may succeed later without a
// change of input or configuration.
func (c Class) Retryable() bool {
	return c == ClassBusy || c == ClassThrottled || c == ClassTransient
}

// busyCodes are the "instance busy / state conflict" codes Terraform's
// handleOperationError retries (SPEC.md 4.3), plus DCS.4017 ("job task is
// still running"), which reads like the same thing, and DCS.4957 ("not
// allowed when the task is in the current state", SPEC.md 18 [I]): a task
// that has not reached the state an operation needs yet.
var busyCodes = map[string]bool{
	"DCS.4026": true, "DCS.4049": true, "DCS.4096": true, "DCS.4097": true,
	"DCS.4111": true, "DCS.4113": true, "DCS.4114": true, "DCS.4115": true,
	"DCS.4116": true, "DCS.4117": true, "DCS.4118": true, "DCS.4120": true,
	"DCS.4121": true, "DCS.4975": true, "CBC.99003651": true, "DCS.4017": true,
	"DCS.4957": true,
}

// notFoundCodes: the instance does not exist (DCS.3022), the migration
// task is gone (DCS.4133, which Terraform reads so; SPEC.md 14, 18).
var notFoundCodes = map[string]bool{"DCS.3022": true, "DCS.4133": true}

// Codes with a helper of their own (SPEC.md 18). Both are terminal: the
// same call with the same input fails again.
const (
	codeWrongPassword = "DCS.4080" // Instance password verify failed.
	codeNotRestorable = "DCS.4087" // the backup record status is err when restore this instance
	codeNotSupported  = "DCS.4095" // the system is not support backup and restore.
)

var throttledCodes = map[string]bool{"APIG.0308": true, "APIGW.0308": true}

// unauthorizedCodes: APIG signature failures, APIGW.0303 clock skew, DCS
// token errors (401) and permission errors (403), SPEC.md 4.1/4.2.
var unauthorizedCodes = map[string]bool{
	"APIG.0301": true, "APIGW.0301": true, "APIGW.0303": true,
	"DCS.1001": true, "DCS.1002": true, "DCS.1003": true, "DCS.1004": true,
	"DCS.2003": true, "DCS.3002": true, "DCS.3003": true, "DCS.2007": true,
}

// legacyCodes maps old numeric codes (v1.0 error shape) that are not of the
// regular 111400xxx -> DCS.4xxx form (SPEC.md 4.1; [I]: 111404022 is "This
// DCS instance does not exist." in the OTC table, the text of DCS.3022).
var legacyCodes = map[string]string{"111404022": "DCS.3022"}

// NormalizeCode maps a legacy numeric code to its DCS.xxxx form
// (111400096 -> DCS.4096); other codes are returned unchanged.
func NormalizeCode(code string) string {
	if c, ok := legacyCodes[code]; ok {
		return c
	}
	if len(code) == 9 && strings.HasPrefix(code, "111400") && allDigits(code[6:]) {
		return "DCS.4" + code[6:]
	}
	return code
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Classify puts err into one Class. It is the only place that decides what
// is retryable (SPEC.md 4.3).
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var e *Error
	if errors.As(err, &e) && e.StatusCode != 0 {
		var de *DecodeError
		if errors.As(e.Err, &de) {
			return ClassTerminal
		}
		return classifyAnswer(e.StatusCode, NormalizeCode(e.Code))
	}
	return classifyFailure(err)
}

func classifyAnswer(status int, code string) Class {
	switch {
	case status == http.StatusTooManyRequests || throttledCodes[code]:
		return ClassThrottled
	case busyCodes[code]:
		return ClassBusy
	case unauthorizedCodes[code]:
		return ClassUnauthorized
	case notFoundCodes[code]:
		return ClassNotFound
	case code == codeNotSupported:
		return ClassUnsupported
	case status >= 500 || status == http.StatusRequestTimeout:
		return ClassTransient
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ClassUnauthorized
	default:
		return ClassTerminal
	}
}

// classifyFailure handles errors without an HTTP answer. The per-call
// timeout is transient; the caller's own cancellation or deadline is not
// the call's fault.
func classifyFailure(err error) Class {
	var de *DecodeError
	var ne net.Error
	switch {
	case errors.Is(err, ErrTimeout):
		return ClassTransient
	case errors.As(err, new(*YieldError)):
		// The caller asked to give its place up (WithYield): nothing
		// failed, it tries again later.
		return ClassCanceled
	case errors.Is(err, ErrRateLimited):
		return ClassThrottled
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return ClassCanceled
	case errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrTooManyPages) || errors.As(err, &de):
		return ClassTerminal
	case errors.As(err, &ne):
		return ClassTransient
	}
	var e *Error
	if errors.As(err, &e) {
		// A transport error that is not a net.Error (e.g. an unexpected
		// EOF while reading the body): the connection failed.
		return ClassTransient
	}
	return ClassTerminal
}

// RetryAfter returns the Retry-After the server sent with err, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// IsBackupGone reports whether a DeleteBackup error means the backup is
// already gone: 404, or 400 DCS.4031, which Terraform treats as "already
// deleted" (SPEC.md 2.3, 8). A 404 for an unknown route (APIG.0101,
// DCS.4001) is a wrong URL, not a missing backup, and does not count.
func IsBackupGone(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch {
	case e.StatusCode == http.StatusBadRequest && e.Code == "DCS.4031":
		return true
	case e.StatusCode == http.StatusNotFound:
		return e.Code != "APIG.0101" && e.Code != "DCS.4001"
	default:
		return false
	}
}

// IsWrongPassword reports whether err is DCS's "Instance password verify
// failed." (400 DCS.4080): the Redis password given for an import target
// is wrong or missing. Whether DCS answers a create so or lets the task
// fail instead is not documented (SPEC.md 14); a caller handles both.
func IsWrongPassword(err error) bool { return hasCode(err, codeWrongPassword) }

// IsBackupNotRestorable reports whether err is 400 DCS.4087: the backup a
// restore or an import reads is not a succeed backup (SPEC.md 13, 18).
func IsBackupNotRestorable(err error) bool { return hasCode(err, codeNotRestorable) }

func hasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode != 0 && NormalizeCode(e.Code) == code
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date
// relative to now. Values are capped at a day so a broken header cannot
// overflow a duration or park a controller for ever.
func parseRetryAfter(v string, now time.Time) time.Duration {
	const maxRetryAfter = 24 * time.Hour
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), maxRetryAfter)
}

const maxMessageLen = 512

// oneLine collapses whitespace runs (newlines included) into one space and
// shortens s, so that an HTML error page still fits in a condition message.
func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > limit {
		cut := limit
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
