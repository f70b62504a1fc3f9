package simulator

import (
	"strings"
	"time"
)

// Wire types. Field order follows the documented examples; every unset
// string is a JSON null (a *string), never {}: the official SDK cannot
// decode {} (SPEC.md 2.2, 10).

type dcsErrorBody struct {
	ErrorCode   string  `json:"error_code"`
	ErrorMsg    string  `json:"error_msg"`
	ErrorExtMsg *string `json:"error_ext_msg"`
}

type apigErrorBody struct {
	ErrorMsg  string `json:"error_msg"`
	ErrorCode string `json:"error_code"`
	RequestID string `json:"request_id"`
}

type wireBackup struct {
	BackupID         string  `json:"backup_id"`
	Period           *string `json:"period"`
	BackupName       string  `json:"backup_name"`
	InstanceID       string  `json:"instance_id"`
	Size             int64   `json:"size"`
	BackupType       string  `json:"backup_type"`
	CreatedAt        string  `json:"created_at"`
	UpdatedAt        *string `json:"updated_at"`
	Progress         string  `json:"progress"`
	ErrorCode        *string `json:"error_code"`
	Remark           *string `json:"remark"`
	Status           string  `json:"status"`
	IsSupportRestore string  `json:"is_support_restore"`
	BackupFormat     string  `json:"backup_format"`
	ExecutionAt      *string `json:"execution_at"`
}

type wireBackupList struct {
	TotalNum int          `json:"total_num"`
	Records  []wireBackup `json:"backup_record_response"`
}

type wireRestore struct {
	BackupID      string  `json:"backup_id"`
	RestoreID     string  `json:"restore_id"`
	BackupName    string  `json:"backup_name"`
	UpdatedAt     *string `json:"updated_at"`
	RestoreRemark *string `json:"restore_remark"`
	CreatedAt     string  `json:"created_at"`
	Progress      string  `json:"progress"`
	ErrorCode     *string `json:"error_code"`
	RestoreName   string  `json:"restore_name"`
	BackupRemark  *string `json:"backup_remark"`
	Status        string  `json:"status"`
}

type wireRestoreList struct {
	Records  []wireRestore `json:"restore_record_response"`
	TotalNum int           `json:"total_num"`
}

type wireInstance struct {
	InstanceID    string  `json:"instance_id"`
	Name          string  `json:"name"`
	Engine        string  `json:"engine"`
	EngineVersion string  `json:"engine_version"`
	Status        string  `json:"status"`
	SubStatus     *string `json:"sub_status"`
	CacheMode     string  `json:"cache_mode"`
	SpecCode      string  `json:"spec_code"`
	Capacity      int     `json:"capacity"`
}

type wireBackupID struct {
	BackupID string `json:"backup_id"`
}

type wireRestoreID struct {
	RestoreID string `json:"restore_id"`
}

type wireMessage struct {
	Message string `json:"message"`
}

type wireLinks struct {
	FilePath   string     `json:"file_path"`
	BucketName string     `json:"bucket_name"`
	Links      []wireLink `json:"links"`
}

type wireLink struct {
	FileName string `json:"file_name"`
	Link     string `json:"link"`
}

// isoTime is the documented record time format, UTC with milliseconds.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := isoTime(t)
	return &s
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (b *backup) wire(now time.Time, v1 bool) wireBackup {
	st := b.state(now)
	format := b.format
	if v1 {
		format = strings.ToUpper(format) // the v1.0 example says "AOF" (SPEC.md 3)
	}
	restorable := "FALSE"
	if st.status == statusSucceed {
		restorable = "TRUE"
	}
	return wireBackup{
		BackupID:         b.id,
		Period:           optString(b.period),
		BackupName:       b.name,
		InstanceID:       b.instanceID,
		Size:             st.size,
		BackupType:       b.backupType,
		CreatedAt:        isoTime(b.created),
		UpdatedAt:        optTime(st.finished),
		Progress:         st.progress,
		ErrorCode:        optString(st.errorCode),
		Remark:           optString(b.remark),
		Status:           st.status,
		IsSupportRestore: restorable,
		BackupFormat:     format,
		ExecutionAt:      optTime(st.started),
	}
}

func (r *restore) wire(now time.Time) wireRestore {
	st := r.state(now)
	return wireRestore{
		BackupID:      r.backupID,
		RestoreID:     r.id,
		BackupName:    r.backupName,
		UpdatedAt:     optTime(st.finished),
		RestoreRemark: optString(r.remark),
		CreatedAt:     isoTime(r.created),
		Progress:      st.progress,
		ErrorCode:     optString(st.errorCode),
		RestoreName:   r.name,
		BackupRemark:  optString(r.backupRemark),
		Status:        st.status,
	}
}
