package simulator

import (
	"net/http"
	"strings"
)

// Methods for tests and the admin API. They act like the console: no
// signature, no throttling, no statistics.

// AddInstance adds an instance, or updates the name, status and cache mode
// of an existing one (empty fields keep their value). New instances are
// RUNNING and ha unless set.
func (s *Simulator) AddInstance(inst Instance) {
	if inst.ID == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.instances[inst.ID]; ok {
		if inst.Name != "" {
			cur.name = inst.Name
		}
		if inst.Status != "" {
			cur.status = inst.Status
		}
		if inst.CacheMode != "" {
			cur.cacheMode = inst.CacheMode
		}
		return
	}
	in := &instance{id: inst.ID, name: inst.Name, status: inst.Status, cacheMode: inst.CacheMode}
	if in.name == "" {
		in.name = "dcs-" + strings.SplitN(inst.ID, "-", 2)[0]
	}
	if in.status == "" {
		in.status = instanceRunning
	}
	if in.cacheMode == "" {
		in.cacheMode = cacheModeHA
	}
	in.nextAuto = s.clock.Now().Add(s.autoEvery)
	s.instances[inst.ID] = in
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
// ShowInstance would report now.
func (s *Simulator) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	out := make([]Instance, 0, len(s.instances))
	for _, id := range s.sortedInstanceIDs() {
		inst := s.instances[id]
		out = append(out, Instance{ID: id, Name: inst.name, Status: s.effectiveStatus(inst, now), CacheMode: inst.cacheMode})
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
	return s.autoBackupAt(inst, now, "auto").id, nil
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
