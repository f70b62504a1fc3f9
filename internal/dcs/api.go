// Package dcs is the operator's only contact with the Distributed Cache
// Service (DCS) backup API of Huawei Cloud and Open Telekom Cloud: a signed
// HTTP client for the v2 and legacy v1.0 APIs, typed errors with one
// classification function, and the records the API returns.
//
// The reference for every detail here is ../shared/dcs-api/SPEC.md.
package dcs

import (
	"context"
	"strings"
	"time"
)

// API is what the controllers need from DCS. The reconcilers never speak
// HTTP: they get an API from a connector, and tests can swap it.
//
// Every method does exactly one logical operation (list methods page through
// all records) and never retries: retrying is the controller's decision.
type API interface {
	// CreateBackup starts a backup (POST .../backups) and returns its id.
	// The call is not idempotent.
	CreateBackup(ctx context.Context, instanceID string, req CreateBackupRequest) (backupID string, err error)
	// ListBackups returns every backup record that matches opts, paging over
	// total_num. A 204 is an empty list.
	ListBackups(ctx context.Context, instanceID string, opts ListOptions) ([]Backup, error)
	// ListRestores returns every restore record that matches opts.
	ListRestores(ctx context.Context, instanceID string, opts ListOptions) ([]Restore, error)
	// DeleteBackup deletes a backup file. The record stays listed as deleted.
	DeleteBackup(ctx context.Context, instanceID, backupID string) error
	// RestoreBackup restores the instance from a backup and returns the
	// restore id.
	RestoreBackup(ctx context.Context, instanceID, backupID, remark string) (restoreID string, err error)
	// ShowInstance reads the instance (status, cache mode) for preflight checks.
	ShowInstance(ctx context.Context, instanceID string) (Instance, error)
	// ListInstances returns every instance of the project that matches
	// opts (GET /v2/{project_id}/instances), paging until a short page. The
	// list has no cache_mode: see Instance.SingleNode.
	ListInstances(ctx context.Context, opts ListInstancesOptions) ([]Instance, error)
	// ListBackupFileLinks asks for presigned download links of a backup's
	// files, valid for expiration (5 min to 24 h). Every call issues new
	// links; BackupFiles.ExpiresAt says when to ask again.
	ListBackupFileLinks(ctx context.Context, instanceID, backupID string, expiration time.Duration) (BackupFiles, error)
	// CreateImportTask starts a backup import into another instance
	// (POST /v2/{project_id}/migration-task). Like a backup create it is not
	// idempotent: carry a token in the name or description and look for it
	// with ListImportTasks after a lost answer.
	CreateImportTask(ctx context.Context, req ImportTaskRequest) (ImportTask, error)
	// ShowImportTask reads one import task. A task that is gone classifies
	// as ClassNotFound (400 DCS.4133).
	ShowImportTask(ctx context.Context, taskID string) (ImportTask, error)
	// ListImportTasks returns every migration task whose name matches
	// opts.Name the way DCS matches it (not documented: compare names
	// yourself).
	ListImportTasks(ctx context.Context, opts ListImportTasksOptions) ([]ImportTask, error)
}

// APIVersion selects the API generation: the recommended v2 paths or the
// legacy /v1.0 paths (SPEC.md section 3).
type APIVersion string

const (
	// V2 uses /v2/{project_id}/... paths (offset paging, snake_case times).
	V2 APIVersion = "v2"
	// V1 uses /v1.0/{project_id}/... paths (1-based start, camelCase times,
	// no backup_format on create, 200 {"message":""} on delete).
	V1 APIVersion = "v1"
)

// BackupFormat is the format of a backup file.
type BackupFormat string

const (
	// FormatRDB is a Redis RDB snapshot, the DCS default (SPEC.md 2.1).
	FormatRDB BackupFormat = "rdb"
	// FormatAOF is an append-only file.
	FormatAOF BackupFormat = "aof"
)

// CreateBackupRequest is the body of a create-backup call.
type CreateBackupRequest struct {
	// Remark is the free-text description; the only field the client controls
	// that comes back in the list.
	Remark string
	// Format is rdb or aof; empty leaves it to DCS (rdb). Ignored by v1.
	Format BackupFormat
}

// ListOptions narrows a list call. Zero times are left out of the query.
type ListOptions struct {
	// Begin and End bound the records' creation time (UTC, second precision).
	Begin, End time.Time
	// PageSize is the limit per request; 0 means the client's default
	// (1000, the documented maximum, so most lists are one request).
	PageSize int
}

// BackupStatus is the status of a backup record.
type BackupStatus string

