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
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

// results collects the figures of every scenario; TestMain prints them
// as a table and writes them as JSON.
var results = &report{Started: time.Now()}

type report struct {
	mu      sync.Mutex
	Scale   *scale         `json:"scale,omitempty"`
	Seed    uint64         `json:"seed"`
	Started time.Time      `json:"started"`
	Runs    []runResult    `json:"runs"`
	Faults  []faultResult  `json:"faults"`
	Restart *restartResult `json:"restart,omitempty"`
	// ExportKills is the export kill run.
	ExportKills *exportKillResult `json:"exportKills,omitempty"`
}

// exportKillResult is the outcome of the export kill run.
type exportKillResult struct {
	Backups            int     `json:"backups"`
	Shards             int     `json:"shards"`
	BackupBytes        int64   `json:"backupBytes"`
	DownloadRate       int64   `json:"downloadBytesPerSecond"`
	Kills              int     `json:"kills"`
	KillsMidFile       int     `json:"killsMidFile"`
	KillsAfterManifest int     `json:"killsAfterManifest"`
	KillsWhileCopying  int     `json:"killsWhileCopying"`
	Attempts           int     `json:"exportAttempts"`
	Adopted            int     `json:"adopted"`
	DownloadedBytes    int64   `json:"downloadedBytes"`
	ExportedBytes      int64   `json:"exportedBytes"`
	Looks              int     `json:"bucketLooks"`
	ManifestsHashed    int     `json:"manifestsHashed"`
	LeftoverUploads    int     `json:"leftoverUploads"`
	Problems           int     `json:"problems"`
	ConvergeSeconds    float64 `json:"convergeAfterLastKillSeconds"`
	ElapsedSeconds     float64 `json:"elapsedSeconds"`
}

func (r *report) addExportKills(x exportKillResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ExportKills = &x
}

// restartResult is how fast a restarted manager serves a backup that
// holds its instance.
type restartResult struct {
	Finished          int     `json:"finishedBackups"`
	Instances         int     `json:"instances"`
	ServedSeconds     float64 `json:"holderServedAfterSeconds"`
	Lists             int     `json:"listCallsUntilServed"`
	CallsBeforeHolder int     `json:"callsBeforeHolder"`
	Bound             int     `json:"callsBeforeHolderBound"`
}

func (r *report) addRestart(x restartResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Restart = &x
}

// runResult is the outcome of a chaos run (kills or leader failover).
type runResult struct {
	Name      string `json:"name"`
	Instances int    `json:"instances"`
	Schedules int    `json:"schedules"`
	verdict
	Kills             int       `json:"kills"`
	KillsWhilePending int       `json:"killsWhilePending"`
	Takeovers         []float64 `json:"leaderTakeoverSeconds,omitempty"`
	ConvergeSeconds   float64   `json:"convergeAfterLastKillSeconds"`
	PendingAtLastKill int       `json:"pendingAtLastKill"`
	ElapsedSeconds    float64   `json:"elapsedSeconds"`
	faultCounts
}

// faultCounts are the faults the simulator injected and the busy answers
// it gave, from its request counters and backup records.
type faultCounts struct {
	Injected      int `json:"faultsInjected"`
	Requests      int `json:"dcsRequests"`
	ServerErrors  int `json:"injected5xx"`
	Throttled     int `json:"injected429"`
	LostResponses int `json:"lostCreateResponses"`
	Busy          int `json:"busyAnswers"`
}

func (f faultCounts) injected() int { return f.ServerErrors + f.Throttled + f.LostResponses }

// countFaults reads the counters: 5xx and 429 answers, and lost create
// answers (the simulator made the backup but answered 504): API-made
// backups beyond the creates answered 200.
func countFaults(st simulator.Stats, records []simulator.BackupRecord) faultCounts {
	f := faultCounts{Requests: st.Total, Throttled: st.Statuses[http.StatusTooManyRequests], Busy: st.Codes["DCS.4096"]}
	for status, n := range st.Statuses {
		if status >= 500 {
			f.ServerErrors += n
		}
	}
	made := 0
	for _, r := range records {
		if r.Origin == "v2" || r.Origin == "v1.0" {
			made++
		}
	}
	f.LostResponses = max(0, made-st.Outcomes[simulator.OpCreate]["200"])
	// A lost answer is a 504 too: count it once, as lost.
	f.ServerErrors -= f.LostResponses
	f.Injected = f.injected()
	return f
}

