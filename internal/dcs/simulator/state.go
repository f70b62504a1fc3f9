package simulator

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Record and instance status values (SPEC.md 2.2, 2.5, 2.7).
const (
	statusWaiting   = "waiting"
	statusBackuping = "backuping"
	statusRestoring = "restoring"
	statusSucceed   = "succeed"
	statusFailed    = "failed"
	statusExpired   = "expired"
	statusDeleted   = "deleted"

	instanceRunning   = "RUNNING"
	instanceRestoring = "RESTORING"
	cacheModeSingle   = "single"
	cacheModeHA       = "ha"
	cacheModeCluster  = "cluster"

	failBackupCode  = "dcs.08.0002" // operation timed out (SPEC.md 9)
	failRestoreCode = "dcs.08.0007" // data synchronization failed during restoration
	skippedAutoCode = "dcs.08.0008" // scheduled backup did not run: instance busy

	formatRDB  = "rdb"
	typeAuto   = "auto"
	typeManual = "manual"

	nameTimeLayout = "20060102150405"
	zeroProgress   = "0.00"
	// maxAutoCatchUp bounds how many automatic backups one clock jump
	// creates per instance.
	maxAutoCatchUp = 1000
)

type instance struct {
	id         string
	name       string
	status     string
	cacheMode  string
	shards     int
	tags       map[string]string
	backupSize int64
	password   string
	seq        int // creation order: the instance list's order
	created    time.Time
	nextAuto   time.Time
}

// shardCount is the number of shards whose files a backup has: the
// configured count for a cluster, else one.
func (i *instance) shardCount() int {
	if i.cacheMode != cacheModeCluster {
		return 1
	}
	if i.shards <= 0 {
		return DefaultShardCount
	}
	return i.shards
}

// lifecycle is an operation that runs from created to created+dur: the
// first tenth waiting, then running with linear progress. Everything is
// derived from the clock when read, so tests move time and nothing runs in
// the background.
type lifecycle struct {
	created time.Time
	dur     time.Duration
}

type phase int

const (
	phaseWaiting phase = iota
	phaseRunning
	phaseDone
)

func (l lifecycle) startedAt() time.Time { return l.created.Add(l.dur / 10) }
func (l lifecycle) doneAt() time.Time    { return l.created.Add(l.dur) }

// runningAt reports whether the operation occupies its instance at t.
func (l lifecycle) runningAt(t time.Time) bool {
	return l.dur > 0 && !t.Before(l.created) && t.Before(l.doneAt())
}

func (l lifecycle) phaseAt(now time.Time) (phase, string) {
	switch {
	case !now.Before(l.doneAt()):
		return phaseDone, "100.00"
	case now.Before(l.startedAt()):
		return phaseWaiting, zeroProgress
	}
	span := l.doneAt().Sub(l.startedAt())
	pct := float64(now.Sub(l.startedAt())) / float64(span) * 100
	return phaseRunning, strconv.FormatFloat(min(pct, 99.99), 'f', 2, 64)
}

// opState is a record's state at one instant.
type opState struct {
	status    string
	progress  string
	errorCode string
	size      int64
	started   time.Time
	finished  time.Time
}

type backup struct {
	lifecycle
	id         string
	instanceID string
	name       string
	remark     string
	format     string
	backupType string
	period     string
	origin     string // v2, v1.0, admin or auto
	fail       bool
	failCode   string
	size       int64
	deleted    time.Time
	expired    time.Time
	// evicted is set when the 24-backup cap deleted the backup (deleted
	// is then the eviction time).
	evicted bool
	// shards and ip fix the backup's files when it is created: one per
	// shard, named after the node (SPEC.md 15).
	shards int
	ip     string
}

func (b *backup) state(now time.Time) opState {
	ph, progress := b.phaseAt(now)
	st := opState{progress: progress}
	switch ph {
	case phaseWaiting:
		st.status = statusWaiting
	case phaseRunning:
		st.status, st.started = statusBackuping, b.startedAt()
	case phaseDone:
		st.finished = b.doneAt()
		if b.dur > 0 {
			st.started = b.startedAt()
		}
		if b.fail {
			st.status, st.errorCode, st.progress = statusFailed, b.failCode, zeroProgress
		} else {
			st.status, st.size = statusSucceed, b.size
		}
	}
	switch {
	case !b.deleted.IsZero() && !now.Before(b.deleted):
		st.status = statusDeleted
	case !b.expired.IsZero() && !now.Before(b.expired):
		st.status = statusExpired
	}
	return st
}

