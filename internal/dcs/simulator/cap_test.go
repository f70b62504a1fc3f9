package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

func TestBackupCap(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		create    int
		wantLive  int
		wantEvict int
	}{
		{"default 24", 0, 26, 24, 2},
		{"exactly at the cap", 0, 24, 24, 0},
		{"custom cap", 3, 5, 3, 2},
		{"no cap", -1, 30, 30, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, dcs.V2, func(o *Options) { o.MaxBackupsPerInstance = tc.max })
			ids := e.makeBackups(instA, tc.create)
			got := e.backups(instA, dcs.ListOptions{})
			status := map[string]dcs.BackupStatus{}
			live := 0
			for _, b := range got {
				status[b.ID] = b.Status
				if b.Status == dcs.BackupSucceeded {
					live++
				}
			}
			if len(got) != tc.create || live != tc.wantLive || e.sim.Stats().Evictions != tc.wantEvict {
				t.Fatalf("%d listed, %d live, %d evictions", len(got), live, e.sim.Stats().Evictions)
			}
			// The oldest go first, and list as deleted.
			for i, id := range ids {
				want := dcs.BackupSucceeded
				if i < tc.wantEvict {
					want = dcs.BackupDeleted
				}
				if status[id] != want {
					t.Fatalf("backup %d is %s, want %s", i, status[id], want)
				}
			}
			recs := e.sim.Backups()
			if tc.wantEvict > 0 && (!recs[0].Evicted || recs[0].DeletedAt.IsZero() || recs[tc.wantEvict].Evicted) {
				t.Fatalf("records %+v", recs[:tc.wantEvict+1])
			}
		})
	}
}

func TestBackupCapCountsLiveRecordsOnly(t *testing.T) {
	e := newEnv(t, dcs.V2, func(o *Options) { o.MaxBackupsPerInstance = 2 })
	e.sim.FailNextBackups(instA, 1)
	failed := e.create(instA, "fails", "")
	e.step(2 * time.Minute)
	deleted := e.create(instA, "deleted", "")
	e.step(2 * time.Minute)
	if err := e.client.DeleteBackup(e.ctx, instA, deleted); err != nil {
		t.Fatal(err)
	}
	a := e.create(instA, "a", "")
	e.step(2 * time.Minute)
	b := e.create(instA, "b", "")
	if n := e.sim.Stats().Evictions; n != 0 {
		t.Fatalf("failed or deleted records counted: %d evictions", n)
	}
	// A running backup counts: the third live one evicts the oldest.
	e.step(2 * time.Minute)
	e.create(instA, "c", "")
	if got := e.backup(instA, a); got.Status != dcs.BackupDeleted {
		t.Fatalf("oldest live backup %+v", got)
	}
	if got := e.backup(instA, b); got.Status != dcs.BackupSucceeded {
		t.Fatalf("second backup %+v", got)
	}
	if got := e.backup(instA, failed); got.Status != dcs.BackupFailed {
		t.Fatalf("failed backup %+v", got)
	}
	// Automatic backups count too; other instances are independent.
	e.step(2 * time.Minute)
	if _, err := e.sim.AddAutoBackup(instA); err != nil {
		t.Fatal(err)
	}
	if got := e.backup(instA, b); got.Status != dcs.BackupDeleted {
		t.Fatalf("after an automatic backup %+v", got)
	}
	e.create(instB, "", "")
	if n := e.sim.Stats().Evictions; n != 2 {
		t.Fatalf("%d evictions", n)
	}
}

