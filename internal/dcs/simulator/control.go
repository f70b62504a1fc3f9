package simulator

import (
	"maps"
	"net/http"
	"strings"
)

// Methods for tests and the admin API. They act like the console: no
// signature, no throttling, no statistics.

// AddInstance adds an instance, or updates an existing one: a non-empty
// name, status, cache mode or password, a positive shard count or backup
// size, and non-nil tags (which replace the old ones) change it; the rest
// keeps its value. New instances are RUNNING and ha unless set. A shard
// count outside 1..MaxShardCount is clamped.
func (s *Simulator) AddInstance(inst Instance) {
	if inst.ID == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.instances[inst.ID]
	if !ok {
		cur = &instance{id: inst.ID, name: "dcs-" + strings.SplitN(inst.ID, "-", 2)[0], status: instanceRunning,
			cacheMode: cacheModeHA, seq: s.instanceSeq, created: s.clock.Now(), nextAuto: s.clock.Now().Add(s.autoEvery)}
		s.instanceSeq++
		s.instances[inst.ID] = cur
	}
	if inst.Name != "" {
		cur.name = inst.Name
	}
	if inst.Status != "" {
		cur.status = inst.Status
	}
	if inst.CacheMode != "" {
		cur.cacheMode = inst.CacheMode
	}
	if inst.ShardCount > 0 {
		cur.shards = min(inst.ShardCount, MaxShardCount)
	}
	if inst.BackupSize > 0 {
		cur.backupSize = inst.BackupSize
	}
	if inst.Password != "" {
		cur.password = inst.Password
	}
	if inst.Tags != nil {
		cur.tags = maps.Clone(inst.Tags)
	}
}

// RemoveInstance deletes an instance, as its owner would in the console:
// it is no longer listed or found (404 DCS.3022), and its backups go with
// it (listed as deleted in Backups; SPEC.md 17).
func (s *Simulator) RemoveInstance(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.instanceLocked(id); err != nil {
		return err
	}
	now := s.clock.Now()
	for _, b := range s.backups {
		if b.instanceID == id && (b.deleted.IsZero() || now.Before(b.deleted)) {
			b.deleted = now
		}
	}
	delete(s.instances, id)
	return nil
}

// TagInstance sets tags on an instance (added or overwritten; others
// stay).
func (s *Simulator) TagInstance(id string, tags map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(id)
	if err != nil {
		return err
	}
	if inst.tags == nil {
		inst.tags = map[string]string{}
	}
	maps.Copy(inst.tags, tags)
	return nil
}

// UntagInstance removes tags from an instance by key.
func (s *Simulator) UntagInstance(id string, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(id)
	if err != nil {
		return err
	}
	for _, k := range keys {
		delete(inst.tags, k)
	}
	return nil
}

// SetInstancePassword sets (or, with "", clears) an instance's Redis
// password, which imports into it must send.
func (s *Simulator) SetInstancePassword(id, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(id)
	if err != nil {
		return err
	}
	inst.password = password
	return nil
}

// SetBackupSize sets the size in bytes of the instance's next backups (0:
// random, 1 to 64 MiB). Existing backups keep theirs.
func (s *Simulator) SetBackupSize(id string, size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(id)
	if err != nil {
		return err
	}
	inst.backupSize = max(size, 0)
	return nil
}

// SetShardCount sets the shard count of a cluster instance (1 to
// MaxShardCount; 0 means DefaultShardCount). The next backups have one
// file per shard.
func (s *Simulator) SetShardCount(id string, shards int) error {
	if shards < 0 || shards > MaxShardCount {
		return &APIError{Status: http.StatusBadRequest, Code: codeInvalidParam,
			Message: "Invalid request parameter: the shard count must be between 0 and 64"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(id)
	if err != nil {
		return err
	}
	inst.shards = shards
	return nil
}

// ExpireLinks makes every download link issued so far answer 403
// AccessDenied "Request has expired", as if their time had run out: a
// client must ask for links again.
func (s *Simulator) ExpireLinks() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.links.rotate()
}

// BackupFiles returns the files a backup's links serve, with their sizes;
// BackupFile.Content recomputes their bytes. A backup that is not succeed
// has none (the links call answers DCS.4087).
func (s *Simulator) BackupFiles(instanceID, backupID string) ([]BackupFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.findBackup(instanceID, backupID)
	if b == nil {
		return nil, asError(errNoBackup())
	}
	if b.state(s.clock.Now()).status != statusSucceed {
		return nil, asError(errNotRestorable())
	}
	bucket := s.bucketName()
	files := b.files()
	out := make([]BackupFile, 0, len(files))
	for _, f := range files {
		out = append(out, BackupFile{Bucket: bucket, Key: b.filePath() + f.name, Name: f.name, Size: f.size})
	}
	return out, nil
}

// Imports returns every import task, in creation order, as of now (deleted
// ones included, with DeletedAt).
func (s *Simulator) Imports() []ImportRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	out := make([]ImportRecord, 0, len(s.imports))
	for _, t := range s.imports {
		out = append(out, t.record(now))
	}
	return out
}

