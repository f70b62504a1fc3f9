package simulator

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

const (
	instTarget     = "9b2e4c1a-7d3f-4e5a-8b6c-1f2e3d4c5b6a"
	targetPassword = "Target-Redis-Password-0123"
)

// importEnv has instA with a finished backup and instTarget with a Redis
// password; imports take 60 s.
func importEnv(t *testing.T, mutate func(*Options)) (*env, string) {
	t.Helper()
	e := newEnv(t, dcs.V2, func(o *Options) {
		o.Instances = append(o.Instances, Instance{ID: instTarget, Name: "dcs-target", Password: targetPassword})
		o.ImportDuration = time.Minute
		if mutate != nil {
			mutate(o)
		}
	})
	bid := e.create(instA, "source", "")
	e.step(100 * time.Second)
	return e, bid
}

func importReq(bid string) dcs.ImportTaskRequest {
	return dcs.ImportTaskRequest{TaskName: "restore-orders", Description: "k8s:uid-7", BackupID: bid,
		TargetInstanceID: instTarget, TargetPassword: targetPassword}
}

func (e *env) showTask(id string) dcs.ImportTask {
	e.t.Helper()
	task, err := e.client.ShowImportTask(e.ctx, id)
	if err != nil {
		e.t.Fatalf("show task: %v", err)
	}
	return task
}

func TestImportLifecycle(t *testing.T) {
	for _, v := range versions { // a V1 client uses the v2 paths
		t.Run(string(v), func(t *testing.T) {
			e, bid := importEnv(t, nil)
			e.client = e.newClient(func(c *dcs.Config) { c.APIVersion = v })
			task, err := e.client.CreateImportTask(e.ctx, importReq(bid))
			if err != nil || !isNewTask(task) {
				t.Fatalf("created %+v %v", task, err)
			}
			if shown := e.showTask(task.ID); !isRunningImport(shown, bid, e.clk.Now()) {
				t.Fatalf("shown %+v", shown)
			}
			e.step(59 * time.Second)
			if s := e.showTask(task.ID); s.State != dcs.ImportRunning {
				t.Fatalf("before the end %+v", s)
			}
			e.step(time.Second)
			if done := e.showTask(task.ID); done.State != dcs.ImportSucceeded || done.Status != "SUCCESS" || done.UpdatedAt.IsZero() {
				t.Fatalf("done %+v", done)
			}
			tasks, err := e.client.ListImportTasks(e.ctx, dcs.ListImportTasksOptions{Name: "restore-orders"})
			if err != nil || len(tasks) != 1 || !isListedImport(tasks[0], task.ID, bid) {
				t.Fatalf("listed %+v %v", tasks, err)
			}
			if recs := e.sim.Imports(); len(recs) != 1 || !isImportRecord(recs[0]) {
				t.Fatalf("records %+v", recs)
			}
		})
	}
}

func isNewTask(task dcs.ImportTask) bool {
	return task.ID != "" && task.State == dcs.ImportRunning && task.Status == "MIGRATING" && task.Name == "restore-orders"
}

func isRunningImport(s dcs.ImportTask, bid string, created time.Time) bool {
	return s.State == dcs.ImportRunning && s.BackupID == bid && s.FileSource == dcs.ImportFromBackup &&
		s.TargetInstanceID == instTarget && s.TargetInstanceName == "dcs-target" && s.Description == "k8s:uid-7" &&
		s.CreatedAt.Equal(created)
}

func isListedImport(l dcs.ImportTask, id, bid string) bool {
	return l.ID == id && l.State == dcs.ImportSucceeded && l.Description == "k8s:uid-7" && l.DataSource == bid
}

func isImportRecord(r ImportRecord) bool {
	return r.Status == "SUCCESS" && r.SourceInstanceID == instA && !r.FinishedAt.IsZero() && r.FileSource == "backup_record"
}

