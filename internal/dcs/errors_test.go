package dcs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

func apiErr(status int, code string) error {
	return &Error{Operation: OpCreateBackup, StatusCode: status, Code: code, Message: "m"}
}

func TestClassify(t *testing.T) {
	connRefused := &Error{Operation: OpListBackups, Err: &url.Error{Op: "Get", URL: "http://x",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}}
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassNone},
		{"backuping", apiErr(400, "DCS.4096"), ClassBusy},
		{"restoring", apiErr(400, "DCS.4097"), ClassBusy},
		{"not running", apiErr(400, "DCS.4049"), ClassBusy},
		{"state", apiErr(400, "DCS.4026"), ClassBusy},
		{"restarting", apiErr(400, "DCS.4111"), ClassBusy},
		{"resizing", apiErr(400, "DCS.4113"), ClassBusy},
		{"change config", apiErr(400, "DCS.4114"), ClassBusy},
		{"change password", apiErr(400, "DCS.4115"), ClassBusy},
		{"upgrading", apiErr(400, "DCS.4116"), ClassBusy},
		{"rollback", apiErr(400, "DCS.4117"), ClassBusy},
		{"creating", apiErr(400, "DCS.4118"), ClassBusy},
		{"freezing", apiErr(400, "DCS.4120"), ClassBusy},
		{"reset password", apiErr(400, "DCS.4121"), ClassBusy},
		{"creating/restarting", apiErr(400, "DCS.4975"), ClassBusy},
		{"billing", apiErr(400, "CBC.99003651"), ClassBusy},
		{"job running", apiErr(400, "DCS.4017"), ClassBusy},
		{"legacy numeric busy", apiErr(400, "111400096"), ClassBusy},
		{"throttled", apiErr(429, "APIG.0308"), ClassThrottled},
		{"429 without code", apiErr(429, ""), ClassThrottled},
		{"APIG.0308 odd status", apiErr(403, "APIG.0308"), ClassThrottled},
		{"client limiter", &Error{Operation: OpListBackups, Err: fmt.Errorf("%w: x", ErrRateLimited)}, ClassThrottled},
		{"internal", apiErr(500, "DCS.5000"), ClassTransient},
		{"delete failed", apiErr(500, "DCS.4101"), ClassTransient},
		{"query failed", apiErr(500, "DCS.5078"), ClassTransient},
		{"bad gateway", apiErr(502, ""), ClassTransient},
		{"unavailable", apiErr(503, ""), ClassTransient},
		{"gateway timeout", apiErr(504, "APIG.0202"), ClassTransient},
		{"request timeout", apiErr(408, ""), ClassTransient},
		{"per-call timeout", &Error{Operation: OpListBackups, Err: fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)}, ClassTransient},
		{"connection refused", connRefused, ClassTransient},
		{"body read failure", &Error{Operation: OpListBackups, Err: errors.New("unexpected EOF")}, ClassTransient},
		{"signature", apiErr(401, "APIG.0301"), ClassUnauthorized},
		{"signature APIGW", apiErr(401, "APIGW.0301"), ClassUnauthorized},
		{"clock skew", apiErr(401, "APIGW.0303"), ClassUnauthorized},
		{"token", apiErr(401, "DCS.1001"), ClassUnauthorized},
		{"project mismatch", apiErr(401, "DCS.1004"), ClassUnauthorized},
		{"no permission", apiErr(403, "DCS.2003"), ClassUnauthorized},
		{"read only", apiErr(403, "DCS.3002"), ClassUnauthorized},
		{"policy denies", apiErr(403, "DCS.2007"), ClassUnauthorized},
		{"403 no code", apiErr(403, ""), ClassUnauthorized},
		{"instance unknown", apiErr(404, "DCS.3022"), ClassNotFound},
		{"migration task gone", apiErr(400, "DCS.4133"), ClassNotFound},
		{"task state", apiErr(400, "DCS.4957"), ClassBusy},
		{"wrong password", apiErr(400, "DCS.4080"), ClassTerminal},
		{"remark too long", apiErr(400, "DCS.4098"), ClassTerminal},
		{"instance unknown v1", apiErr(404, "111404022"), ClassNotFound},
		{"single node", apiErr(400, "DCS.4095"), ClassUnsupported},
		{"backup not succeed", apiErr(400, "DCS.4087"), ClassTerminal},
		{"bad instance id", apiErr(400, "DCS.4061"), ClassTerminal},
		{"quota", apiErr(400, "DCS.4039"), ClassTerminal},
		{"unknown backup", apiErr(400, "DCS.4031"), ClassTerminal},
		{"wrong route", apiErr(404, "APIG.0101"), ClassTerminal},
		{"bad json", apiErr(400, "DCS.4005"), ClassTerminal},
		{"decode error", &Error{Operation: OpListBackups, StatusCode: 200, Err: &DecodeError{Err: errors.New("x")}}, ClassTerminal},
		{"invalid argument", &Error{Operation: OpListBackups, Err: fmt.Errorf("%w: x", ErrInvalidArgument)}, ClassTerminal},
		{"too many pages", &Error{Operation: OpListBackups, Err: ErrTooManyPages}, ClassTerminal},
		{"caller cancelled", &Error{Operation: OpListBackups, Err: fmt.Errorf("%w (x)", context.Canceled)}, ClassCanceled},
		{"caller deadline", &Error{Operation: OpListBackups, Err: context.DeadlineExceeded}, ClassCanceled},
		{"wrapped", fmt.Errorf("reconcile: %w", apiErr(400, "DCS.4096")), ClassBusy},
		{"foreign error", errors.New("boom"), ClassTerminal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Fatalf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
			}
		})
	}
}

