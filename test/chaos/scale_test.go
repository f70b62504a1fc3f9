/*
Copyright 2026 The dcs-backup-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package chaos

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Environment variables that set the scale of the run.
const (
	// envScale picks a preset: "reduced" (default) or "full".
	envScale = "CHAOS_SCALE"
	// envSeed makes the random choices (kill moments, pauses, fault rolls
	// of the simulator) reproducible; default: the time.
	envSeed = "CHAOS_SEED"
	// envKeep keeps the state directory (logs, report) of a passing run;
	// a failing or full-scale run always keeps it.
	envKeep = "CHAOS_KEEP"
	// envReportDir receives chaos-report.json; default the state directory.
	envReportDir = "CHAOS_REPORT_DIR"
)

// scale is the size of one run. Every number can be overridden by an
// environment variable named in scaleFromEnv.
type scale struct {
	Name string `json:"name"`

	// The kill run: Backups DCSBackups spread over Instances instances,
	// one schedule per instance (Schedules of them) with Tokens run-now
	// tokens each, Kills SIGKILLs of the manager.
	Instances int `json:"instances"`
	Backups   int `json:"backups"`
	Schedules int `json:"schedules"`
	Tokens    int `json:"tokensPerSchedule"`
	Kills     int `json:"kills"`
	// Restores DCSRestores of the kill run's backups, in place.
	Restores int `json:"restores"`

	// The leader election run.
	HAInstances int `json:"haInstances"`
	HABackups   int `json:"haBackups"`
	HASchedules int `json:"haSchedules"`
	HATokens    int `json:"haTokensPerSchedule"`
	LeaderKills int `json:"leaderKills"`

	// FaultWindow is how long each cloud fault lasts; BusyAnswers is how
	// many DCS.4096 answers the busy class queues.
	FaultWindow time.Duration `json:"faultWindow"`
	BusyAnswers int           `json:"busyAnswers"`

	// The restart run: RestartPerInstance finished backups on each of
	// RestartInstances instances before the restart.
	RestartInstances   int `json:"restartInstances"`
	RestartPerInstance int `json:"restartFinishedPerInstance"`

	// The export kill run: ExportBackups DCSBackups with spec.export, one
	// per cluster instance of ExportShards shards whose backups have
	// ExportBackupBytes (each file above the 16 MiB upload part, so every
	// file is a multipart upload), their download links served at
	// ExportDownloadRate bytes per second, and ExportKills SIGKILLs of the
	// manager while copies run.
	ExportBackups      int   `json:"exportBackups"`
	ExportShards       int   `json:"exportShards"`
	ExportBackupBytes  int64 `json:"exportBackupBytes"`
	ExportDownloadRate int64 `json:"exportDownloadBytesPerSecond"`
	ExportKills        int   `json:"exportKills"`

	// BackupDuration is how long a simulated backup runs.
	BackupDuration time.Duration `json:"backupDuration"`
	// ApplySpread: the backups are created at random moments within it.
	ApplySpread time.Duration `json:"applySpread"`
	// KillGap bounds the random time between two kills; RestartPause the
	// random time a killed manager stays down.
	KillGapMin      time.Duration `json:"killGapMin"`
	KillGapMax      time.Duration `json:"killGapMax"`
	RestartPauseMax time.Duration `json:"restartPauseMax"`
	// Converge bounds the time from the last kill until every resource is
	// final: longer means a resource is stuck.
	Converge time.Duration `json:"converge"`
}

var presets = map[string]scale{
	"reduced": {
		Name:      "reduced",
		Instances: 5, Backups: 25, Schedules: 5, Tokens: 2, Kills: 3, Restores: 5,
		HAInstances: 3, HABackups: 9, HASchedules: 3, HATokens: 1, LeaderKills: 1,
		FaultWindow: 20 * time.Second, BusyAnswers: 3,
		RestartInstances: 20, RestartPerInstance: 5,
		ExportBackups: 6, ExportShards: 2, ExportBackupBytes: 40 << 20, ExportDownloadRate: 10 << 20, ExportKills: 4,
		BackupDuration: 3 * time.Second, ApplySpread: 15 * time.Second,
		KillGapMin: 4 * time.Second, KillGapMax: 10 * time.Second, RestartPauseMax: 2 * time.Second,
		Converge: 3 * time.Minute,
	},
	"full": {
		Name:      "full",
		Instances: 20, Backups: 200, Schedules: 20, Tokens: 3, Kills: 12, Restores: 20,
		HAInstances: 10, HABackups: 60, HASchedules: 10, HATokens: 2, LeaderKills: 2,
		FaultWindow: time.Minute, BusyAnswers: 5,
		RestartInstances: 20, RestartPerInstance: 10,
		ExportBackups: 12, ExportShards: 3, ExportBackupBytes: 60 << 20, ExportDownloadRate: 10 << 20, ExportKills: 8,
		BackupDuration: 4 * time.Second, ApplySpread: time.Minute,
		KillGapMin: 4 * time.Second, KillGapMax: 15 * time.Second, RestartPauseMax: 3 * time.Second,
		Converge: 10 * time.Minute,
	},
}

// scaleFromEnv returns the preset of CHAOS_SCALE with single numbers
// overridden by CHAOS_INSTANCES, CHAOS_BACKUPS, CHAOS_SCHEDULES,
// CHAOS_TOKENS, CHAOS_KILLS, CHAOS_RESTORES, CHAOS_HA_BACKUPS, CHAOS_LEADER_KILLS,
// CHAOS_EXPORT_BACKUPS, CHAOS_EXPORT_KILLS, CHAOS_FAULT_WINDOW and
// CHAOS_BACKUP_DURATION.
func scaleFromEnv() (scale, error) {
	name := os.Getenv(envScale)
	if name == "" {
		name = "reduced"
	}
	s, ok := presets[name]
	if !ok {
		return s, fmt.Errorf("%s=%q: want reduced or full", envScale, name)
	}
	ints := map[string]*int{
		"CHAOS_INSTANCES": &s.Instances, "CHAOS_BACKUPS": &s.Backups, "CHAOS_SCHEDULES": &s.Schedules,
		"CHAOS_TOKENS": &s.Tokens, "CHAOS_KILLS": &s.Kills, "CHAOS_HA_BACKUPS": &s.HABackups,
		"CHAOS_LEADER_KILLS": &s.LeaderKills, "CHAOS_RESTORES": &s.Restores,
		"CHAOS_EXPORT_BACKUPS": &s.ExportBackups, "CHAOS_EXPORT_KILLS": &s.ExportKills,
	}
	for env, p := range ints {
		if v := os.Getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return s, fmt.Errorf("%s=%q: want a number >= 0", env, v)
			}
			*p = n
		}
	}
	durations := map[string]*time.Duration{"CHAOS_FAULT_WINDOW": &s.FaultWindow, "CHAOS_BACKUP_DURATION": &s.BackupDuration}
	for env, p := range durations {
		if v := os.Getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return s, fmt.Errorf("%s=%q: want a positive duration", env, v)
			}
			*p = d
		}
	}
	if s.Instances < 1 || s.HAInstances < 1 || s.RestartInstances < 1 {
		return s, fmt.Errorf("the runs need at least one instance")
	}
	s.Schedules = min(s.Schedules, s.Instances)
	s.HASchedules = min(s.HASchedules, s.HAInstances)
	return s, nil
}

// seedFromEnv returns CHAOS_SEED, or a seed from the clock.
func seedFromEnv() (uint64, error) {
	v := os.Getenv(envSeed)
	if v == "" {
		return uint64(time.Now().UnixNano()), nil
	}
	return strconv.ParseUint(v, 10, 64)
}