func TestRemarkLimit(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	long := strings.Repeat("ä", 129)
	a := e.raw("POST", path(versionV2, instA+"/backups"), `{"remark":"`+long+`"}`, nil)
	if a.status != 400 || a.json(t)["error_code"] != "DCS.4098" {
		t.Fatalf("backup: %d %s", a.status, a.body)
	}
	// 128 characters pass (the limit counts characters here, [I]).
	bid := e.create(instA, strings.Repeat("ä", 128), "")
	e.step(100 * time.Second)
	a = e.raw("POST", path(versionV2, instA+"/restores"), `{"backup_id":"`+bid+`","remark":"`+long+`"}`, nil)
	if a.status != 400 || a.json(t)["error_code"] != "DCS.4098" {
		t.Fatalf("restore: %d %s", a.status, a.body)
	}
	// The client refuses it before sending.
	_, err := e.client.RestoreBackup(e.ctx, instA, bid, long)
	if dcs.Classify(err) != dcs.ClassTerminal || e.sim.Requests(OpRestore) != 1 {
		t.Fatalf("%v, %d restore requests", err, e.sim.Requests(OpRestore))
	}
}

func TestLostRestoreAnswerLeavesTheRestore(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	bid := e.create(instA, "", "")
	e.step(100 * time.Second)
	e.sim.SetFaults(Faults{LostResponseRate: 1})
	_, err := e.client.RestoreBackup(e.ctx, instA, bid, "k8s:uid-9")
	wantAPIError(t, err, dcs.ClassTransient, "APIG.0201")
	e.sim.SetFaults(Faults{})
	if rs := e.restores(); len(rs) != 1 || rs[0].Remark != "k8s:uid-9" || rs[0].Status != dcs.RestoreWaiting {
		t.Fatalf("restores %+v", rs)
	}
	e.wantInstanceStatus(instA, "RESTORING")
	_, err = e.client.CreateBackup(e.ctx, instA, dcs.CreateBackupRequest{})
	wantAPIError(t, err, dcs.ClassBusy, "DCS.4097")
}

// TestImportPasswordNeverLeaks: the target password of an import, sent by
// the client to the simulator, appears in no error, log line, record,
// statistic, admin answer or returned value, in any format.
func TestImportPasswordNeverLeaks(t *testing.T) {
	var logs syncBuffer
	e, bid := importEnv(t, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	var outputs []any
	record := func(vs ...any) { outputs = append(outputs, vs...) }

	req := importReq(bid)
	record(req, &req)
	wrong := req
	wrong.TargetPassword = targetPassword + "-wrong"
	_, err := e.client.CreateImportTask(e.ctx, wrong)
	if !dcs.IsWrongPassword(err) {
		t.Fatalf("wrong password: %v", err)
	}
	record(err, wrong)
	task, err := e.client.CreateImportTask(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	record(task)
	_, err = e.client.CreateImportTask(e.ctx, req) // target busy now
	record(err)
	shown := e.showTask(task.ID) // the show body echoes the password
	record(shown)
	tasks, err := e.client.ListImportTasks(e.ctx, dcs.ListImportTasksOptions{})
	record(tasks, err)
	e.step(time.Minute)
	record(e.showTask(task.ID), e.sim.Imports(), e.sim.Instances(), e.sim.Stats())

	a := admin{t, e.srv.URL}
	for _, p := range []string{"imports", "instances", "stats"} {
		var v any
		a.get(p, &v)
		record(v)
	}
	// Failure messages mask the password too.
	mask := func(s string) string { return strings.ReplaceAll(s, targetPassword, "<LEAKED>") }
	for _, v := range outputs {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, targetPassword) {
				t.Errorf("%T printed with %s leaks the password: %s", v, verb, mask(out))
			}
		}
		if b, _ := json.Marshal(v); bytes.Contains(b, []byte(targetPassword)) {
			t.Errorf("%T as JSON leaks the password: %s", v, mask(string(b)))
		}
	}
	if strings.Contains(logs.String(), targetPassword) || !strings.Contains(logs.String(), "create-import") {
		t.Errorf("log: %s", mask(logs.String()))
	}
	// It did reach the simulator: the raw show body echoes it, as documented.
	if raw := e.raw(http.MethodGet, "/v2/"+DefaultProjectID+"/migration-task/"+task.ID, "", nil); !strings.Contains(raw.body, targetPassword) {
		t.Fatal("the simulator does not echo the password in the show body")
	}
}