func TestImportTargetIsBusy(t *testing.T) {
	e, bid := importEnv(t, nil)
	targetBackup := e.create(instTarget, "", "")
	// A backup of the target runs: DCS.4096.
	_, err := e.client.CreateImportTask(e.ctx, importReq(bid))
	wantAPIError(t, err, dcs.ClassBusy, "DCS.4096")
	e.step(100 * time.Second)
	if _, err := e.client.RestoreBackup(e.ctx, instTarget, targetBackup, ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.CreateImportTask(e.ctx, importReq(bid))
	wantAPIError(t, err, dcs.ClassBusy, "DCS.4097")
	e.step(50 * time.Second)

	task, err := e.client.CreateImportTask(e.ctx, importReq(bid))
	if err != nil {
		t.Fatal(err)
	}
	// While the import runs the target takes no backup, restore or second
	// import (DCS.4017, the simulator's choice); the source is free.
	_, err = e.client.CreateBackup(e.ctx, instTarget, dcs.CreateBackupRequest{})
	wantAPIError(t, err, dcs.ClassBusy, "DCS.4017")
	_, err = e.client.RestoreBackup(e.ctx, instTarget, targetBackup, "")
	wantAPIError(t, err, dcs.ClassBusy, "DCS.4017")
	_, err = e.client.CreateImportTask(e.ctx, importReq(bid))
	wantAPIError(t, err, dcs.ClassBusy, "DCS.4017")
	err = e.client.DeleteBackup(e.ctx, instA, bid) // the import reads it
	wantAPIError(t, err, dcs.ClassBusy, "DCS.4017")
	e.create(instA, "", "")
	e.wantInstanceStatus(instTarget, "RUNNING")

	e.step(time.Minute)
	if e.showTask(task.ID).State != dcs.ImportSucceeded {
		t.Fatal("import did not finish")
	}
	e.create(instTarget, "", "")

	if err := e.sim.SetInstanceStatus(instTarget, "RESTARTING"); err != nil {
		t.Fatal(err)
	}
	e.step(100 * time.Second)
	_, err = e.client.CreateImportTask(e.ctx, importReq(bid))
	wantAPIError(t, err, dcs.ClassBusy, "DCS.4049")
}

func TestImportPassword(t *testing.T) {
	for _, mode := range []PasswordCheck{PasswordCheckAtCreate, PasswordCheckInTask} {
		t.Run(string(mode), func(t *testing.T) {
			e, bid := importEnv(t, func(o *Options) { o.ImportPasswordCheck = mode })
			for _, pw := range []dcs.Secret{"", "wrong-password"} {
				req := importReq(bid)
				req.TargetPassword = pw
				task, err := e.client.CreateImportTask(e.ctx, req)
				if mode == PasswordCheckAtCreate {
					wantAPIError(t, err, dcs.ClassTerminal, "DCS.4080")
					if !dcs.IsWrongPassword(err) {
						t.Fatalf("IsWrongPassword(%v)", err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				e.step(time.Minute)
				if s := e.showTask(task.ID); s.State != dcs.ImportFailed || s.Status != "FAILED" {
					t.Fatalf("wrong password, task %+v", s)
				}
				tasks, err := e.client.ListImportTasks(e.ctx, dcs.ListImportTasksOptions{})
				if err != nil || tasks[0].ErrorMessage != "Instance password verify failed." {
					t.Fatalf("list %+v %v", tasks, err)
				}
			}
			// A target without a password ignores one sent anyway.
			req := importReq(bid)
			req.TargetInstanceID = instB
			if _, err := e.client.CreateImportTask(e.ctx, req); err != nil {
				t.Fatal(err)
			}
			if _, err := e.client.CreateImportTask(e.ctx, importReq(bid)); err != nil {
				t.Fatalf("right password: %v", err)
			}
		})
	}
}

func TestImportSources(t *testing.T) {
	e, bid := importEnv(t, nil)
	running := e.create(instB, "", "")
	tests := []struct {
		name   string
		mutate func(r *dcs.ImportTaskRequest)
		class  dcs.Class
		code   string
	}{
		{"unknown backup", func(r *dcs.ImportTaskRequest) { r.BackupID = "nope" }, dcs.ClassTerminal, "DCS.4031"},
		{"backup still running", func(r *dcs.ImportTaskRequest) { r.BackupID = running }, dcs.ClassTerminal, "DCS.4087"},
		{"unknown target", func(r *dcs.ImportTaskRequest) { r.TargetInstanceID = instNone }, dcs.ClassNotFound, "DCS.3022"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := importReq(bid)
			tc.mutate(&r)
			_, err := e.client.CreateImportTask(e.ctx, r)
			wantAPIError(t, err, tc.class, tc.code)
		})
	}
	if err := e.sim.ExpireBackup(instA, bid); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.CreateImportTask(e.ctx, importReq(bid))
	if !dcs.IsBackupNotRestorable(err) {
		t.Fatalf("expired backup: %v", err)
	}

	obs := dcs.ImportTaskRequest{TaskName: "from-bucket", Bucket: "exports", TargetInstanceID: instTarget,
		TargetPassword: targetPassword, Files: []dcs.ImportFile{{Name: "shop/orders/redis_1.rdb", Size: 1024, UpdatedAt: e.clk.Now()}, {Name: "b.tar.gz"}}}
	task, err := e.client.CreateImportTask(e.ctx, obs)
	if err != nil {
		t.Fatal(err)
	}
	shown := e.showTask(task.ID)
	if shown.FileSource != dcs.ImportFromOBS || shown.Bucket != "exports" || len(shown.Files) != 2 ||
		shown.Files[0].Name != "shop/orders/redis_1.rdb" || shown.Files[0].Size != 1024 || !shown.Files[0].UpdatedAt.Equal(e.clk.Now()) {
		t.Fatalf("shown %+v", shown)
	}
	tasks, err := e.client.ListImportTasks(e.ctx, dcs.ListImportTasksOptions{Name: "from-bucket"})
	if err != nil || len(tasks) != 1 || tasks[0].DataSource != "exports" {
		t.Fatalf("listed %+v %v", tasks, err)
	}
}

func TestImportBadRequests(t *testing.T) {
	e, bid := importEnv(t, nil)
	p := "/v2/" + DefaultProjectID + "/migration-task"
	good := `"task_name":"restore1","migration_type":"backupfile_import","migration_method":"full_amount_migration",` +
		`"target_instance":{"id":"` + instTarget + `","password":"` + targetPassword + `"}`
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"empty", ``, 400, "DCS.4004"},
		{"not JSON", `{`, 400, "DCS.4005"},
		{"no task name", `{"migration_type":"backupfile_import"}`, 400, "DCS.4800"},
		{"bad task name", strings.Replace(`{`+good+`,"backup_files":{"backup_record":{"backup_id":"`+bid+`"}}}`,
			"restore1", "1-restore", 1), 400, "DCS.4800"},
		{"online migration", strings.Replace(`{`+good+`,"backup_files":{"backup_record":{"backup_id":"`+bid+`"}}}`,
			"backupfile_import", "online_migration", 1), 400, "DCS.4800"},
		{"incremental", strings.Replace(`{`+good+`,"backup_files":{"backup_record":{"backup_id":"`+bid+`"}}}`,
			"full_amount_migration", "incremental_migration", 1), 400, "DCS.4800"},
		{"no backup_files", `{` + good + `}`, 400, "DCS.4800"},
		{"unknown file_source", `{` + good + `,"backup_files":{"file_source":"ftp"}}`, 400, "DCS.4800"},
		{"backup record without id", `{` + good + `,"backup_files":{"file_source":"backup_record"}}`, 400, "DCS.4800"},
		{"bucket without files", `{` + good + `,"backup_files":{"file_source":"self_build_obs","bucket_name":"b"}}`, 400, "DCS.4800"},
		{"not importable", `{` + good + `,"backup_files":{"file_source":"self_build_obs","bucket_name":"b",` +
			`"files":[{"file_name":"a.txt"}]}}`, 400, "DCS.4800"},
		{"bad size", `{` + good + `,"backup_files":{"file_source":"self_build_obs","bucket_name":"b",` +
			`"files":[{"file_name":"a.rdb","size":"big"}]}}`, 400, "DCS.4800"},
		{"no target", `{"task_name":"restore1","migration_type":"backupfile_import","migration_method":"full_amount_migration",` +
			`"backup_files":{"backup_record":{"backup_id":"` + bid + `"}}}`, 400, "DCS.4800"},
		// The SDK's shape: a backup record with "bucket_name":"" and
		// "files":null, backup_id where the show table puts it.
		{"SDK shape", `{` + good + `,"backup_files":{"file_source":"backup_record","bucket_name":"","files":null,` +
			`"backup_id":"` + bid + `"}}`, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.raw("POST", p, tc.body, nil)
			if a.status != tc.status || (tc.code != "" && a.json(t)["error_code"] != tc.code) {
				t.Fatalf("%d %s", a.status, a.body)
			}
			// The answer's name is the target instance's, as in the
			// documented example (SPEC.md 14).
			if m := a.json(t); a.status == 200 && (m["name"] != "dcs-target" || m["status"] != "MIGRATING" ||
				m["error"] != "" || len(m["id"].(string)) != 32) {
				t.Fatalf("create answer %s", a.body)
			}
		})
	}
	created := e.raw("POST", p, `{`+good+`,"backup_files":{"backup_record":{"backup_id":"`+bid+`"}}}`, nil)
	if created.status != 400 || created.json(t)["error_code"] != "DCS.4017" { // the SDK-shaped import above runs
		t.Fatalf("second import: %d %s", created.status, created.body)
	}
}

