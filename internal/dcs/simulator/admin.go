package simulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// AdminHelp lists the admin endpoints; the binary prints it in --help.
const AdminHelp = `Admin API (no signature; bind the simulator to localhost):
  GET  /_sim/stats            request counts per operation, status, error code and outcome
  POST /_sim/stats/reset      zero the counters
  GET  /_sim/backups          every backup created (remark, origin, status, created_at, finished_at, deleted_at)
  GET  /_sim/restores         every restore
  GET  /_sim/instances        instances with their current status and cache mode
  POST /_sim/instances        {"instance_id":"i","status":"ERROR","cache_mode":"single","name":"n"}: add or update
  GET  /_sim/faults           the random fault knobs
  POST /_sim/faults           {"error_rate":0.1,"throttle_rate":0.05,"latency":"200ms","lost_response_rate":0,
                               "backup_fail_rate":0,"restore_fail_rate":0,"retry_after":"1s"}: replace them
  POST /_sim/fail-next        {"count":3,"operation":"create","status":500,"code":"DCS.5000","message":"...","retry_after":"2s"}
  POST /_sim/fail-backups     {"instance_id":"i","count":2}: the next backups end failed (empty id: any instance)
  POST /_sim/fail-restores    {"instance_id":"i","count":1}: the next restores end failed
  POST /_sim/restores         {"instance_id":"i","backup_id":"b","remark":"r"}: start a restore as from the console
  POST /_sim/auto-backups     {"instance_id":"i"}: add an automatic backup now
  POST /_sim/expire           {"instance_id":"i","backup_id":"b"}: mark a backup expired
`

type adminRequest struct {
	InstanceID string `json:"instance_id"`
	BackupID   string `json:"backup_id"`
	Remark     string `json:"remark"`
	Status     string `json:"status"`
	CacheMode  string `json:"cache_mode"`
	Name       string `json:"name"`
	Count      int    `json:"count"`
}

type failNextRequest struct {
	Count      int    `json:"count"`
	Operation  string `json:"operation"`
	Status     int    `json:"status"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	RetryAfter string `json:"retry_after"`
}

const queuedKey = "queued"

type adminHandler func(s *Simulator, r *http.Request, body []byte) response

var adminRoutes = map[string]adminHandler{
	"GET stats":          func(s *Simulator, _ *http.Request, _ []byte) response { return ok(s.Stats()) },
	"POST stats/reset":   func(s *Simulator, _ *http.Request, _ []byte) response { s.ResetStats(); return ok(s.Stats()) },
	"GET backups":        func(s *Simulator, _ *http.Request, _ []byte) response { return ok(s.Backups()) },
	"GET restores":       func(s *Simulator, _ *http.Request, _ []byte) response { return ok(s.Restores()) },
	"GET instances":      func(s *Simulator, _ *http.Request, _ []byte) response { return ok(s.Instances()) },
	"GET faults":         func(s *Simulator, _ *http.Request, _ []byte) response { return ok(s.Faults()) },
	"POST faults":        adminSetFaults,
	"POST instances":     adminInstances,
	"POST fail-next":     adminFailNext,
	"POST fail-backups":  adminFailBackups,
	"POST fail-restores": adminFailRestores,
	"POST restores":      adminRestore,
	"POST auto-backups":  adminAutoBackup,
	"POST expire":        adminExpire,
}

func (s *Simulator) serveAdmin(r *http.Request) response {
	h, found := adminRoutes[r.Method+" "+strings.TrimPrefix(r.URL.Path, AdminPrefix)]
	if !found {
		return apigError(http.StatusNotFound, codeNoAPI, "Unknown admin endpoint; see the package documentation.")
	}
	body, err := readBody(r)
	if err != nil {
		return apigError(http.StatusRequestEntityTooLarge, codeGatewayBackend, "Request entity too large.")
	}
	return h(s, r, body)
}

func ok(body any) response { return response{status: http.StatusOK, body: body} }

func adminBadRequest(err error) response {
	return dcsError(http.StatusBadRequest, codeInvalidParam, "Invalid admin request: "+err.Error())
}

func decodeAdmin(body []byte) (adminRequest, error) {
	var req adminRequest
	if emptyBody(body) {
		return req, nil
	}
	err := json.Unmarshal(body, &req)
	return req, err
}

// fromError maps a control method's error to an answer.
func fromError(err error, success any) response {
	var ae *APIError
	if errors.As(err, &ae) {
		return dcsError(ae.Status, ae.Code, ae.Message)
	}
	if err != nil {
		return adminBadRequest(err)
	}
	return ok(success)
}

func adminSetFaults(s *Simulator, _ *http.Request, body []byte) response {
	var f Faults
	if err := json.Unmarshal(body, &f); err != nil {
		return adminBadRequest(err)
	}
	s.SetFaults(f)
	return ok(s.Faults())
}

func adminInstances(s *Simulator, _ *http.Request, body []byte) response {
	req, err := decodeAdmin(body)
	if err == nil && req.InstanceID == "" {
		err = errors.New("instance_id is required")
	}
	if err != nil {
		return adminBadRequest(err)
	}
	s.AddInstance(Instance{ID: req.InstanceID, Name: req.Name, Status: req.Status, CacheMode: req.CacheMode})
	return ok(s.Instances())
}

func adminFailNext(s *Simulator, _ *http.Request, body []byte) response {
	var req failNextRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return adminBadRequest(err)
	}
	retry, err := parseOptionalDuration(req.RetryAfter)
	if err != nil {
		return adminBadRequest(err)
	}
	s.FailNextRequests(req.Count, Fault{Operation: Operation(req.Operation), Status: req.Status,
		Code: req.Code, Message: req.Message, RetryAfter: retry})
	return ok(map[string]int{queuedKey: req.Count})
}

func adminFailBackups(s *Simulator, _ *http.Request, body []byte) response {
	req, err := decodeAdmin(body)
	if err != nil {
		return adminBadRequest(err)
	}
	s.FailNextBackups(req.InstanceID, req.Count)
	return ok(map[string]int{queuedKey: req.Count})
}

func adminFailRestores(s *Simulator, _ *http.Request, body []byte) response {
	req, err := decodeAdmin(body)
	if err != nil {
		return adminBadRequest(err)
	}
	s.FailNextRestores(req.InstanceID, req.Count)
	return ok(map[string]int{queuedKey: req.Count})
}

func adminRestore(s *Simulator, _ *http.Request, body []byte) response {
	req, err := decodeAdmin(body)
	if err != nil {
		return adminBadRequest(err)
	}
	id, err := s.StartRestore(req.InstanceID, req.BackupID, req.Remark)
	return fromError(err, wireRestoreID{RestoreID: id})
}

func adminAutoBackup(s *Simulator, _ *http.Request, body []byte) response {
	req, err := decodeAdmin(body)
	if err != nil {
		return adminBadRequest(err)
	}
	id, err := s.AddAutoBackup(req.InstanceID)
	return fromError(err, wireBackupID{BackupID: id})
}

func adminExpire(s *Simulator, _ *http.Request, body []byte) response {
	req, err := decodeAdmin(body)
	if err != nil {
		return adminBadRequest(err)
	}
	err = s.ExpireBackup(req.InstanceID, req.BackupID)
	return fromError(err, map[string]string{"expired_at": s.clock.Now().UTC().Format(time.RFC3339)})
}
