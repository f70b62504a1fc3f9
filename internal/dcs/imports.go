package dcs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Backup import tasks (SPEC.md 14): a backup restored into another
// instance. DCS calls them migration tasks of type backupfile_import.

// ImportSource is where an import reads its files (backup_files.file_source).
type ImportSource string

const (
	// ImportFromBackup reads a backup record of an instance in the same
	// region and account (backup_record).
	ImportFromBackup ImportSource = "backup_record"
	// ImportFromOBS reads files from an OBS bucket of the target's account
	// and region (self_build_obs).
	ImportFromOBS ImportSource = "self_build_obs"
)

// Fixed values of a backup import (SPEC.md 14): online_migration can no
// longer be created with this call, and an import is a full copy.
const (
	migrationTypeImport = "backupfile_import"
	migrationMethodFull = "full_amount_migration"
	// importListPageSize is the limit of a migration-task list: SPEC.md 14
	// documents no default or range [I]. 100 is accepted by every Huawei
	// list API seen; a server that caps lower is still paged through,
	// because the list carries a total (count).
	importListPageSize = 100
)

// ImportTaskRequest is a backup import: exactly one source (BackupID, or
// Bucket with Files) into TargetInstanceID.
type ImportTaskRequest struct {
	// TaskName is task_name: a letter, then 3-63 letters, digits, '-' or
	// '_'. That is the console's rule (UMN); the API's is not stated
	// [I], so the client enforces the console's.
	TaskName string
	// Description is free text; with TaskName it is what a caller can use
	// to find its task again after a lost create answer.
	Description string
	// BackupID is the backup record to import (file_source backup_record).
	BackupID string
	// Bucket and Files are OBS objects to import (file_source
	// self_build_obs). Importable files end in .rdb, .aof, .zip or .tar.gz.
	Bucket string
	Files  []ImportFile
	// TargetInstanceID is the instance the data goes into.
	TargetInstanceID string
	// TargetPassword is the target's Redis password, mandatory when it has
	// one. Whether a wrong one fails the create (400 DCS.4080) or the task
	// (FAILED) is not documented (SPEC.md 14): handle both, IsWrongPassword
	// recognises the first.
	TargetPassword Secret
}

// ImportFile is an object of an OBS bucket to import.
type ImportFile struct {
	// Name is the object key (file_name).
	Name string
	// Size in bytes (sent as a string, as documented); 0 leaves it out.
	Size int64
	// UpdatedAt is sent as update_at, "YYYY-MM-DD HH:MM:SS" in UTC (the
	// zone is not documented [I]); zero leaves it out.
	UpdatedAt time.Time
}

// ImportState is the small set of states an ImportTask's raw status maps to.
type ImportState string

const (
	// ImportRunning is a task that has not finished: keep polling.
	ImportRunning ImportState = "Running"
	// ImportSucceeded is a finished import (SUCCESS).
	ImportSucceeded ImportState = "Succeeded"
	// ImportFailed is a task that ended without importing, or that can no
	// longer get there (FAILED, TERMINATED, DELETED, ...).
	ImportFailed ImportState = "Failed"
	// ImportUnknown is a status the client does not know. Keep polling,
	// within a deadline of your own.
	ImportUnknown ImportState = "Unknown"
)