type restore struct {
	lifecycle
	id           string
	instanceID   string
	backupID     string
	backupName   string
	backupRemark string
	remark       string
	name         string
	origin       string
	fail         bool
}

func (r *restore) state(now time.Time) opState {
	ph, progress := r.phaseAt(now)
	st := opState{progress: progress}
	switch ph {
	case phaseWaiting:
		st.status = statusWaiting
	case phaseRunning:
		st.status, st.started = statusRestoring, r.startedAt()
	case phaseDone:
		st.started, st.finished = r.startedAt(), r.doneAt()
		if r.fail {
			st.status, st.errorCode, st.progress = statusFailed, failRestoreCode, zeroProgress
		} else {
			st.status = statusSucceed
		}
	}
	return st
}

// busyAt answers DCS.4097, DCS.4096 or DCS.4017 if a restore, a backup or
// an import into it occupies the instance at t (one operation at a time,
// SPEC.md 9). Whether an import occupies its target is not documented
// (SPEC.md 14 [I]); the simulator says it does, with DCS.4017 "This DCS
// instance job task is still running.", a busy code a client retries.
func (s *Simulator) busyAt(instanceID string, t time.Time) response {
	for _, r := range s.restores {
		if r.instanceID == instanceID && r.runningAt(t) {
			return errRestoring()
		}
	}
	for _, b := range s.backups {
		if b.instanceID == instanceID && b.runningAt(t) {
			return errBackuping()
		}
	}
	for _, im := range s.imports {
		if im.targetID == instanceID && im.occupiesAt(t) {
			return errJobRunning()
		}
	}
	return response{}
}

// checkIdle is the precondition of create and restore: not busy, RUNNING.
func (s *Simulator) checkIdle(inst *instance, t time.Time) response {
	if r := s.busyAt(inst.id, t); r.isError() {
		return r
	}
	if inst.status != instanceRunning {
		return errNotRunning()
	}
	return response{}
}

// effectiveStatus is the status ShowInstance reports: RESTORING while a
// restore runs on a RUNNING instance (SPEC.md 2.4).
func (s *Simulator) effectiveStatus(inst *instance, now time.Time) string {
	if inst.status == instanceRunning {
		for _, r := range s.restores {
			if r.instanceID == inst.id && r.runningAt(now) {
				return instanceRestoring
			}
		}
	}
	return inst.status
}

// takeFailure consumes a "fail next" token for the instance (or for any
// instance), else rolls the fail rate. Callers hold s.mu.
func (s *Simulator) takeFailure(next map[string]int, instanceID string, rate float64) bool {
	for _, k := range []string{instanceID, ""} {
		if next[k] > 0 {
			next[k]--
			return true
		}
	}
	return rate > 0 && s.rng.Float64() < rate
}

// newBackup records a backup of inst created at t, after making room
// under the per-instance cap. Callers hold s.mu.
func (s *Simulator) newBackup(inst *instance, t time.Time, remark, format, backupType, origin string) *backup {
	s.evictForNewBackup(inst.id, t)
	b := &backup{
		lifecycle:  lifecycle{created: t, dur: s.backupDur},
		id:         s.newUUID(),
		instanceID: inst.id,
		name:       "backup_" + t.UTC().Format(nameTimeLayout),
		remark:     remark,
		format:     format,
		backupType: backupType,
		origin:     origin,
		failCode:   failBackupCode,
		size:       inst.backupSize,
		shards:     inst.shardCount(),
		ip:         inst.ip(),
	}
	if b.size <= 0 {
		b.size = 1<<20 + s.rng.Int64N(63<<20)
	}
	b.fail = s.takeFailure(s.failBackups, inst.id, s.faults.BackupFailRate)
	s.backups = append(s.backups, b)
	return b
}