func TestClassString(t *testing.T) {
	want := map[Class]string{ClassNone: "None", ClassBusy: "Busy", ClassThrottled: "Throttled",
		ClassTransient: "Transient", ClassUnauthorized: "Unauthorized", ClassNotFound: "NotFound",
		ClassUnsupported: "Unsupported", ClassTerminal: "Terminal", ClassCanceled: "Canceled", Class(99): "Class(99)"}
	for c, s := range want {
		if c.String() != s {
			t.Errorf("%d: %q, want %q", int(c), c.String(), s)
		}
	}
	if !ClassBusy.Retryable() || !ClassThrottled.Retryable() || !ClassTransient.Retryable() ||
		ClassTerminal.Retryable() || ClassUnauthorized.Retryable() {
		t.Error("Retryable is wrong")
	}
}

func TestNormalizeCode(t *testing.T) {
	for in, want := range map[string]string{
		"111400096": "DCS.4096", "111400017": "DCS.4017", "111404022": "DCS.3022",
		"DCS.4096": "DCS.4096", "111400": "111400", "11140009x": "11140009x", "": "",
	} {
		if got := NormalizeCode(in); got != want {
			t.Errorf("NormalizeCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsBackupGone(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{apiErr(400, "DCS.4031"), true},
		{apiErr(404, ""), true},
		{apiErr(404, "DCS.3022"), true},
		{apiErr(404, "APIG.0101"), false},
		{apiErr(404, "DCS.4001"), false},
		{apiErr(400, "DCS.4096"), false},
		{apiErr(500, "DCS.4101"), false},
		{fmt.Errorf("wrapped: %w", apiErr(400, "DCS.4031")), true},
		{errors.New("x"), false},
	}
	for _, tc := range tests {
		if got := IsBackupGone(tc.err); got != tc.want {
			t.Errorf("IsBackupGone(%v) = %t, want %t", tc.err, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 7, 51, 41, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"99999999999999", 24 * time.Hour},
		{"Sun, 22 Nov 2026 07:51:51 GMT", 10 * time.Second},
		{"Sun, 22 Nov 2026 07:51:00 GMT", 0},
		{"soon", 0},
	}
	for _, tc := range tests {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if RetryAfter(&Error{RetryAfter: time.Second}) != time.Second || RetryAfter(errors.New("x")) != 0 {
		t.Error("RetryAfter helper")
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Operation: OpCreateBackup, StatusCode: 400, Code: "DCS.4096",
		Message: "the instance is backuping.", RequestID: "req-123", RetryAfter: 2 * time.Second}
	want := "dcs: create backup: HTTP 400 DCS.4096: the instance is backuping. (retry after 2s) (request id req-123)"
	if e.Error() != want {
		t.Fatalf("got  %q\nwant %q", e.Error(), want)
	}
	tr := &Error{Operation: OpListBackups, Err: errors.New("dial tcp:\nconnection refused")}
	if got := tr.Error(); got != "dcs: list backups: dial tcp: connection refused" {
		t.Fatalf("got %q", got)
	}
	long := &Error{Operation: OpListBackups, Err: errors.New(strings.Repeat("ä", 600))}
	if s := long.Error(); strings.Contains(s, "\n") || len(s) > 600 || !strings.HasSuffix(s, "...") {
		t.Fatalf("long error not shortened: %d bytes", len(s))
	}
}