// importStates maps the documented status values (SPEC.md 14). The
// terminal ones follow Terraform, which waits for SUCCESS and stops on
// FAILED, TERMINATED, INCRMIGEATING, MIGRATION_FAILED, RELEASED and
// DELETED. An incremental phase (INCRMIGRATING, and gophertelekomcloud's
// misspelt INCRMIGEATING) has no end of its own and is not what a full
// import does, so waiting on it would wait for ever: failed. ERROR is
// failed too. RUNNING is "pending configuration" and TERMINATING is on its
// way to TERMINATED: both are still running.
var importStates = map[string]ImportState{
	"SUCCESS":           ImportSucceeded,
	"MIGRATION_SUCCESS": ImportSucceeded,
	"FAILED":            ImportFailed,
	"MIGRATION_FAILED":  ImportFailed,
	"TERMINATED":        ImportFailed,
	"RELEASED":          ImportFailed,
	"DELETED":           ImportFailed,
	"ERROR":             ImportFailed,
	"INCRMIGEATING":     ImportFailed,
	"INCRMIGRATING":     ImportFailed,
	"MIGRATING":         ImportRunning,
	"FULLMIGRATING":     ImportRunning,
	"CREATING":          ImportRunning,
	"RUNNING":           ImportRunning,
	"TERMINATING":       ImportRunning,
}

// ImportStateOf maps a raw migration task status to its ImportState
// (case-insensitive).
func ImportStateOf(status string) ImportState {
	if s, ok := importStates[strings.ToUpper(strings.TrimSpace(status))]; ok {
		return s
	}
	return ImportUnknown
}

// ImportTask is a migration task as the create, show and list answers
// describe it; each fills what it has (SPEC.md 14). It never holds the
// target's password, which the show body echoes.
type ImportTask struct {
	ID          string
	Name        string
	Description string
	// State is Status mapped to the small set callers act on.
	State ImportState
	// Status is the raw value (SUCCESS, FAILED, MIGRATING, ...).
	Status          string
	MigrationType   string
	MigrationMethod string
	// FileSource is backup_record or self_build_obs (show).
	FileSource ImportSource
	// BackupID is the imported backup record (show).
	BackupID string
	// Bucket and Files are the imported OBS objects (show).
	Bucket string
	Files  []ImportFile
	// DataSource is the list's data_source: a bucket name or "ip:port".
	DataSource         string
	TargetInstanceID   string
	TargetInstanceName string
	// ErrorMessage is the create answer's error or the list's
	// error_message; the show body has none (SPEC.md 18).
	ErrorMessage string
	CreatedAt    time.Time
	// UpdatedAt is "the time the task is complete" (show).
	UpdatedAt  time.Time
	ReleasedAt time.Time
}

// ListImportTasksOptions narrows ListImportTasks.
type ListImportTasksOptions struct {
	// Name is sent as name=; how DCS matches it (exact, prefix, fuzzy) is
	// not documented, so compare the returned names yourself.
	Name string
	// PageSize is the limit per request; 0 means 100 ([I]: no documented
	// range).
	PageSize int
}