// liveBackup reports whether a backup counts toward the 24-backup cap. The
// docs leave open which records count (SPEC.md 17 [I]); the simulator
// counts the ones that hold or will hold a file: waiting, backuping and
// succeed. Failed, expired and deleted records do not.
func liveBackup(status string) bool {
	return status == statusWaiting || status == statusBackuping || status == statusSucceed
}

// evictForNewBackup makes room for one more backup of the instance:
// "Storing the 25th deletes the earliest one automatically" (SPEC.md 17).
// The simulator evicts when the new backup is created [I] (the docs leave
// open whether at create or completion), the oldest live ones first, and
// the evicted record lists as deleted, the status the enum gives to a
// deleted file [I].
func (s *Simulator) evictForNewBackup(instanceID string, t time.Time) {
	if s.maxBackups < 0 {
		return
	}
	var live []*backup // in creation order: s.backups is appended to
	for _, b := range s.backups {
		if b.instanceID == instanceID && liveBackup(b.state(t).status) {
			live = append(live, b)
		}
	}
	for i := 0; len(live)-i >= s.maxBackups; i++ {
		live[i].deleted, live[i].evicted = t, true
		s.stats.Evictions++
	}
}

// newRestore records a restore of inst from b created at t.
func (s *Simulator) newRestore(inst *instance, b *backup, t time.Time, remark, origin string) *restore {
	r := &restore{
		lifecycle:    lifecycle{created: t, dur: s.restoreDur},
		id:           s.newUUID(),
		instanceID:   inst.id,
		backupID:     b.id,
		backupName:   b.name,
		backupRemark: b.remark,
		remark:       remark,
		name:         "restore_" + t.UTC().Format(nameTimeLayout),
		origin:       origin,
	}
	r.fail = s.takeFailure(s.failRestores, inst.id, s.faults.RestoreFailRate)
	s.restores = append(s.restores, r)
	return r
}

// startRestore checks the restore preconditions of SPEC.md 9 and 13 and
// starts one. The order: single-node instances cannot restore (DCS.4095);
// the remark is at most 128 characters (DCS.4098); the backup must exist
// (DCS.4031); a backup still running is the instance's current operation
// (DCS.4096, retryable); other non-succeed backups cannot be restored
// (DCS.4087); then the instance must be idle (DCS.4097, DCS.4096, DCS.4017
// for an import into it) and RUNNING (DCS.4049).
func (s *Simulator) startRestore(inst *instance, backupID, remark, origin string, now time.Time) (*restore, response) {
	if inst.cacheMode == cacheModeSingle {
		return nil, errUnsupported()
	}
	if r := checkRemark(remark); r.isError() {
		return nil, r
	}
	b := s.findBackup(inst.id, backupID)
	if b == nil {
		return nil, errNoBackup()
	}
	switch b.state(now).status {
	case statusSucceed:
	case statusWaiting, statusBackuping:
		return nil, errBackuping()
	default:
		return nil, errNotRestorable()
	}
	if r := s.checkIdle(inst, now); r.isError() {
		return nil, r
	}
	return s.newRestore(inst, b, now, remark, origin), response{}
}

func (s *Simulator) findBackup(instanceID, backupID string) *backup {
	for _, b := range s.backups {
		if b.id == backupID && b.instanceID == instanceID {
			return b
		}
	}
	return nil
}

