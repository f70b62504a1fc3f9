package simulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Faults are the random fault knobs. Rates are fractions of requests in
// [0, 1]. Faults hit requests that passed the signature check, like the
// errors of a real backend behind the gateway.
type Faults struct {
	// ErrorRate answers 500 DCS.5000, 502 or 504 (gateway, APIG.0201).
	ErrorRate float64
	// ThrottleRate answers 429 APIG.0308 with Retry-After.
	ThrottleRate float64
	// Latency delays every API request by a random time up to this (real
	// time, to exercise client timeouts).
	Latency time.Duration
	// LostResponseRate performs a create, delete or restore (or an import
	// create, stop or delete) and then answers 504 anyway: the request
	// worked but the client cannot know. This is what makes the
	// non-idempotent creates dangerous (DESIGN.md).
	LostResponseRate float64
	// BackupFailRate and RestoreFailRate make new backups and restores end
	// failed (dcs.08.0002 / dcs.08.0007); ImportFailRate makes import
	// tasks end FAILED.
	BackupFailRate  float64
	RestoreFailRate float64
	ImportFailRate  float64
	// RetryAfter is sent with injected throttling answers; default 1s.
	RetryAfter time.Duration
}

func (f Faults) retryAfter() time.Duration {
	if f.RetryAfter > 0 {
		return f.RetryAfter
	}
	return time.Second
}

// faultsJSON is Faults with durations as strings ("250ms") for the admin API.
type faultsJSON struct {
	ErrorRate        float64 `json:"error_rate"`
	ThrottleRate     float64 `json:"throttle_rate"`
	Latency          string  `json:"latency"`
	LostResponseRate float64 `json:"lost_response_rate"`
	BackupFailRate   float64 `json:"backup_fail_rate"`
	RestoreFailRate  float64 `json:"restore_fail_rate"`
	ImportFailRate   float64 `json:"import_fail_rate"`
	RetryAfter       string  `json:"retry_after"`
}

// MarshalJSON writes durations as strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		ErrorRate: f.ErrorRate, ThrottleRate: f.ThrottleRate, Latency: f.Latency.String(),
		LostResponseRate: f.LostResponseRate, BackupFailRate: f.BackupFailRate,
		RestoreFailRate: f.RestoreFailRate, ImportFailRate: f.ImportFailRate, RetryAfter: f.RetryAfter.String(),
	})
}

// UnmarshalJSON reads durations as strings ("250ms"); empty means 0.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	latency, err := parseOptionalDuration(j.Latency)
	if err != nil {
		return err
	}
	retry, err := parseOptionalDuration(j.RetryAfter)
	if err != nil {
		return err
	}
	*f = Faults{ErrorRate: j.ErrorRate, ThrottleRate: j.ThrottleRate, Latency: latency,
		LostResponseRate: j.LostResponseRate, BackupFailRate: j.BackupFailRate,
		RestoreFailRate: j.RestoreFailRate, ImportFailRate: j.ImportFailRate, RetryAfter: retry}
	return nil
}

func parseOptionalDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

// Fault is one injected answer for FailNextRequests.
type Fault struct {
	// Operation limits the fault to one operation; empty means any API
	// operation. OpDownload faults hit download links only (with an
	// S3-style XML body; DCS.5000 becomes InternalError), and only they do.
	Operation Operation
	// Status defaults to 500, as does any status outside 300..599.
	Status int
	// Code defaults to DCS.5000 (APIG.0308 for 429). Codes starting with
	// APIG get the gateway's body shape, with request_id.
	Code string
	// Message defaults to a message matching the code.
	Message string
	// RetryAfter is sent as Retry-After when set.
	RetryAfter time.Duration
}

func (f Fault) response() response {
	status, code, msg := f.Status, f.Code, f.Message
	if status < 300 || status > 599 { // not an error status (or invalid): the default
		status = http.StatusInternalServerError
	}
	if code == "" {
		code = codeInternal
		if status == http.StatusTooManyRequests {
			code = codeThrottled
		}
	}
	if msg == "" {
		msg = defaultMessage(code)
	}
	r := dcsError(status, code, msg)
	r.apig = strings.HasPrefix(code, "APIG")
	r.retryAfter = f.RetryAfter
	return r
}

func defaultMessage(code string) string {
	switch code {
	case codeThrottled:
		return "The throttling threshold has been reached: policy user over ratelimit,limit:60,time:1 minute"
	case codeBackuping:
		return "the instance is backuping."
	case codeRestoring:
		return "the instance is restoring."
	case codeInternal:
		return "Internal service error."
	default:
		return "Injected fault."
	}
}

type pendingFault struct {
	remaining int
	fault     Fault
}

// injectFault answers the first matching queued fault, else rolls the
// random error rate. Callers hold s.mu.
func (s *Simulator) injectFault(op Operation) (response, bool) {
	for i, p := range s.failNext {
		if p.fault.Operation != "" && p.fault.Operation != op {
			continue
		}
		p.remaining--
		if p.remaining <= 0 {
			s.failNext = append(s.failNext[:i], s.failNext[i+1:]...)
		}
		return p.fault.response(), true
	}
	if s.faults.ErrorRate > 0 && s.rng.Float64() < s.faults.ErrorRate {
		return s.randomServerError(), true
	}
	return response{}, false
}

func (s *Simulator) randomServerError() response {
	switch s.rng.IntN(3) {
	case 0:
		return dcsError(http.StatusInternalServerError, codeInternal, "Internal service error.")
	case 1:
		return apigError(http.StatusBadGateway, codeGatewayBackend, "Backend unavailable.")
	default:
		return apigError(http.StatusGatewayTimeout, codeGatewayBackend, "Backend timeout.")
	}
}

// mutatingOps are the operations whose answer a lost-response fault
// drops after the change is made: the backup and restore creates, the
// import create (a task exists, the client does not know its id) and the
// other writes.
var mutatingOps = map[Operation]bool{
	OpCreate: true, OpDelete: true, OpRestore: true,
	OpImportCreate: true, OpImportStop: true, OpImportDelete: true,
}

// maybeLoseResponse replaces a successful mutating answer by a gateway
// timeout after the fact (Faults.LostResponseRate).
func (s *Simulator) maybeLoseResponse(op Operation, resp response) response {
	mutating := mutatingOps[op]
	if !mutating || resp.isError() || s.faults.LostResponseRate <= 0 || s.rng.Float64() >= s.faults.LostResponseRate {
		return resp
	}
	return apigError(http.StatusGatewayTimeout, codeGatewayBackend, "Backend timeout.")
}

// SetFaults replaces the random fault knobs.
func (s *Simulator) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Faults returns the random fault knobs.
func (s *Simulator) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// FailNextRequests answers the next n API requests that match f.Operation
// (after the signature check) with f instead of running them.
func (s *Simulator) FailNextRequests(n int, f Fault) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, &pendingFault{remaining: n, fault: f})
}

// FailNextBackups makes the next n backups of instanceID (any instance if
// empty) end failed with dcs.08.0002.
func (s *Simulator) FailNextBackups(instanceID string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failBackups[instanceID] += n
}

// FailNextImports makes the next n import tasks into instanceID (any
// instance if empty) end FAILED.
func (s *Simulator) FailNextImports(instanceID string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failImports[instanceID] += n
}

// FailNextRestores makes the next n restores of instanceID (any instance
// if empty) end failed with dcs.08.0007.
func (s *Simulator) FailNextRestores(instanceID string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRestores[instanceID] += n
}
