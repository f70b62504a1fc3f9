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

// wireInstanceInfo is InstanceListInfo (SPEC.md 16), with the declared
// types.
type wireInstanceInfo struct {
	InstanceID          string       `json:"instance_id"`
	Name                string       `json:"name"`
	Engine              string       `json:"engine"`
	EngineVersion       string       `json:"engine_version"`
	Status              string       `json:"status"`
	SubStatus           *string      `json:"sub_status"`
	SpecCode            string       `json:"spec_code"`
	Capacity            int          `json:"capacity"`
	CapacityMinor       string       `json:"capacity_minor"`
	MaxMemory           int          `json:"max_memory"`
	UsedMemory          int          `json:"used_memory"`
	IP                  string       `json:"ip"`
	Port                int          `json:"port"`
	DomainName          string       `json:"domain_name"`
	ReadonlyDomainName  string       `json:"readonly_domain_name"`
	MaintainBegin       string       `json:"maintain_begin"`
	MaintainEnd         string       `json:"maintain_end"`
	Tags                []wireTag    `json:"tags"`
	EnterpriseProjectID string       `json:"enterprise_project_id"`
	Description         string       `json:"description"`
	ChargingMode        int          `json:"charging_mode"`
	NoPasswordAccess    string       `json:"no_password_access"`
	AccessUser          string       `json:"access_user"`
	VPCID               string       `json:"vpc_id"`
	SubnetID            string       `json:"subnet_id"`
	SecurityGroupID     string       `json:"security_group_id"`
	CreatedAt           string       `json:"created_at"`
	CPUType             string       `json:"cpu_type"`
	AZCodes             []string     `json:"az_codes"`
	Features            wireFeatures `json:"features"`
	PublicIPID          *string      `json:"publicip_id"`
	EnableSSL           bool         `json:"enable_ssl"`
	UserName            string       `json:"user_name"`
}

type wireFeatures struct {
	SupportACL bool `json:"support_acl"`
	SupportSSL bool `json:"support_ssl"`
}

type wireTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// wireInstance is ShowInstanceResponse: the list's fields and cache_mode,
// sharding_count, replica_count (SPEC.md 2.7, 16).
type wireInstance struct {
	wireInstanceInfo
	CacheMode     string `json:"cache_mode"`
	ShardingCount int    `json:"sharding_count"`
	ReplicaCount  int    `json:"replica_count"`
}

type wireInstanceList struct {
	InstanceNum int                `json:"instance_num"`
	Instances   []wireInstanceInfo `json:"instances"`
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

// wireLinks is the links answer (SPEC.md 15).
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

// Migration task shapes (SPEC.md 14).

type wireImportCreated struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

type wireTaskBackupRecord struct {
	BackupID string `json:"backup_id"`
}

type wireTaskFiles struct {
	FileSource   string                `json:"file_source"`
	BucketName   string                `json:"bucket_name"`
	Files        []importFile          `json:"files"`
	BackupID     string                `json:"backup_id"`
	BackupRecord *wireTaskBackupRecord `json:"backup_record,omitempty"`
}

// wireTaskInstance is source_instance and target_instance of the show
// body; the port is a string and the password is echoed, as documented.
type wireTaskInstance struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Password     string `json:"password"`
	IP           string `json:"ip"`
	Port         string `json:"port"`
	Addrs        string `json:"addrs"`
	TaskStatus   string `json:"task_status"`
	ProxyMultiDB bool   `json:"proxy_multi_db"`
	DB           string `json:"db"`
}

type wireTaskShow struct {
	TaskID                string           `json:"task_id"`
	TaskName              string           `json:"task_name"`
	Description           string           `json:"description"`
	Status                string           `json:"status"`
	MigrationType         string           `json:"migration_type"`
	MigrationMethod       string           `json:"migration_method"`
	EcsTenantPrivateIP    string           `json:"ecs_tenant_private_ip"`
	BackupFiles           wireTaskFiles    `json:"backup_files"`
	NetworkType           string           `json:"network_type"`
	SourceInstance        wireTaskInstance `json:"source_instance"`
	TargetInstance        wireTaskInstance `json:"target_instance"`
	CreatedAt             string           `json:"created_at"`
	UpdatedAt             string           `json:"updated_at"`
	ReleasedAt            string           `json:"released_at"`
	Version               string           `json:"version"`
	ResumeMode            string           `json:"resume_mode"`
	SupportedFeatures     []string         `json:"supported_features"`
	TenantVpcID           string           `json:"tenant_vpc_id"`
	TenantSubnetID        string           `json:"tenant_subnet_id"`
	TenantSecurityGroupID string           `json:"tenant_security_group_id"`
	BandwidthLimitMB      string           `json:"bandwidth_limit_mb"`
	TaskStatus            string           `json:"task_status"`
}

type wireTaskItem struct {
	TaskID                 string   `json:"task_id"`
	TaskName               string   `json:"task_name"`
	Status                 string   `json:"status"`
	MigrationType          string   `json:"migration_type"`
	MigrationMethod        string   `json:"migration_method"`
	DataSource             string   `json:"data_source"`
	SourceInstanceName     string   `json:"source_instance_name"`
	SourceInstanceID       string   `json:"source_instance_id"`
	SourceInstanceStatus   string   `json:"source_instance_status"`
	SourceInstanceSubnetID string   `json:"source_instance_subnet_id"`
	SourceInstanceSpecCode string   `json:"source_instance_spec_code"`
	TargetInstanceAddrs    string   `json:"target_instance_addrs"`
	TargetInstanceName     string   `json:"target_instance_name"`
	TargetInstanceID       string   `json:"target_instance_id"`
	TargetInstanceStatus   string   `json:"target_instance_status"`
	TargetInstanceSubnetID string   `json:"target_instance_subnet_id"`
	TargetInstanceSpecCode string   `json:"target_instance_spec_code"`
	CreatedAt              string   `json:"created_at"`
	Description            string   `json:"description"`
	ErrorMessage           string   `json:"error_message"`
	ReleasedAt             string   `json:"released_at"`
	Version                string   `json:"version"`
	ResumeMode             string   `json:"resume_mode"`
	SupportedFeatures      []string `json:"supported_features"`
}

type wireTaskList struct {
	Count int            `json:"count"`
	Tasks []wireTaskItem `json:"migration_tasks"`
}

type wireTaskIDList struct {
	TaskIDList []string `json:"task_id_list"`
}