func (s *Simulator) sortedInstanceIDs() []string {
	ids := make([]string, 0, len(s.instances))
	for id := range s.instances {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// materializeAutoBackups creates the automatic backups due up to now
// (lazily, like every other state change). An instance that is busy or not
// RUNNING at the scheduled time gets a failed record with dcs.08.0008, as
// DCS documents. Single-node instances have no automatic backups.
func (s *Simulator) materializeAutoBackups(now time.Time) {
	if s.autoEvery <= 0 {
		return
	}
	for _, id := range s.sortedInstanceIDs() {
		inst := s.instances[id]
		if due := int64(now.Sub(inst.nextAuto)/s.autoEvery) + 1; due > maxAutoCatchUp {
			inst.nextAuto = inst.nextAuto.Add(time.Duration(due-maxAutoCatchUp) * s.autoEvery)
		}
		for !inst.nextAuto.After(now) {
			if inst.cacheMode != cacheModeSingle {
				s.autoBackupAt(inst, inst.nextAuto, typeAuto)
			}
			inst.nextAuto = inst.nextAuto.Add(s.autoEvery)
		}
	}
}

func (s *Simulator) autoBackupAt(inst *instance, t time.Time, origin string) *backup {
	var b *backup
	if idle := s.checkIdle(inst, t); idle.isError() {
		// A skipped run stores no file, so it evicts nothing.
		b = &backup{lifecycle: lifecycle{created: t}, id: s.newUUID(), instanceID: inst.id,
			name: "backup_" + t.UTC().Format(nameTimeLayout), format: formatRDB, backupType: typeAuto, origin: origin,
			fail: true, failCode: skippedAutoCode, shards: inst.shardCount(), ip: inst.ip()}
		s.backups = append(s.backups, b)
	} else {
		b = s.newBackup(inst, t, "", formatRDB, typeAuto, origin)
	}
	b.period = fmt.Sprintf("%02d:00-%02d:00", t.UTC().Hour(), (t.UTC().Hour()+1)%24)
	return b
}

// BackupRecord is a backup as the simulator knows it, for tests and the
// admin API.
type BackupRecord struct {
	ID         string `json:"backup_id"`
	InstanceID string `json:"instance_id"`
	Name       string `json:"backup_name"`
	Remark     string `json:"remark"`
	Format     string `json:"backup_format"`
	Type       string `json:"backup_type"`
	// Origin is how the backup was created: v2, v1.0 (API), admin or auto.
	Origin    string    `json:"origin"`
	Status    string    `json:"status"`
	Progress  string    `json:"progress"`
	ErrorCode string    `json:"error_code,omitempty"`
	Size      int64     `json:"size"`
	CreatedAt time.Time `json:"created_at"`
	// FinishedAt is when it reached succeed or failed (zero while running).
	FinishedAt time.Time `json:"finished_at,omitzero"`
	DeletedAt  time.Time `json:"deleted_at,omitzero"`
	ExpiredAt  time.Time `json:"expired_at,omitzero"`
	// Evicted is set when the per-instance cap deleted the backup
	// (DeletedAt is then the eviction time).
	Evicted bool `json:"evicted,omitempty"`
	// Files is the number of files (one per shard).
	Files int `json:"files"`
}

// RestoreRecord is a restore as the simulator knows it.
type RestoreRecord struct {
	ID         string    `json:"restore_id"`
	InstanceID string    `json:"instance_id"`
	BackupID   string    `json:"backup_id"`
	Name       string    `json:"restore_name"`
	Remark     string    `json:"restore_remark"`
	Origin     string    `json:"origin"`
	Status     string    `json:"status"`
	Progress   string    `json:"progress"`
	ErrorCode  string    `json:"error_code,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

func (b *backup) record(now time.Time) BackupRecord {
	st := b.state(now)
	rec := BackupRecord{
		ID: b.id, InstanceID: b.instanceID, Name: b.name, Remark: b.remark, Format: b.format,
		Type: b.backupType, Origin: b.origin, Status: st.status, Progress: st.progress,
		ErrorCode: st.errorCode, Size: st.size, CreatedAt: b.created, FinishedAt: st.finished, Files: b.shards,
	}
	if !b.deleted.IsZero() && !now.Before(b.deleted) {
		rec.DeletedAt, rec.Evicted = b.deleted, b.evicted
	}
	if !b.expired.IsZero() && !now.Before(b.expired) {
		rec.ExpiredAt = b.expired
	}
	return rec
}

func (r *restore) record(now time.Time) RestoreRecord {
	st := r.state(now)
	return RestoreRecord{
		ID: r.id, InstanceID: r.instanceID, BackupID: r.backupID, Name: r.name, Remark: r.remark,
		Origin: r.origin, Status: st.status, Progress: st.progress, ErrorCode: st.errorCode,
		CreatedAt: r.created, FinishedAt: st.finished,
	}
}
