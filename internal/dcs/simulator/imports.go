package simulator

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Backup import (migration) tasks, SPEC.md 14. A task imports a backup
// record or files of an OBS bucket into a target instance. It shows
// MIGRATING for Options.ImportDuration, then SUCCESS or FAILED; a stop
// makes it TERMINATING for a tenth of the duration, then TERMINATED. Like
// every lifecycle here the state is derived from the clock when read.

// Migration task status values (SPEC.md 14).
const (
	taskMigrating   = "MIGRATING"
	taskSuccess     = "SUCCESS"
	taskFailed      = "FAILED"
	taskTerminating = "TERMINATING"
	taskTerminated  = "TERMINATED"

	sourceBackup = "backup_record"
	sourceOBS    = "self_build_obs"

	resumeAuto        = typeAuto
	migrationImport   = "backupfile_import"
	methodFullAmount  = "full_amount_migration"
	msgImportFailed   = "Failed to import the backup data."
	msgImportFileGone = "Failed to download the backup file "
)

// taskNamePattern is the console's rule for task names, "starts with a
// letter, 4-64 letters, digits, - and _" (UMN); the API's rule is not
// stated (SPEC.md 14), the simulator applies the console's [I].
var taskNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{3,63}$`)

// importableSuffixes are the importable file types (SPEC.md 14, UMN).
var importableSuffixes = []string{".rdb", ".aof", ".zip", ".tar.gz"}

type importFile struct {
	Name     string `json:"file_name"`
	Size     string `json:"size,omitempty"`
	UpdateAt string `json:"update_at,omitempty"`
}

type importTask struct {
	lifecycle
	id          string
	name        string
	description string
	targetID    string
	targetName  string
	source      string
	backupID    string
	sourceID    string // instance of the imported backup
	bucket      string
	files       []importFile
	origin      string
	fail        bool
	failMsg     string
	stopped     time.Time
	deleted     time.Time
}

// stopEnd is when a stopped task reaches TERMINATED.
func (t *importTask) stopEnd() time.Time { return t.stopped.Add(t.dur / 10) }

// occupiesAt reports whether the task runs on its target at t: from its
// creation until it finishes or, once stopped, until it is TERMINATED.
func (t *importTask) occupiesAt(at time.Time) bool {
	if !t.stopped.IsZero() && !at.Before(t.stopEnd()) {
		return false
	}
	return t.runningAt(at)
}

// state returns the status and, for a failed task, its error message.
func (t *importTask) state(now time.Time) (status, errMsg string, finished time.Time) {
	switch {
	case !t.stopped.IsZero() && !now.Before(t.stopEnd()):
		return taskTerminated, "", t.stopEnd()
	case !t.stopped.IsZero() && !now.Before(t.stopped):
		return taskTerminating, "", time.Time{}
	case now.Before(t.doneAt()):
		return taskMigrating, "", time.Time{}
	case t.fail:
		return taskFailed, t.failMsg, t.doneAt()
	default:
		return taskSuccess, "", t.doneAt()
	}
}

func (t *importTask) finishedAt(now time.Time) bool {
	status, _, _ := t.state(now)
	return status == taskSuccess || status == taskFailed || status == taskTerminated
}

// importBody is the create body (SPEC.md 14). backup_id is read where the
// create table puts it (backup_files.backup_record.backup_id) and where
// the show table does (backup_files.backup_id).
type importBody struct {
	TaskName        *string `json:"task_name"`
	Description     *string `json:"description"`
	MigrationType   *string `json:"migration_type"`
	MigrationMethod *string `json:"migration_method"`
	BackupFiles     *struct {
		FileSource   string       `json:"file_source"`
		BucketName   string       `json:"bucket_name"`
		Files        []importFile `json:"files"`
		BackupID     string       `json:"backup_id"`
		BackupRecord *struct {
			BackupID string `json:"backup_id"`
		} `json:"backup_record"`
	} `json:"backup_files"`
	TargetInstance *struct {
		ID       string  `json:"id"`
		Name     string  `json:"name"`
		Password *string `json:"password"`
	} `json:"target_instance"`
}

// validate checks the body's shape; every failure is 400 DCS.4800 [I].
func (b *importBody) validate() response {
	switch {
	case b.TaskName == nil || !taskNamePattern.MatchString(*b.TaskName):
		return invalidParam("task_name must start with a letter and have 4 to 64 letters, digits, hyphens or underscores")
	case b.MigrationType == nil || *b.MigrationType != migrationImport:
		return invalidParam("migration_type must be backupfile_import")
	case b.MigrationMethod == nil || *b.MigrationMethod != methodFullAmount:
		// incremental_migration is a documented value, but not for a
		// backup file, which is a full copy [I].
		return invalidParam("migration_method must be full_amount_migration for a backup import")
	case b.BackupFiles == nil:
		return invalidParam("backup_files is required for backupfile_import")
	case b.TargetInstance == nil || b.TargetInstance.ID == "":
		return invalidParam("target_instance.id is required")
	}
	switch b.source() {
	case sourceBackup:
		if b.backupID() == "" {
			return invalidParam("backup_files.backup_record.backup_id is required")
		}
	case sourceOBS:
		return validateFiles(b.BackupFiles.BucketName, b.BackupFiles.Files)
	default:
		return invalidParam("backup_files.file_source must be backup_record or self_build_obs")
	}
	return response{}
}

// source is file_source, or, where it is left out (the OTC table marks it
// optional), what the other fields say [I].
func (b *importBody) source() string {
	f := b.BackupFiles
	switch {
	case f.FileSource != "":
		return f.FileSource
	case f.BucketName != "":
		return sourceOBS
	case b.backupID() != "":
		return sourceBackup
	default:
		return ""
	}
}

func (b *importBody) backupID() string {
	if r := b.BackupFiles.BackupRecord; r != nil && r.BackupID != "" {
		return r.BackupID
	}
	return b.BackupFiles.BackupID
}

// validateFiles checks an OBS source: a bucket and at least one file, each
// an importable type with a numeric size if it has one. Whether a cluster
// target needs the files of all shards ([I], SPEC.md 14) is not checked.
func validateFiles(bucket string, files []importFile) response {
	if bucket == "" || len(files) == 0 {
		return invalidParam("bucket_name and files are required for self_build_obs")
	}
	for _, f := range files {
		if !importable(f.Name) {
			return invalidParam("file %s is not an .rdb, .aof, .zip or .tar.gz file", f.Name)
		}
		if _, err := strconv.ParseUint(f.Size, 10, 63); f.Size != "" && err != nil {
			return invalidParam("size of %s must be a number of bytes", f.Name)
		}
	}
	return response{}
}

func importable(name string) bool {
	lower := strings.ToLower(name)
	for _, suffix := range importableSuffixes {
		if strings.HasSuffix(lower, suffix) && len(lower) > len(suffix) {
			return true
		}
	}
	return false
}

// handleImportCreate is CreateMigrationTask for a backup import (SPEC.md
// 14). Checks in order: body (DCS.4004, DCS.4005, DCS.4800), target
// (404 DCS.3022), source backup (DCS.4031 unknown, DCS.4087 not succeed),
// target idle and RUNNING (DCS.4096, DCS.4097, DCS.4017, DCS.4049), then
// the password (DCS.4080 with PasswordCheckAtCreate). The answer is
// {"id","name","status":"MIGRATING","error":""} with the target
// instance's name as name, as in the documented example.
func (s *Simulator) handleImportCreate(rq apiRequest) response {
	if emptyBody(rq.body) {
		return dcsError(http.StatusBadRequest, codeEmptyBody, "Empty request body.")
	}
	var body importBody
	if r := decodeBody(rq.body, &body); r.isError() {
		return r
	}
	if r := body.validate(); r.isError() {
		return r
	}
	target, ok := s.instances[body.TargetInstance.ID]
	if !ok {
		return errNoInstance()
	}
	t := &importTask{lifecycle: lifecycle{created: rq.now, dur: s.importDur}, id: s.newTaskID(),
		name: *body.TaskName, targetID: target.id, targetName: target.name, source: body.source(), origin: "api"}
	if body.Description != nil {
		t.description = *body.Description
	}
	if r := s.resolveSource(t, &body, rq.now); r.isError() {
		return r
	}
	if r := s.checkIdle(target, rq.now); r.isError() {
		return r
	}
	var sent string
	if body.TargetInstance.Password != nil {
		sent = *body.TargetInstance.Password
	}
	// A target without a password ignores one sent anyway [I].
	if target.password != "" && sent != target.password {
		if s.pwCheck == PasswordCheckAtCreate {
			return errWrongPassword()
		}
		t.fail, t.failMsg = true, msgWrongPassword
	}
	if s.takeFailure(s.failImports, target.id, s.faults.ImportFailRate) && !t.fail {
		t.fail, t.failMsg = true, msgImportFailed
	}
	s.imports = append(s.imports, t)
	s.checkFilesLater(rq, t)
	return response{status: http.StatusOK, body: wireImportCreated{ID: t.id, Name: target.name, Status: taskMigrating}}
}

// resolveSource fills in the task's source: a backup record must exist
// (DCS.4031) and be succeed (DCS.4087, [I] for imports, SPEC.md 18); an
// OBS source was validated with the body.
func (s *Simulator) resolveSource(t *importTask, body *importBody, now time.Time) response {
	if t.source != sourceBackup {
		t.bucket, t.files = body.BackupFiles.BucketName, body.BackupFiles.Files
		return response{}
	}
	b := s.findBackupAnywhere(body.backupID())
	if b == nil {
		return errNoBackup()
	}
	if b.state(now).status != statusSucceed {
		return errNotRestorable()
	}
	t.backupID, t.sourceID = b.id, b.instanceID
	return response{}
}

// checkFilesLater asks Options.ImportFileCheck about the task's files,
// outside the lock, before the answer goes out; a missing file makes the
// task end FAILED.
func (s *Simulator) checkFilesLater(rq apiRequest, t *importTask) {
	if s.fileCheck == nil || t.source != sourceOBS || rq.after == nil {
		return
	}
	check, bucket, files := s.fileCheck, t.bucket, slices.Clone(t.files)
	*rq.after = append(*rq.after, func() {
		for _, f := range files {
			if err := check(bucket, f.Name); err != nil {
				s.mu.Lock()
				if !t.fail {
					t.fail, t.failMsg = true, msgImportFileGone+f.Name+"."
				}
				s.mu.Unlock()
				return
			}
		}
	})
}

// newTaskID is 32 hex characters, like the documented task ids.
func (s *Simulator) newTaskID() string { return strings.ReplaceAll(s.newUUID(), "-", "") }

// findBackupAnywhere finds a backup of any instance: a backup record
// source may be any instance of the project (SPEC.md 14).
func (s *Simulator) findBackupAnywhere(id string) *backup {
	for _, b := range s.backups {
		if b.id == id {
			return b
		}
	}
	return nil
}

// findTask finds a task that is not deleted.
func (s *Simulator) findTask(id string, now time.Time) *importTask {
	for _, t := range s.imports {
		if t.id == id && (t.deleted.IsZero() || now.Before(t.deleted)) {
			return t
		}
	}
	return nil
}

// handleImportShow is ShowMigrationTask: 400 DCS.4133 for a task that does
// not exist or was deleted (what Terraform reads as "task gone").
func (s *Simulator) handleImportShow(rq apiRequest) response {
	t := s.findTask(rq.route.taskID, rq.now)
	if t == nil {
		return errTaskGone()
	}
	return response{status: http.StatusOK, body: s.showBody(t, rq.now)}
}

// handleImportStop is StopMigrationTask: a MIGRATING task becomes
// TERMINATING (the answer is the show body), others answer DCS.4957 [I].
func (s *Simulator) handleImportStop(rq apiRequest) response {
	t := s.findTask(rq.route.taskID, rq.now)
	if t == nil {
		return errTaskGone()
	}
	if status, _, _ := t.state(rq.now); status != taskMigrating {
		return errTaskState()
	}
	t.stopped = rq.now
	return response{status: http.StatusOK, body: s.showBody(t, rq.now)}
}

// handleImportDelete is DeleteMigrationTask: {"task_id_list": [...]},
// answered with the same list. Every task must exist (else DCS.4133) and
// be finished (else DCS.4957 [I]); then all are deleted.
func (s *Simulator) handleImportDelete(rq apiRequest) response {
	if emptyBody(rq.body) {
		return dcsError(http.StatusBadRequest, codeEmptyBody, "Empty request body.")
	}
	var body struct {
		TaskIDList []string `json:"task_id_list"`
	}
	if r := decodeBody(rq.body, &body); r.isError() {
		return r
	}
	if len(body.TaskIDList) == 0 {
		return invalidParam("task_id_list is required")
	}
	tasks := make([]*importTask, 0, len(body.TaskIDList))
	for _, id := range body.TaskIDList {
		t := s.findTask(id, rq.now)
		if t == nil {
			return errTaskGone()
		}
		if !t.finishedAt(rq.now) {
			return errTaskState()
		}
		tasks = append(tasks, t)
	}
	for _, t := range tasks {
		t.deleted = rq.now
	}
	return response{status: http.StatusOK, body: wireTaskIDList{TaskIDList: body.TaskIDList}}
}

// handleImportList is ListMigrationTasks: name is a substring match [I],
// offset >= 0 and limit 1..1000 (default 10) like the other lists [I],
// newest first; count is the number of matches. No match is 200 with an
// empty list. Deleted tasks are not listed.
func (s *Simulator) handleImportList(rq apiRequest) response {
	var r response
	p := listParams{}
	if p.offset, r = intParam(rq.query, "offset", 0, 0, 1<<30); r.isError() {
		return r
	}
	if p.limit, r = intParam(rq.query, "limit", defaultLimit, 1, maxLimit); r.isError() {
		return r
	}
	name := rq.query.Get("name")
	var matches []wireTaskItem
	for i := len(s.imports) - 1; i >= 0; i-- {
		t := s.imports[i]
		if (t.deleted.IsZero() || rq.now.Before(t.deleted)) && strings.Contains(t.name, name) {
			matches = append(matches, s.listItem(t, rq.now))
		}
	}
	from, to := p.window(len(matches))
	return response{status: http.StatusOK, body: wireTaskList{Count: len(matches),
		Tasks: append([]wireTaskItem{}, matches[from:to]...)}}
}

// taskTimeLayout is the show body's time format, "2019/10/22 14:44:30"
// without a zone (SPEC.md 14); the simulator writes UTC [I].
const taskTimeLayout = "2006/01/02 15:04:05"

func taskTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(taskTimeLayout)
}

// showBody is the show answer with the documented fields and quirks: the
// port as a string and the target's password echoed (SPEC.md 14), so that
// clients prove they drop it. The backup id is where the docs put it
// (backup_files.backup_id) and where Terraform reads it
// (backup_files.backup_record.backup_id).
func (s *Simulator) showBody(t *importTask, now time.Time) wireTaskShow {
	status, _, finished := t.state(now)
	target := wireTaskInstance{ID: t.targetID, Name: t.targetName, Port: strconv.Itoa(redisPort), TaskStatus: status, DB: "0"}
	if inst, ok := s.instances[t.targetID]; ok {
		target.Password, target.IP = inst.password, inst.ip()
		target.Addrs = inst.ip() + ":" + strconv.Itoa(redisPort)
	}
	files := wireTaskFiles{FileSource: t.source, BucketName: t.bucket, Files: t.files, BackupID: t.backupID}
	if files.Files == nil {
		files.Files = []importFile{}
	}
	if t.backupID != "" {
		files.BackupRecord = &wireTaskBackupRecord{BackupID: t.backupID}
	}
	return wireTaskShow{
		TaskID: t.id, TaskName: t.name, Description: t.description, Status: status,
		MigrationType: migrationImport, MigrationMethod: methodFullAmount, BackupFiles: files,
		NetworkType: "VPC", SourceInstance: wireTaskInstance{}, TargetInstance: target,
		CreatedAt: taskTime(t.created), UpdatedAt: taskTime(finished), ReleasedAt: "", Version: "2.0",
		ResumeMode: resumeAuto, SupportedFeatures: []string{}, TaskStatus: status,
	}
}

// listItem is a list entry: data_source is the bucket, or the imported
// backup's id for a backup record [I] (documented: "ip:port or bucket
// name"); source_instance_* are blank, as for a self-hosted source.
func (s *Simulator) listItem(t *importTask, now time.Time) wireTaskItem {
	status, errMsg, _ := t.state(now)
	item := wireTaskItem{TaskID: t.id, TaskName: t.name, Status: status, MigrationType: migrationImport,
		MigrationMethod: methodFullAmount, DataSource: t.bucket, TargetInstanceID: t.targetID,
		TargetInstanceName: t.targetName, CreatedAt: isoTime(t.created), Description: t.description,
		ErrorMessage: errMsg, Version: "2.0", ResumeMode: resumeAuto, SupportedFeatures: []string{}}
	if t.source == sourceBackup {
		item.DataSource = t.backupID
	}
	if inst, ok := s.instances[t.targetID]; ok {
		item.TargetInstanceAddrs = inst.ip() + ":" + strconv.Itoa(redisPort)
		item.TargetInstanceStatus = s.effectiveStatus(inst, now)
		item.TargetInstanceSpecCode, _, _ = inst.specCode()
	}
	return item
}

// ImportRecord is an import task as the simulator knows it, for tests and
// the admin API. It never holds the target password.
type ImportRecord struct {
	ID               string `json:"task_id"`
	Name             string `json:"task_name"`
	Description      string `json:"description"`
	TargetInstanceID string `json:"target_instance_id"`
	// FileSource is backup_record or self_build_obs.
	FileSource string `json:"file_source"`
	BackupID   string `json:"backup_id,omitempty"`
	// SourceInstanceID is the instance of the imported backup.
	SourceInstanceID string   `json:"source_instance_id,omitempty"`
	Bucket           string   `json:"bucket_name,omitempty"`
	Files            []string `json:"files,omitempty"`
	// Origin is how the task was created: api.
	Origin       string    `json:"origin"`
	Status       string    `json:"status"`
	ErrorMessage string    `json:"error_message,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
	StoppedAt    time.Time `json:"stopped_at,omitzero"`
	DeletedAt    time.Time `json:"deleted_at,omitzero"`
}

func (t *importTask) record(now time.Time) ImportRecord {
	status, errMsg, finished := t.state(now)
	rec := ImportRecord{ID: t.id, Name: t.name, Description: t.description, TargetInstanceID: t.targetID,
		FileSource: t.source, BackupID: t.backupID, SourceInstanceID: t.sourceID, Bucket: t.bucket, Origin: t.origin,
		Status: status, ErrorMessage: errMsg, CreatedAt: t.created, FinishedAt: finished}
	for _, f := range t.files {
		rec.Files = append(rec.Files, f.Name)
	}
	if !t.stopped.IsZero() && !now.Before(t.stopped) {
		rec.StoppedAt = t.stopped
	}
	if !t.deleted.IsZero() && !now.Before(t.deleted) {
		rec.DeletedAt = t.deleted
	}
	return rec
}
