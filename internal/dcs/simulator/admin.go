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
  GET  /_sim/stats            request counts per operation, status, error code and outcome; evictions,
                              download bytes
  POST /_sim/stats/reset      zero the counters
  GET  /_sim/backups          every backup created (remark, origin, status, created_at, finished_at, deleted_at,
                              evicted)
  GET  /_sim/backup-files?instance_id=i&backup_id=b
                              the files a backup's links serve (bucket_name, key, file_name, size)
  GET  /_sim/restores         every restore
  GET  /_sim/imports          every backup import task (never the password)
  GET  /_sim/instances        instances with their current status, cache mode, shards, tags, backup size
  POST /_sim/instances        {"instance_id":"i","status":"ERROR","cache_mode":"cluster","name":"n","shard_count":6,
                               "backup_size":1073741824,"tags":{"env":"prod"},"password":"..."}: add or update
                               (tags replace the old ones; "password":"" clears it)
  POST /_sim/instances/remove {"instance_id":"i"}: delete an instance and its backups
  POST /_sim/tags             {"instance_id":"i","tags":{"env":"prod"}}: add or overwrite tags
  POST /_sim/untag            {"instance_id":"i","keys":["env"]}: remove tags
  GET  /_sim/faults           the random fault knobs
  POST /_sim/faults           {"error_rate":0.1,"throttle_rate":0.05,"latency":"200ms","lost_response_rate":0,
                               "backup_fail_rate":0,"restore_fail_rate":0,"import_fail_rate":0,"retry_after":"1s"}:
                               replace them
  POST /_sim/fail-next        {"count":3,"operation":"create","status":500,"code":"DCS.5000","message":"...","retry_after":"2s"}
                               (operation "download" fails download links instead, with an S3-style XML body)
  POST /_sim/fail-backups     {"instance_id":"i","count":2}: the next backups end failed (empty id: any instance)
  POST /_sim/fail-restores    {"instance_id":"i","count":1}: the next restores end failed
  POST /_sim/fail-imports     {"instance_id":"i","count":1}: the next imports into i end FAILED
  POST /_sim/restores         {"instance_id":"i","backup_id":"b","remark":"r"}: start a restore as from the console
  POST /_sim/auto-backups     {"instance_id":"i"}: add an automatic backup now
  POST /_sim/expire           {"instance_id":"i","backup_id":"b"}: mark a backup expired
  POST /_sim/links/expire     make every download link issued so far expire (403 "Request has expired")
`

type adminRequest struct {
	InstanceID string            `json:"instance_id"`
	BackupID   string            `json:"backup_id"`
	Remark     string            `json:"remark"`
	Status     string            `json:"status"`
	CacheMode  string            `json:"cache_mode"`
	Name       string            `json:"name"`
	Count      int               `json:"count"`
	ShardCount int               `json:"shard_count"`
	BackupSize int64             `json:"backup_size"`
	Tags       map[string]string `json:"tags"`
	Keys       []string          `json:"keys"`
	Password   *string           `json:"password"`
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
	"GET stats":             func(s *Simulator, _ *http.Request, _ []byte) response { return ok(s.Stats()) },
	"POST stats/reset":      func(s *Simulator, _ *http.Request, _ []byte) response { s.ResetStats(); return ok(s.Stats()) },
	"GET backups":           func(s *Simulator, _ *http.Request, _ []byte) response { return ok(s.Backups()) },
	"GET restores":          func(s *Simulator, _ *http.Request, _ []byte) response { return ok(s.Restores()) },
	"GET instances":         func(s *Simulator, _ *http.Request, _ []byte) response { return ok(s.Instances()) },
	"GET imports":           func(s *Simulator, _ *http.Request, _ []byte) response { return ok(s.Imports()) },
	"GET backup-files":      adminBackupFiles,
	"POST instances/remove": adminRemoveInstance,
	"POST tags":             adminTag,
	"POST untag":            adminUntag,
	"POST fail-imports":     adminFailImports,
	"POST links/expire": func(s *Simulator, _ *http.Request, _ []byte) response {
		s.ExpireLinks()
		return ok(map[string]bool{"expired": true})
	},
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
	if err == nil && (req.ShardCount < 0 || req.ShardCount > MaxShardCount || req.BackupSize < 0) {
		err = errors.New("shard_count must be 0 to 64 and backup_size >= 0")
	}
	if err != nil {
		return adminBadRequest(err)
	}
	s.AddInstance(Instance{ID: req.InstanceID, Name: req.Name, Status: req.Status, CacheMode: req.CacheMode,
		ShardCount: req.ShardCount, BackupSize: req.BackupSize, Tags: req.Tags})
	if req.Password != nil {
		if err := s.SetInstancePassword(req.InstanceID, *req.Password); err != nil {
			return fromError(err, nil)
		}
	}
	return ok(s.Instances())
}

func adminRemoveInstance(s *Simulator, _ *http.Request, body []byte) response {
	req, err := decodeAdmin(body)
	if err != nil {
		return adminBadRequest(err)
	}
	return fromError(s.RemoveInstance(req.InstanceID), map[string]string{"removed": req.InstanceID})
}

func adminTag(s *Simulator, _ *http.Request, body []byte) response {
	req, err := decodeAdmin(body)
	if err != nil {
		return adminBadRequest(err)
	}
	return fromError(s.TagInstance(req.InstanceID, req.Tags), req.Tags)
}

func adminUntag(s *Simulator, _ *http.Request, body []byte) response {
	req, err := decodeAdmin(body)
	if err != nil {
		return adminBadRequest(err)
	}
	return fromError(s.UntagInstance(req.InstanceID, req.Keys...), req.Keys)
}

func adminFailImports(s *Simulator, _ *http.Request, body []byte) response {
	req, err := decodeAdmin(body)
	if err != nil {
		return adminBadRequest(err)
	}
	s.FailNextImports(req.InstanceID, req.Count)
	return ok(map[string]int{queuedKey: req.Count})
}

func adminBackupFiles(s *Simulator, r *http.Request, _ []byte) response {
	q := r.URL.Query()
	files, err := s.BackupFiles(q.Get("instance_id"), q.Get("backup_id"))
	return fromError(err, files)
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