func TestImportShowBody(t *testing.T) {
	e, bid := importEnv(t, nil)
	task, err := e.client.CreateImportTask(e.ctx, importReq(bid))
	if err != nil {
		t.Fatal(err)
	}
	show := e.raw("GET", "/v2/"+DefaultProjectID+"/migration-task/"+task.ID, "", nil)
	// The documented show body echoes the password and has the port as a
	// string; the client drops the password (TestImportPasswordNeverLeaks).
	for _, want := range []string{`"password":"` + targetPassword + `"`, `"port":"6379"`, `"status":"MIGRATING"`,
		`"backup_id":"` + bid + `"`, `"backup_record":{"backup_id":"` + bid + `"}`, `"created_at":"2026/11/22 07:53:21"`} {
		if !strings.Contains(show.body, want) {
			t.Errorf("show body lacks %s: %s", want, show.body)
		}
	}
	for _, q := range []string{"?offset=-1", "?limit=0", "?limit=x"} {
		if a := e.raw("GET", "/v2/"+DefaultProjectID+"/migration-tasks"+q, "", nil); a.status != 400 || a.json(t)["error_code"] != "DCS.4800" {
			t.Errorf("list %s: %d %s", q, a.status, a.body)
		}
	}
}

// want400 checks a raw answer is a 400 with the error code.
func want400(t *testing.T, what string, a rawAnswer, code string) {
	t.Helper()
	if a.status != 400 || a.json(t)["error_code"] != code {
		t.Fatalf("%s: %d %s, want 400 %s", what, a.status, a.body, code)
	}
}