const (
	// BackupWaiting means the task is waiting to begin.
	BackupWaiting BackupStatus = "waiting"
	// BackupRunning means the backup is in progress (the wire value is "backuping").
	BackupRunning BackupStatus = "backuping"
	// BackupSucceeded means the backup succeeded.
	BackupSucceeded BackupStatus = "succeed"
	// BackupFailed means the backup failed; ErrorCode says why (dcs.08.000x).
	BackupFailed BackupStatus = "failed"
	// BackupExpired means the backup file has expired.
	BackupExpired BackupStatus = "expired"
	// BackupDeleted means the backup file was deleted; the record stays listed.
	BackupDeleted BackupStatus = "deleted"
)

// Backup is one backup record, decoded leniently (SPEC.md 2.2).
type Backup struct {
	ID         string
	Name       string
	InstanceID string
	// Size in bytes; 0 until the backup succeeded.
	Size int64
	// Type is "manual" or "auto".
	Type   string
	Format BackupFormat // always lower case
	Status BackupStatus
	// Progress as DCS reports it, e.g. "42.50" (a string on the wire).
	Progress string
	// ErrorCode is the dcs.08.000x code of a failed backup, or empty.
	ErrorCode string
	Remark    string
	Period    string
	// Restorable is is_support_restore == "TRUE".
	Restorable  bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ExecutionAt time.Time
}

// RestoreStatus is the status of a restore record.
type RestoreStatus string

const (
	// RestoreWaiting means the restore is waiting to begin.
	RestoreWaiting RestoreStatus = "waiting"
	// RestoreRunning means the restore is in progress.
	RestoreRunning RestoreStatus = "restoring"
	// RestoreSucceeded means the restore succeeded.
	RestoreSucceeded RestoreStatus = "succeed"
	// RestoreFailed means the restore failed; ErrorCode says why.
	RestoreFailed RestoreStatus = "failed"
)

// Restore is one restore record (SPEC.md 2.5).
type Restore struct {
	ID           string
	Name         string
	BackupID     string
	BackupName   string
	BackupRemark string
	Remark       string
	Status       RestoreStatus
	Progress     string
	ErrorCode    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Instance is the part of ShowInstance and of the instance list the
// operator reads (SPEC.md 2.7, 16). Fields a source does not send are zero.
type Instance struct {
	ID   string
	Name string
	// Status is RUNNING, RESTORING, CREATING, ERROR, ... (upper case).
	Status string
	// CacheMode is single, ha, ha_rw_split, proxy or cluster. Single-node
	// instances cannot be backed up. ShowInstance only: the list has no
	// cache_mode (SPEC.md 16), use SingleNode.
	CacheMode     string
	Engine        string
	EngineVersion string
	// SpecCode is the flavour, e.g. redis.ha.xu1.tiny.r2.128.
	SpecCode string
	// Capacity is the memory size in GB as DCS reports it (0 for the
	// sub-GB flavours, whose size is in capacity_minor).
	Capacity int64
	// ShardingCount is the number of shards of a cluster (ShowInstance
	// only; 0 when not sent).
	ShardingCount int
	// IP is the instance address; a cluster lists one per shard,
	// comma-separated (SPEC.md 16).
	IP   string
	Port int
	// Description is the instance's description.
	Description string
	// Tags are the instance's tags; nil when the answer had none.
	Tags      map[string]string
	CreatedAt time.Time
}

// SingleNode reports whether the instance is single-node, which DCS
// cannot back up or restore. It trusts CacheMode (ShowInstance); without
// it (the list) it reads the hint in SpecCode, e.g.
// redis.single.xu1.tiny.128 (SPEC.md 16, [I]).
func (i Instance) SingleNode() bool {
	if i.CacheMode != "" {
		return i.CacheMode == "single"
	}
	return strings.Contains("."+strings.ToLower(i.SpecCode)+".", ".single.")
}

// ListInstancesOptions narrows ListInstances. Zero fields are left out of
// the query.
type ListInstancesOptions struct {
	// Tags keep the instances that carry every one of these tags (sent as
	// tags=k=v,k2=v2; SPEC.md 16 does not say whether several pairs mean
	// AND or OR, [I] AND). Keys and values cannot contain ',', keys no '='.
	Tags map[string]string
	// Name is a fuzzy match on the name, or an exact one with NameExact
	// (name_equal=true).
	Name      string
	NameExact bool
	// Status keeps the instances in this status (RUNNING, ...).
	Status string
	// PageSize is the limit per request; 0 means 1000, the documented
	// maximum (the API's own default is 10).
	PageSize int
}