// taskNamePattern is the console's task name rule (SPEC.md 14).
var taskNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{3,63}$`)

// importableSuffixes are the importable file types (SPEC.md 14, UMN).
var importableSuffixes = []string{".rdb", ".aof", ".zip", ".tar.gz"}

// Importable reports whether DCS can import a file of this name.
func Importable(name string) bool {
	lower := strings.ToLower(name)
	for _, suffix := range importableSuffixes {
		if strings.HasSuffix(lower, suffix) && len(lower) > len(suffix) {
			return true
		}
	}
	return false
}

func (r ImportTaskRequest) validate() error {
	switch {
	case !taskNamePattern.MatchString(r.TaskName):
		return fmt.Errorf("%w: task name %q must start with a letter and have 4-64 letters, digits, '-' or '_'",
			ErrInvalidArgument, r.TaskName)
	case r.TargetInstanceID == "":
		return fmt.Errorf("%w: target instance id is required", ErrInvalidArgument)
	case (r.BackupID == "") == (r.Bucket == ""):
		return fmt.Errorf("%w: give exactly one source: a backup id or a bucket with files", ErrInvalidArgument)
	case r.BackupID != "" && len(r.Files) > 0:
		return fmt.Errorf("%w: files only go with a bucket", ErrInvalidArgument)
	case r.Bucket != "" && len(r.Files) == 0:
		return fmt.Errorf("%w: an import from bucket %q needs its files", ErrInvalidArgument, r.Bucket)
	}
	for _, f := range r.Files {
		if !Importable(f.Name) || f.Size < 0 {
			return fmt.Errorf("%w: file %q is not importable (.rdb, .aof, .zip or .tar.gz, size >= 0)", ErrInvalidArgument, f.Name)
		}
	}
	return nil
}

// Wire shapes of the create body (SPEC.md 14). The password is only ever
// in this struct, which is encoded and sent, never printed.

type wireImportCreate struct {
	TaskName        string           `json:"task_name"`
	Description     string           `json:"description,omitempty"`
	MigrationType   string           `json:"migration_type"`
	MigrationMethod string           `json:"migration_method"`
	BackupFiles     wireImportSource `json:"backup_files"`
	TargetInstance  wireImportTarget `json:"target_instance"`
}

// wireImportSource sends only the fields of its source. The SDK sends
// "bucket_name": "" and "files": null with a backup record (SPEC.md 14);
// leaving them out says the same without inviting a validation of empty
// fields.
type wireImportSource struct {
	FileSource   ImportSource      `json:"file_source"`
	BucketName   string            `json:"bucket_name,omitempty"`
	Files        []wireImportFile  `json:"files,omitempty"`
	BackupRecord *wireBackupRecord `json:"backup_record,omitempty"`
}

type wireImportFile struct {
	FileName string `json:"file_name"`
	Size     string `json:"size,omitempty"`
	UpdateAt string `json:"update_at,omitempty"`
}

type wireBackupRecord struct {
	BackupID string `json:"backup_id"`
}

type wireImportTarget struct {
	ID       string `json:"id"`
	Password string `json:"password,omitempty"`
}

// importFileTimeLayout is update_at's "YYYY-MM-DD HH:MM:SS".
const importFileTimeLayout = "2006-01-02 15:04:05"

func (r ImportTaskRequest) wire() wireImportCreate {
	w := wireImportCreate{
		TaskName: r.TaskName, Description: r.Description,
		MigrationType: migrationTypeImport, MigrationMethod: migrationMethodFull,
		TargetInstance: wireImportTarget{ID: r.TargetInstanceID, Password: r.TargetPassword.Reveal()},
	}
	if r.BackupID != "" {
		w.BackupFiles = wireImportSource{FileSource: ImportFromBackup, BackupRecord: &wireBackupRecord{BackupID: r.BackupID}}
		return w
	}
	w.BackupFiles = wireImportSource{FileSource: ImportFromOBS, BucketName: r.Bucket}
	for _, f := range r.Files {
		wf := wireImportFile{FileName: f.Name}
		if f.Size > 0 {
			wf.Size = strconv.FormatInt(f.Size, 10)
		}
		if !f.UpdatedAt.IsZero() {
			wf.UpdateAt = f.UpdatedAt.UTC().Format(importFileTimeLayout)
		}
		w.BackupFiles.Files = append(w.BackupFiles.Files, wf)
	}
	return w
}

// CreateImportTask starts a backup import (POST /v2/{project_id}/
// migration-task, singular; a V1 client uses this v2 path too, SPEC.md 3).
// The answer has only id, name, status and error; the returned task fills
// in the rest from req. Its name is req.TaskName: the answer's "name" is
// documented as the task name but is the target instance's name in the
// documented example (SPEC.md 14).
//
// The target password goes into the request body and nowhere else: it is
// scrubbed from errors even if the server echoes it.
func (c *Client) CreateImportTask(ctx context.Context, req ImportTaskRequest) (ImportTask, error) {
	if err := req.validate(); err != nil {
		return ImportTask{}, argError(OpCreateImportTask, err)
	}
	if err := validatePathSegment("target instance id", req.TargetInstanceID); err != nil {
		return ImportTask{}, argError(OpCreateImportTask, err)
	}
	resp, err := c.do(ctx, request{op: OpCreateImportTask, method: http.MethodPost, projectLevel: true, v2Only: true,
		segments: []string{"migration-task"}, body: req.wire(), secrets: []string{req.TargetPassword.Reveal()}})
	if err != nil {
		return ImportTask{}, err
	}
	task, err := decodeImportTask(resp.body)
	if err == nil && task.ID == "" {
		err = &DecodeError{Err: &missingFieldError{field: "id"}}
	}
	if err != nil {
		return ImportTask{}, c.decodeFailure(OpCreateImportTask, resp, err)
	}
	task.Name, task.Description = req.TaskName, req.Description
	task.MigrationType, task.MigrationMethod = migrationTypeImport, migrationMethodFull
	task.TargetInstanceID, task.TargetInstanceName = req.TargetInstanceID, ""
	task.FileSource, task.BackupID, task.Bucket = ImportFromBackup, req.BackupID, req.Bucket
	if req.Bucket != "" {
		task.FileSource, task.Files = ImportFromOBS, append([]ImportFile(nil), req.Files...)
	}
	return task, nil
}

// ShowImportTask reads a task (GET /v2/{project_id}/migration-task/{id}).
// Terraform treats 400 DCS.4133 as "task gone" (SPEC.md 14); Classify
// makes it ClassNotFound.
func (c *Client) ShowImportTask(ctx context.Context, taskID string) (ImportTask, error) {
	if err := validatePathSegment("task id", taskID); err != nil {
		return ImportTask{}, argError(OpShowImportTask, err)
	}
	resp, err := c.do(ctx, request{op: OpShowImportTask, method: http.MethodGet, projectLevel: true, v2Only: true,
		segments: []string{"migration-task", taskID}})
	if err != nil {
		return ImportTask{}, err
	}
	task, err := decodeImportTask(resp.body)
	if err != nil {
		return ImportTask{}, c.decodeFailure(OpShowImportTask, resp, err)
	}
	return task, nil
}

// ListImportTasks returns the migration tasks matching opts (GET
// /v2/{project_id}/migration-tasks, plural). Paging trusts count as the
// total when present, else stops on a short page.
func (c *Client) ListImportTasks(ctx context.Context, opts ListImportTasksOptions) ([]ImportTask, error) {
	limit := opts.PageSize
	if limit <= 0 || limit > MaxPageSize {
		limit = importListPageSize
	}
	query := func(offset int) map[string][]string {
		q := map[string][]string{paramOffset: {strconv.Itoa(offset)}, paramLimit: {strconv.Itoa(limit)}}
		if opts.Name != "" {
			q["name"] = []string{opts.Name}
		}
		return q
	}
	var out []ImportTask
	base := request{op: OpListImportTasks, method: http.MethodGet, projectLevel: true, v2Only: true,
		segments: []string{"migration-tasks"}}
	err := c.pages(ctx, base, pager{limit: limit}, query,
		collect(&out, decodeImportTaskList, func(t ImportTask) string { return t.ID }))
	return out, err
}

// Wire shapes of the answers. One struct reads all three: create (id,
// name, status, error), show (task_id, task_name, backup_files{...},
// target_instance{...}) and a list item (task_id, data_source,
// target_instance_id, error_message).

type wireImportTask struct {
	ID                 looseString                     `json:"id"`
	TaskID             looseString                     `json:"task_id"`
	TaskName           looseString                     `json:"task_name"`
	Description        looseString                     `json:"description"`
	Status             looseString                     `json:"status"`
	MigrationType      looseString                     `json:"migration_type"`
	MigrationMethod    looseString                     `json:"migration_method"`
	Error              looseString                     `json:"error"`
	ErrorMessage       looseString                     `json:"error_message"`
	DataSource         looseString                     `json:"data_source"`
	BackupFiles        looseObject[wireImportSourceIn] `json:"backup_files"`
	TargetInstance     looseObject[wireImportTargetIn] `json:"target_instance"`
	TargetInstanceID   looseString                     `json:"target_instance_id"`
	TargetInstanceName looseString                     `json:"target_instance_name"`
	CreatedAt          looseTime                       `json:"created_at"`
	UpdatedAt          looseTime                       `json:"updated_at"`
	ReleasedAt         looseTime                       `json:"released_at"`
}

// wireImportSourceIn reads the backup id where the docs put it
// (backup_files.backup_id) and where Terraform reads it
// (backup_files.backup_record.backup_id), SPEC.md 14.
type wireImportSourceIn struct {
	FileSource   looseString                     `json:"file_source"`
	BucketName   looseString                     `json:"bucket_name"`
	BackupID     looseString                     `json:"backup_id"`
	BackupRecord looseObject[wireBackupRecordIn] `json:"backup_record"`
	Files        looseList[wireImportFileIn]     `json:"files"`
}

type wireBackupRecordIn struct {
	BackupID looseString `json:"backup_id"`
}

type wireImportFileIn struct {
	FileName looseString `json:"file_name"`
	Size     looseInt64  `json:"size"`
	UpdateAt looseTime   `json:"update_at"`
}

// wireImportTargetIn has no password field on purpose: the show body
// echoes the target's password (SPEC.md 14), and a field that is not
// decoded cannot reach a caller, a log or a status.
type wireImportTargetIn struct {
	ID   looseString `json:"id"`
	Name looseString `json:"name"`
}

type wireImportTaskList struct {
	Count *looseInt64               `json:"count"`
	Tasks looseList[wireImportTask] `json:"migration_tasks"`
}

func (w wireImportTask) task() ImportTask {
	t := ImportTask{
		ID:                 firstOf(w.TaskID, w.ID),
		Name:               string(w.TaskName),
		Description:        string(w.Description),
		Status:             strings.TrimSpace(string(w.Status)),
		MigrationType:      string(w.MigrationType),
		MigrationMethod:    string(w.MigrationMethod),
		DataSource:         string(w.DataSource),
		TargetInstanceID:   firstOf(w.TargetInstance.Value.ID, w.TargetInstanceID),
		TargetInstanceName: firstOf(w.TargetInstance.Value.Name, w.TargetInstanceName),
		ErrorMessage:       firstOf(w.ErrorMessage, w.Error),
		CreatedAt:          w.CreatedAt.time(),
		UpdatedAt:          w.UpdatedAt.time(),
		ReleasedAt:         w.ReleasedAt.time(),
	}
	t.State = ImportStateOf(t.Status)
	src := w.BackupFiles.Value
	t.FileSource = ImportSource(enumValue(src.FileSource))
	t.BackupID = firstOf(src.BackupRecord.Value.BackupID, src.BackupID)
	t.Bucket = string(src.BucketName)
	for _, f := range src.Files {
		t.Files = append(t.Files, ImportFile{Name: string(f.FileName), Size: int64(f.Size), UpdatedAt: f.UpdateAt.time()})
	}
	return t
}

func firstOf(values ...looseString) string {
	for _, v := range values {
		if s := strings.TrimSpace(string(v)); s != "" {
			return s
		}
	}
	return ""
}

// decodeImportTask decodes a create or show answer.
func decodeImportTask(body []byte) (ImportTask, error) {
	var w wireImportTask
	if err := json.Unmarshal(body, &w); err != nil {
		return ImportTask{}, &DecodeError{Err: err}
	}
	return w.task(), nil
}

// decodeImportTaskList decodes one page of the task list; count is the
// total, or unknown when absent.
func decodeImportTaskList(body []byte) ([]ImportTask, int64, error) {
	if isEmptyBody(body) {
		return nil, totalUnknown, nil
	}
	var w wireImportTaskList
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, totalUnknown, &DecodeError{Err: err}
	}
	out := make([]ImportTask, 0, len(w.Tasks))
	for _, t := range w.Tasks {
		out = append(out, t.task())
	}
	return out, totalOf(w.Count), nil
}