func TestImportStopAndDelete(t *testing.T) {
	e, bid := importEnv(t, nil)
	task, err := e.client.CreateImportTask(e.ctx, importReq(bid))
	if err != nil {
		t.Fatal(err)
	}
	v2 := "/v2/" + DefaultProjectID
	del := func(ids string) rawAnswer {
		return e.raw("DELETE", v2+"/migration-tasks/delete", `{"task_id_list":[`+ids+`]}`, nil)
	}
	stop := func() rawAnswer { return e.raw("POST", v2+"/migration-task/"+task.ID+"/stop", "", nil) }
	want400(t, "delete running", del(`"`+task.ID+`"`), "DCS.4957")
	if a := stop(); a.status != 200 || !strings.Contains(a.body, `"status":"TERMINATING"`) {
		t.Fatalf("stop: %d %s", a.status, a.body)
	}
	_, err = e.client.CreateBackup(e.ctx, instTarget, dcs.CreateBackupRequest{})
	wantAPIError(t, err, dcs.ClassBusy, "DCS.4017") // still terminating
	want400(t, "second stop", stop(), "DCS.4957")
	e.step(6 * time.Second)
	if s := e.showTask(task.ID); s.Status != "TERMINATED" || s.State != dcs.ImportFailed {
		t.Fatalf("stopped %+v", s)
	}
	e.create(instTarget, "", "")
	want400(t, "delete with an unknown id", del(`"`+task.ID+`","nope"`), "DCS.4133")
	if a := del(`"` + task.ID + `"`); a.status != 200 || !strings.Contains(a.body, `"task_id_list":["`+task.ID+`"]`) {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	_, err = e.client.ShowImportTask(e.ctx, task.ID)
	wantAPIError(t, err, dcs.ClassNotFound, "DCS.4133")
	want400(t, "stop a deleted task", stop(), "DCS.4133")
	if tasks, err := e.client.ListImportTasks(e.ctx, dcs.ListImportTasksOptions{}); err != nil || len(tasks) != 0 {
		t.Fatalf("deleted task listed: %+v %v", tasks, err)
	}
	if recs := e.sim.Imports(); len(recs) != 1 || recs[0].DeletedAt.IsZero() || recs[0].StoppedAt.IsZero() {
		t.Fatalf("records %+v", recs)
	}
	for _, bad := range []string{``, `{"task_id_list":[]}`, `{`} {
		if a := e.raw("DELETE", v2+"/migration-tasks/delete", bad, nil); a.status != 400 {
			t.Errorf("delete %q: %d %s", bad, a.status, a.body)
		}
	}
}

func TestImportListPaging(t *testing.T) {
	e, bid := importEnv(t, func(o *Options) { o.ImportDuration = time.Second })
	for i := range 7 {
		r := importReq(bid)
		r.TaskName = "restore-" + string(rune('a'+i))
		if _, err := e.client.CreateImportTask(e.ctx, r); err != nil {
			t.Fatal(err)
		}
		e.step(time.Second)
	}
	e.sim.ResetStats()
	tasks, err := e.client.ListImportTasks(e.ctx, dcs.ListImportTasksOptions{Name: "restore-", PageSize: 3})
	if err != nil || len(tasks) != 7 || tasks[0].Name != "restore-g" || e.sim.Requests(OpImportList) != 3 {
		t.Fatalf("%d tasks in %d requests: %v", len(tasks), e.sim.Requests(OpImportList), err)
	}
	if tasks, _ := e.client.ListImportTasks(e.ctx, dcs.ListImportTasksOptions{Name: "restore-c"}); len(tasks) != 1 {
		t.Fatalf("name filter: %+v", tasks)
	}
}

func TestImportFaults(t *testing.T) {
	e, bid := importEnv(t, nil)
	e.sim.FailNextImports(instTarget, 1)
	task, err := e.client.CreateImportTask(e.ctx, importReq(bid))
	if err != nil {
		t.Fatal(err)
	}
	e.step(time.Minute)
	if s := e.showTask(task.ID); s.State != dcs.ImportFailed {
		t.Fatalf("injected failure %+v", s)
	}

	// A lost answer: the task exists, the client finds it by its token.
	e.sim.SetFaults(Faults{LostResponseRate: 1})
	req := importReq(bid)
	req.Description = "k8s:uid-lost"
	_, err = e.client.CreateImportTask(e.ctx, req)
	wantAPIError(t, err, dcs.ClassTransient, "APIG.0201")
	e.sim.SetFaults(Faults{})
	tasks, err := e.client.ListImportTasks(e.ctx, dcs.ListImportTasksOptions{Name: req.TaskName})
	if err != nil || len(tasks) != 2 || tasks[0].Description != "k8s:uid-lost" || tasks[0].State != dcs.ImportRunning {
		t.Fatalf("after a lost answer %+v %v", tasks, err)
	}

	e.step(time.Minute)
	e.sim.FailNextRequests(1, Fault{Operation: OpImportShow, Status: 500})
	_, err = e.client.ShowImportTask(e.ctx, task.ID)
	wantAPIError(t, err, dcs.ClassTransient, "DCS.5000")
	e.sim.SetFaults(Faults{ImportFailRate: 1})
	task, err = e.client.CreateImportTask(e.ctx, importReq(bid))
	if err != nil {
		t.Fatal(err)
	}
	e.step(time.Minute)
	if s := e.showTask(task.ID); s.State != dcs.ImportFailed {
		t.Fatalf("fail rate 1: %+v", s)
	}
	st := e.sim.Stats()
	if st.Requests[OpImportCreate] != 3 || st.Outcomes[OpImportCreate]["APIG.0201"] != 1 || st.Requests[OpImportList] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestImportFileCheck(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	e, _ := importEnv(t, func(o *Options) {
		o.ImportFileCheck = func(bucket, file string) error {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, bucket+"/"+file)
			if strings.Contains(file, "missing") {
				return errors.New("404")
			}
			return nil
		}
	})
	obs := func(files ...string) dcs.ImportTaskRequest {
		r := dcs.ImportTaskRequest{TaskName: "from-bucket", Bucket: "exports", TargetInstanceID: instB}
		for _, f := range files {
			r.Files = append(r.Files, dcs.ImportFile{Name: f})
		}
		return r
	}
	ok, err := e.client.CreateImportTask(e.ctx, obs("a.rdb", "b.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	e.step(time.Minute)
	bad, err := e.client.CreateImportTask(e.ctx, obs("a.rdb", "missing.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	e.step(time.Minute)
	if s := e.showTask(ok.ID); s.State != dcs.ImportSucceeded {
		t.Fatalf("files present: %+v", s)
	}
	if s := e.showTask(bad.ID); s.State != dcs.ImportFailed {
		t.Fatalf("file missing: %+v", s)
	}
	tasks, _ := e.client.ListImportTasks(e.ctx, dcs.ListImportTasksOptions{})
	if !strings.Contains(tasks[0].ErrorMessage, "missing.rdb") {
		t.Fatalf("error message %q", tasks[0].ErrorMessage)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(asked, " ") != "exports/a.rdb exports/b.rdb exports/a.rdb exports/missing.rdb" {
		t.Fatalf("asked %v", asked)
	}
}