func (s *Simulator) instanceLocked(id string) (*instance, error) {
	inst, ok := s.instances[id]
	if !ok {
		return nil, asError(errNoInstance())
	}
	return inst, nil
}

// SetInstanceStatus sets an instance's status (RUNNING, ERROR,
// RESTARTING, FROZEN, ...). Anything but RUNNING makes create and restore
// answer DCS.4049.
func (s *Simulator) SetInstanceStatus(id, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(id)
	if err != nil {
		return err
	}
	inst.status = status
	return nil
}

// SetCacheMode sets an instance's cache mode; "single" refuses backups and
// restores with DCS.4095.
func (s *Simulator) SetCacheMode(id, mode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(id)
	if err != nil {
		return err
	}
	inst.cacheMode = mode
	return nil
}

// Instances returns the instances, sorted by id, with the status
// ShowInstance would report now. Password is never returned, only
// HasPassword; ShardCount is the count backups use (1 unless cluster).
func (s *Simulator) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	out := make([]Instance, 0, len(s.instances))
	for _, id := range s.sortedInstanceIDs() {
		inst := s.instances[id]
		out = append(out, Instance{ID: id, Name: inst.name, Status: s.effectiveStatus(inst, now), CacheMode: inst.cacheMode,
			ShardCount: inst.shardCount(), Tags: maps.Clone(inst.tags), BackupSize: inst.backupSize,
			HasPassword: inst.password != ""})
	}
	return out
}

// Backups returns every backup ever created (automatic ones included), in
// creation order, as of now.
func (s *Simulator) Backups() []BackupRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.materializeAutoBackups(now)
	out := make([]BackupRecord, 0, len(s.backups))
	for _, b := range s.backups {
		out = append(out, b.record(now))
	}
	return out
}

// Restores returns every restore, in creation order, as of now.
func (s *Simulator) Restores() []RestoreRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	out := make([]RestoreRecord, 0, len(s.restores))
	for _, r := range s.restores {
		out = append(out, r.record(now))
	}
	return out
}

// StartRestore starts a restore as if from the console or Terraform, with
// the API's checks; an *APIError carries the code the API would answer.
func (s *Simulator) StartRestore(instanceID, backupID, remark string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.materializeAutoBackups(now)
	inst, err := s.instanceLocked(instanceID)
	if err != nil {
		return "", err
	}
	r, resp := s.startRestore(inst, backupID, remark, "admin", now)
	if resp.isError() {
		return "", asError(resp)
	}
	return r.id, nil
}

// AddAutoBackup adds an automatic backup (backup_type auto) now, as the
// instance's backup policy would. A busy instance gets a failed record with
// dcs.08.0008, as DCS documents.
func (s *Simulator) AddAutoBackup(instanceID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.materializeAutoBackups(now)
	inst, err := s.instanceLocked(instanceID)
	if err != nil {
		return "", err
	}
	if inst.cacheMode == cacheModeSingle {
		return "", asError(errUnsupported())
	}
	return s.autoBackupAt(inst, now, typeAuto).id, nil
}

// ExpireBackup marks a backup expired now (its file aged out).
func (s *Simulator) ExpireBackup(instanceID, backupID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.findBackup(instanceID, backupID)
	if b == nil {
		return &APIError{Status: http.StatusBadRequest, Code: codeNoBackup, Message: "The backup record does not exist."}
	}
	b.expired = s.clock.Now()
	return nil
}