// faultResult is the outcome of one cloud fault class.
type faultResult struct {
	Class           string         `json:"class"`
	Reasons         []string       `json:"syncedReasons"`
	Message         string         `json:"message"`
	WindowSeconds   float64        `json:"faultSeconds"`
	Requests        int            `json:"requestsDuringFault"`
	RequestBound    int            `json:"requestBound"`
	RequestsByOp    map[string]int `json:"simulatorRequestsDuringFault"`
	MinGapSeconds   float64        `json:"minGapBetweenRequestsSeconds,omitempty"`
	SyncedSeconds   float64        `json:"syncedAgainAfterSeconds"`
	RecoverySeconds float64        `json:"allSucceededAfterSeconds"`
	Backups         int            `json:"backups"`
	CloudBackups    int            `json:"cloudBackups"`
	Duplicates      int            `json:"duplicates"`
	Lost            int            `json:"lost"`
	Passed          bool           `json:"passed"`
}

func (r *report) addRun(x runResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Runs = append(r.Runs, x)
}

func (r *report) addFault(x faultResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Faults = append(r.Faults, x)
}

func secs(d time.Duration) float64 { return d.Round(100 * time.Millisecond).Seconds() }

func (r *report) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.Runs) == 0 && len(r.Faults) == 0 && r.Restart == nil && r.ExportKills == nil {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	pf := func(format string, args ...any) { _, _ = fmt.Fprintf(tw, format, args...) }
	pf("\nchaos summary (scale %s, seed %d, %s)\n", shared.scale.Name, shared.seed, time.Since(r.Started).Round(time.Second))
	if len(r.Runs) > 0 {
		pf("run\tinstances\tbackups\tschedules\tchildren\tkills\tfaults injected\t5xx\t429\tlost answers\tbusy\t" +
			"DCS requests\tduplicates\tlost\torphans\tnot succeeded\tschedule errors\trestores\tduplicate restores\t" +
			"lost restores\tpending at last kill\t" +
			"converge after last kill\ttakeover\telapsed\t\n")
		for _, x := range r.Runs {
			pf("%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1fs\t%s\t%.0fs\t\n",
				x.Name, x.Instances, x.Backups, x.Schedules, x.Children, x.Kills, x.injected(),
				x.ServerErrors, x.Throttled, x.LostResponses, x.Busy, x.Requests,
				x.Duplicates, x.Lost, x.Orphans, x.Backups+x.Children-x.Succeeded, x.ScheduleErrors,
				x.Restores, x.DuplicateRestores, x.LostRestores, x.PendingAtLastKill, x.ConvergeSeconds, takeovers(x.Takeovers), x.ElapsedSeconds)
		}
		pf("\n")
	}
	if len(r.Faults) > 0 {
		sort.Slice(r.Faults, func(i, j int) bool { return r.Faults[i].Class < r.Faults[j].Class })
		pf("fault\tSynced reasons\tfault lasted\trequests meanwhile\tbound\tmin gap\tSynced again after\t" +
			"all succeeded after\tbackups\tcloud backups\tduplicates\tlost\tpassed\t\n")
		for _, x := range r.Faults {
			pf("%s\t%s\t%.0fs\t%d\t%d\t%.1fs\t%.1fs\t%.1fs\t%d\t%d\t%d\t%d\t%v\t\n",
				x.Class, strings.Join(x.Reasons, ","), x.WindowSeconds, x.Requests, x.RequestBound, x.MinGapSeconds,
				x.SyncedSeconds, x.RecoverySeconds, x.Backups, x.CloudBackups, x.Duplicates, x.Lost, x.Passed)
		}
	}
	if x := r.Restart; x != nil {
		pf("\nrestart: a backup holding its instance was served %.1fs after the manager was ready; %d DCS calls "+
			"came before its first (bound %d), %d list calls until it was served; %d finished backups over %d instances\n",
			x.ServedSeconds, x.CallsBeforeHolder, x.Bound, x.Lists, x.Finished, x.Instances)
	}
	if x := r.ExportKills; x != nil {
		pf("\nexportkill: %d backups of %d files x %d MiB, links at %d MiB/s; %d kills (%d mid-file, %d after a manifest, "+
			"%d leaving exports Copying); %d attempts recorded, %d exports adopted; %.0f MiB downloaded for %.0f MiB "+
			"exported; %d looks at the bucket, %d manifests hashed; %d uploads left open; %d problems; converged %.1fs "+
			"after the last kill, %.0fs in all\n",
			x.Backups, x.Shards, x.BackupBytes/int64(max(x.Shards, 1))>>20, x.DownloadRate>>20, x.Kills, x.KillsMidFile,
			x.KillsAfterManifest, x.KillsWhileCopying, x.Attempts, x.Adopted, float64(x.DownloadedBytes)/(1<<20),
			float64(x.ExportedBytes)/(1<<20), x.Looks, x.ManifestsHashed, x.LeftoverUploads, x.Problems, x.ConvergeSeconds,
			x.ElapsedSeconds)
	}
	_ = tw.Flush()
}

func takeovers(ts []float64) string {
	if len(ts) == 0 {
		return "-"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%.1fs", t)
	}
	return strings.Join(parts, ",")
}

func (r *report) write(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sc := shared.scale
	r.Scale, r.Seed = &sc, shared.seed
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
