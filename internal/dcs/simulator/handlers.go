package simulator

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// Handlers run under s.mu with the request already authenticated.

func (s *Simulator) instanceOf(rq apiRequest) (*instance, response) {
	inst, ok := s.instances[rq.route.instanceID]
	if !ok {
		return nil, errNoInstance()
	}
	return inst, response{}
}

// handleCreate is CopyInstance (SPEC.md 2.1): both body fields optional,
// backup_format aof|rdb (default rdb) in v2 only; v1.0 ignores it.
func (s *Simulator) handleCreate(rq apiRequest) response {
	var body struct {
		Remark       *string `json:"remark"`
		BackupFormat *string `json:"backup_format"`
	}
	if !emptyBody(rq.body) {
		if r := decodeBody(rq.body, &body); r.isError() {
			return r
		}
	}
	format := formatRDB
	if body.BackupFormat != nil && !rq.v1() {
		if *body.BackupFormat != formatRDB && *body.BackupFormat != "aof" {
			return invalidParam("backup_format must be aof or rdb")
		}
		format = *body.BackupFormat
	}
	var remark string
	if body.Remark != nil {
		remark = *body.Remark
	}
	if r := checkRemark(remark); r.isError() {
		return r
	}
	inst, r := s.instanceOf(rq)
	if r.isError() {
		return r
	}
	if inst.cacheMode == cacheModeSingle {
		return errUnsupported()
	}
	if r := s.checkIdle(inst, rq.now); r.isError() {
		return r
	}
	b := s.newBackup(inst, rq.now, remark, format, typeManual, rq.route.version)
	return response{status: http.StatusOK, body: wireBackupID{BackupID: b.id}}
}

// page filters recs (in creation order) by instance and time window,
// orders them newest first (the order a console shows; the real API does
// not document its order, SPEC.md 2.2, so clients must not rely on it) and
// renders the requested page. total counts every match.
func page[T, W any](rq apiRequest, p listParams, recs []T, of func(T) (string, time.Time), render func(T) W) (total int, out []W) {
	type match struct {
		rec     T
		created time.Time
		seq     int
	}
	var matches []match
	for i, r := range recs {
		inst, created := of(r)
		if inst == rq.route.instanceID && p.inWindow(created) {
			matches = append(matches, match{r, created, i})
		}
	}
	sort.SliceStable(matches, func(i, j int) bool {
		if !matches[i].created.Equal(matches[j].created) {
			return matches[i].created.After(matches[j].created)
		}
		return matches[i].seq > matches[j].seq
	})
	from, to := p.window(len(matches))
	out = make([]W, 0, to-from)
	for _, m := range matches[from:to] {
		out = append(out, render(m.rec))
	}
	return len(matches), out
}

// listAnswer checks the query and the instance and answers a list: no
// match is 204 with an empty body (SPEC.md 2.2).
func (s *Simulator) listAnswer(rq apiRequest, build func(p listParams) (int, any)) response {
	p, r := parseListParams(rq.query, rq.v1())
	if r.isError() {
		return r
	}
	if _, r := s.instanceOf(rq); r.isError() {
		return r
	}
	total, body := build(p)
	if total == 0 {
		return response{status: http.StatusNoContent}
	}
	return response{status: http.StatusOK, body: body}
}

// handleListBackups is ListBackupRecords (SPEC.md 2.2, 3).
func (s *Simulator) handleListBackups(rq apiRequest) response {
	return s.listAnswer(rq, func(p listParams) (int, any) {
		total, recs := page(rq, p, s.backups,
			func(b *backup) (string, time.Time) { return b.instanceID, b.created },
			func(b *backup) wireBackup { return b.wire(rq.now, rq.v1()) })
		return total, wireBackupList{TotalNum: total, Records: recs}
	})
}

// handleListRestores is ListRestoreRecords (SPEC.md 2.5).
func (s *Simulator) handleListRestores(rq apiRequest) response {
	return s.listAnswer(rq, func(p listParams) (int, any) {
		total, recs := page(rq, p, s.restores,
			func(r *restore) (string, time.Time) { return r.instanceID, r.created },
			func(r *restore) wireRestore { return r.wire(rq.now) })
		return total, wireRestoreList{TotalNum: total, Records: recs}
	})
}

// handleDelete is DeleteBackupFile (SPEC.md 2.3): the record stays listed
// as deleted. v2 answers 204 without a body, v1.0 200 {"message":""}.
// Unknown or already deleted backups answer 400 DCS.4031 (what Terraform
// treats as "already gone"). A backup that is still running answers 400
// DCS.4096, a busy code, so a client retries the delete later [I]; so does
// a backup a restore is reading from (DCS.4097).
func (s *Simulator) handleDelete(rq apiRequest) response {
	inst, r := s.instanceOf(rq)
	if r.isError() {
		return r
	}
	b := s.findBackup(inst.id, rq.route.backupID)
	if b == nil {
		return errNoBackup()
	}
	switch b.state(rq.now).status {
	case statusDeleted:
		return errNoBackup()
	case statusWaiting, statusBackuping:
		return errBackuping()
	}
	for _, rs := range s.restores {
		if rs.backupID == b.id && rs.runningAt(rq.now) {
			return errRestoring()
		}
	}
	for _, im := range s.imports {
		if im.backupID == b.id && im.occupiesAt(rq.now) {
			return errJobRunning() // [I] an import reads it
		}
	}
	b.deleted = rq.now
	if rq.v1() {
		return response{status: http.StatusOK, body: wireMessage{}}
	}
	return response{status: http.StatusNoContent}
}

// handleRestore is RestoreInstance (SPEC.md 2.4).
func (s *Simulator) handleRestore(rq apiRequest) response {
	if emptyBody(rq.body) {
		return dcsError(http.StatusBadRequest, codeEmptyBody, "Empty request body.")
	}
	var body struct {
		BackupID *string `json:"backup_id"`
		Remark   *string `json:"remark"`
	}
	if r := decodeBody(rq.body, &body); r.isError() {
		return r
	}
	if body.BackupID == nil || strings.TrimSpace(*body.BackupID) == "" {
		return invalidParam("backup_id is required")
	}
	inst, r := s.instanceOf(rq)
	if r.isError() {
		return r
	}
	var remark string
	if body.Remark != nil {
		remark = *body.Remark
	}
	rs, r := s.startRestore(inst, *body.BackupID, remark, rq.route.version, rq.now)
	if r.isError() {
		return r
	}
	return response{status: http.StatusOK, body: wireRestoreID{RestoreID: rs.id}}
}
