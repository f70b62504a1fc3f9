package simulator

import (
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"
)

// Error codes the simulator answers. Codes marked [I] are simulator
// choices where the documentation names no code (see the package doc).
const (
	codeBackuping      = "DCS.4096" // the instance is backuping.
	codeRestoring      = "DCS.4097" // the instance is restoring.
	codeNotRunning     = "DCS.4049" // The instance status is not running.
	codeUnsupported    = "DCS.4095" // [I] single-node instances (SPEC.md 4.1)
	codeNotRestorable  = "DCS.4087" // restore from a backup that is not succeed
	codeNoInstance     = "DCS.3022" // This DCS instance does not exist.
	codeNoBackup       = "DCS.4031" // [I] unknown backup id (Terraform's "already gone", SPEC.md 2.3)
	codeBadJSON        = "DCS.4005" // [I] 111400005 "not in JSON format" in the DCS.4xxx form
	codeEmptyBody      = "DCS.4004" // [I] 111400004 "Empty request body." in the DCS.4xxx form
	codeInvalidParam   = "DCS.4800" // [I] any other invalid parameter
	codeInternal       = "DCS.5000" // Internal service error.
	codeProjectToken   = "DCS.1004" // Project ID does not match the token.
	codeNoPermission   = "DCS.2003" // [I] project not accessible with these credentials
	codeSignature      = "APIG.0301"
	codeClockSkew      = "APIGW.0303" // [I] status 401 (SPEC.md 4.2)
	codeThrottled      = "APIG.0308"
	codeNoAPI          = "APIG.0101"
	codeGatewayBackend = "APIG.0201" // 502 "Backend unavailable." / 504 "Backend timeout."
	codeJobRunning     = "DCS.4017"  // [I] an import into the instance runs (SPEC.md 14, 18)
	codeWrongPassword  = "DCS.4080"  // Instance password verify failed.
	codeRemarkTooLong  = "DCS.4098"  // remark must be 0 to 128 characters
	codeTaskGone       = "DCS.4133"  // migration task gone (Terraform; not in the OTC table)
	codeTaskState      = "DCS.4957"  // [I] stop or delete of a task in the wrong state
)

// maxRemarkChars is the remark limit of backups and restores (SPEC.md 13).
// The error text says characters, the console bytes; the simulator counts
// characters [I].
const maxRemarkChars = 128

const msgSignature = "Incorrect IAM authentication information: verify aksk signature fail"

// dcsError is a DCS service error: {"error_code","error_msg","error_ext_msg":null}.
func dcsError(status int, code, msg string) response {
	return response{status: status, code: code, msg: msg}
}

// apigError is a gateway error: {"error_msg","error_code","request_id"}.
func apigError(status int, code, msg string) response {
	return response{status: status, code: code, msg: msg, apig: true}
}

func invalidParam(format string, args ...any) response {
	return dcsError(http.StatusBadRequest, codeInvalidParam, "Invalid request parameter: "+fmt.Sprintf(format, args...))
}

func errNoInstance() response {
	return dcsError(http.StatusNotFound, codeNoInstance, "This DCS instance does not exist.")
}

func errNoBackup() response {
	return dcsError(http.StatusBadRequest, codeNoBackup, "The backup record does not exist.")
}

func errBackuping() response {
	return dcsError(http.StatusBadRequest, codeBackuping, "the instance is backuping.")
}

func errRestoring() response {
	return dcsError(http.StatusBadRequest, codeRestoring, "the instance is restoring.")
}

func errNotRunning() response {
	return dcsError(http.StatusBadRequest, codeNotRunning, "The instance status is not running.")
}

func errUnsupported() response {
	return dcsError(http.StatusBadRequest, codeUnsupported, "the system is not support backup and restore.")
}

func errNotRestorable() response {
	return dcsError(http.StatusBadRequest, codeNotRestorable, "the backup record status is err when restore this instance")
}

func errJobRunning() response {
	return dcsError(http.StatusBadRequest, codeJobRunning, "This DCS instance job task is still running.")
}

func errWrongPassword() response {
	return dcsError(http.StatusBadRequest, codeWrongPassword, msgWrongPassword)
}

const msgWrongPassword = "Instance password verify failed."

func errTaskGone() response {
	return dcsError(http.StatusBadRequest, codeTaskGone, "The migration task does not exist.")
}

func errTaskState() response {
	return dcsError(http.StatusBadRequest, codeTaskState, "This operation is not allowed when the task is in the current state.")
}

// checkRemark answers DCS.4098 for a remark over 128 characters.
func checkRemark(remark string) response {
	if utf8.RuneCountInString(remark) > maxRemarkChars {
		return dcsError(http.StatusBadRequest, codeRemarkTooLong,
			"The value of the remark parameter must be 0 to 128 characters in length.")
	}
	return response{}
}

func errThrottled(limitPerMinute int, retryAfter time.Duration) response {
	r := apigError(http.StatusTooManyRequests, codeThrottled,
		fmt.Sprintf("The throttling threshold has been reached: policy user over ratelimit,limit:%d,time:1 minute", limitPerMinute))
	r.retryAfter = retryAfter
	return r
}

// APIError is an error answer of a simulator method called directly by a
// test (StartRestore, AddAutoBackup, ...), with the code the API would use.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("simulator: HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

func asError(r response) error {
	if !r.isError() {
		return nil
	}
	return &APIError{Status: r.status, Code: r.code, Message: r.msg}
}
