package dcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The example bodies below are written from SPEC.md 14, with the
// documented quirks.

// docCreateImport: the table says name is the task name, the example
// shows the target instance's name.
const docCreateImport = `{"id":"8aa6999e71cb638b0171f485f5266ef0","name":"dcs-target-instance","status":"MIGRATING","error":""}`

// docShowImport: times without a zone in slashes, the target's password
// echoed in both instance objects, the port as a string,
// migration_type holding a method value, and the backup id where the docs
// put it (backup_files.backup_id).
const docShowImport = `{
  "task_id" : "8aa6999e71cb638b0171f485f5266ef0",
  "task_name" : "restore-orders",
  "description" : "k8s:6f1c",
  "status" : "SUCCESS",
  "migration_type" : "incremental_migration",
  "migration_method" : "full_amount_migration",
  "ecs_tenant_private_ip" : "192.168.0.8",
  "backup_files" : { "file_source" : "backup_record", "bucket_name" : "", "files" : [ ], "backup_id" : "4631832a-14c6-45b0-a0b3-3abd8f591ad1" },
  "network_type" : "VPC",
  "source_instance" : { "id" : "", "name" : "", "password" : "DCStest123", "ip" : "", "port" : "" },
  "target_instance" : { "id" : "5560df16-cebf-4473-95c4-d1b573c16e79", "name" : "dcs-target", "password" : "DCStest123",
                        "ip" : "192.168.1.5", "port" : "6379", "addrs" : "192.168.1.5:6379", "task_status" : "SUCCESS",
                        "proxy_multi_db" : false, "db" : "0" },
  "created_at" : "2019/10/22 14:44:30",
  "updated_at" : "2019/10/22 14:47:31",
  "released_at" : "",
  "version" : "2.0",
  "resume_mode" : "auto",
  "supported_features" : [ ],
  "tenant_vpc_id" : "v", "tenant_subnet_id" : "s", "tenant_security_group_id" : "g",
  "bandwidth_limit_mb" : "",
  "task_status" : "SUCCESS"
}`

// docListImports: ISO created_at, released_at as yyyyMMddHHmm, blank
// source_instance_* for an import, the error in error_message.
const docListImports = `{
  "count" : 2,
  "migration_tasks" : [ {
    "task_id" : "a0b1", "task_name" : "restore-orders", "status" : "FAILED", "migration_type" : "backupfile_import",
    "migration_method" : "full_amount_migration", "data_source" : "exports-bucket",
    "source_instance_id" : "", "source_instance_name" : "", "source_instance_status" : "", "source_instance_subnet_id" : "",
    "source_instance_spec_code" : "", "target_instance_addrs" : "192.168.1.5:6379", "target_instance_name" : "dcs-target",
    "target_instance_id" : "5560df16-cebf-4473-95c4-d1b573c16e79", "target_instance_status" : "RUNNING",
    "target_instance_subnet_id" : "s", "target_instance_spec_code" : "redis.ha.xu1.tiny.r2.128",
    "created_at" : "2021-06-16T06:12:55.508Z", "description" : "k8s:6f1c", "error_message" : "Instance password verify failed.",
    "released_at" : "202404011057", "version" : "2.0", "resume_mode" : "auto", "supported_features" : [ ]
  }, {
    "task_id" : "a0b2", "task_name" : "restore-orders-2", "status" : "INCRMIGEATING"
  } ]
}`

func TestDecodeImportDocExamples(t *testing.T) {
	created, err := decodeImportTask([]byte(docCreateImport))
	if err != nil || created.ID != "8aa6999e71cb638b0171f485f5266ef0" || created.State != ImportRunning ||
		created.Status != "MIGRATING" || created.ErrorMessage != "" {
		t.Fatalf("create answer %+v %v", created, err)
	}

	show, err := decodeImportTask([]byte(docShowImport))
	if err != nil {
		t.Fatal(err)
	}
	want := ImportTask{
		ID: "8aa6999e71cb638b0171f485f5266ef0", Name: "restore-orders", Description: "k8s:6f1c",
		State: ImportSucceeded, Status: "SUCCESS", MigrationType: "incremental_migration",
		MigrationMethod: "full_amount_migration", FileSource: ImportFromBackup,
		BackupID: "4631832a-14c6-45b0-a0b3-3abd8f591ad1", TargetInstanceID: "5560df16-cebf-4473-95c4-d1b573c16e79",
		TargetInstanceName: "dcs-target",
		CreatedAt:          time.Date(2019, 10, 22, 14, 44, 30, 0, time.UTC),
		UpdatedAt:          time.Date(2019, 10, 22, 14, 47, 31, 0, time.UTC),
	}
	if !reflect.DeepEqual(show, want) {
		t.Fatalf("got  %+v\nwant %+v", show, want)
	}
	assertNoPassword(t, "decoded show body", show, "DCStest123")
}

func TestDecodeImportListDocExample(t *testing.T) {
	list, total, err := decodeImportTaskList([]byte(docListImports))
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("%d tasks, total %d, %v", len(list), total, err)
	}
	if l := list[0]; l.ID != "a0b1" || l.State != ImportFailed || l.ErrorMessage != "Instance password verify failed." ||
		l.DataSource != "exports-bucket" || l.TargetInstanceID != "5560df16-cebf-4473-95c4-d1b573c16e79" ||
		!l.ReleasedAt.Equal(time.Date(2024, 4, 1, 10, 57, 0, 0, time.UTC)) ||
		!l.CreatedAt.Equal(time.Date(2021, 6, 16, 6, 12, 55, 508e6, time.UTC)) {
		t.Fatalf("list item %+v", l)
	}
	if list[1].State != ImportFailed || list[1].Status != "INCRMIGEATING" {
		t.Fatalf("misspelt status %+v", list[1])
	}
}

func TestDecodeImportVariants(t *testing.T) {
	tests := []struct {
		name string
		body string
		want func(ImportTask) bool
	}{
		{"backup id where Terraform reads it", `{"backup_files":{"backup_record":{"backup_id":"b1"}}}`,
			func(t ImportTask) bool { return t.BackupID == "b1" }},
		{"nested wins over flat", `{"backup_files":{"backup_id":"flat","backup_record":{"backup_id":"nested"}}}`,
			func(t ImportTask) bool { return t.BackupID == "nested" }},
		{"obs files", `{"backup_files":{"file_source":"self_build_obs","bucket_name":"bk","files":[{"file_name":"a.rdb",` +
			`"size":"1024","update_at":"2026-01-02 03:04:05"},7,{"file_name":"b.aof","size":5}]}}`,
			func(t ImportTask) bool {
				return t.FileSource == ImportFromOBS && t.Bucket == "bk" && len(t.Files) == 2 && t.Files[0].Size == 1024 &&
					t.Files[0].UpdatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) && t.Files[1].Size == 5
			}},
		{"objects of the wrong kind", `{"backup_files":"x","target_instance":[1],"status":{}}`,
			func(t ImportTask) bool {
				return t.State == ImportUnknown && t.BackupID == "" && t.TargetInstanceID == ""
			}},
		{"id from create, task_id from show", `{"id":"a","task_id":"b"}`, func(t ImportTask) bool { return t.ID == "b" }},
		{"lower-case status", `{"status":"success"}`, func(t ImportTask) bool { return t.State == ImportSucceeded }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeImportTask([]byte(tc.body))
			if err != nil || !tc.want(got) {
				t.Fatalf("%+v %v", got, err)
			}
		})
	}
	for _, bad := range []string{`[]`, `"x"`, `{`} {
		var de *DecodeError
		if _, err := decodeImportTask([]byte(bad)); !errors.As(err, &de) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestImportStateOf(t *testing.T) {
	want := map[string]ImportState{
		"SUCCESS": ImportSucceeded, "MIGRATION_SUCCESS": ImportSucceeded, "success": ImportSucceeded,
		"FAILED": ImportFailed, "MIGRATION_FAILED": ImportFailed, "TERMINATED": ImportFailed, "RELEASED": ImportFailed,
		"DELETED": ImportFailed, "ERROR": ImportFailed, "INCRMIGEATING": ImportFailed, "INCRMIGRATING": ImportFailed,
		"MIGRATING": ImportRunning, "FULLMIGRATING": ImportRunning, "CREATING": ImportRunning, "RUNNING": ImportRunning,
		"TERMINATING": ImportRunning, " MIGRATING ": ImportRunning,
		"": ImportUnknown, "PAUSED": ImportUnknown,
	}
	for status, state := range want {
		if got := ImportStateOf(status); got != state {
			t.Errorf("ImportStateOf(%q) = %s, want %s", status, got, state)
		}
	}
}

// taskServer serves total tasks, answering count as the total unless
// noCount, and capping the page at maxLimit.
func taskServer(total, maxLimit int, noCount bool) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		offset, _ := strconv.Atoi(q.Get("offset"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		limit = min(limit, maxLimit)
		var items []string
		for i := offset; i < total && i < offset+limit; i++ {
			items = append(items, fmt.Sprintf(`{"task_id":"t%d","status":"MIGRATING"}`, i))
		}
		count := fmt.Sprintf(`"count":%d,`, total)
		if noCount {
			count = ""
		}
		writeJSON(w, 200, fmt.Sprintf(`{%s"migration_tasks":[%s]}`, count, strings.Join(items, ",")))
	}
}

func TestListImportTasksPaging(t *testing.T) {
	tests := []struct {
		name      string
		total     int
		cap       int
		noCount   bool
		pageSize  int
		wantN     int
		wantCalls int
	}{
		{"none", 0, 1000, false, 0, 0, 1},
		{"one page", 3, 1000, false, 0, 3, 1},
		{"pages", 5, 1000, false, 2, 5, 3},
		{"count trusted over a server's page cap", 5, 2, false, 10, 5, 3},
		{"without count a short page ends", 5, 2, true, 10, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub(t, taskServer(tc.total, tc.cap, tc.noCount))
			got, err := s.client(t, nil).ListImportTasks(context.Background(), ListImportTasksOptions{PageSize: tc.pageSize})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.wantN || len(s.requests()) != tc.wantCalls {
				t.Fatalf("%d tasks in %d requests, want %d in %d", len(got), len(s.requests()), tc.wantN, tc.wantCalls)
			}
		})
	}
}

func TestImportRequestValidation(t *testing.T) {
	ok := ImportTaskRequest{TaskName: "restore1", BackupID: "b", TargetInstanceID: testInst}
	tests := map[string]func(r *ImportTaskRequest){
		"no name":                func(r *ImportTaskRequest) { r.TaskName = "" },
		"name too short":         func(r *ImportTaskRequest) { r.TaskName = "abc" },
		"name too long":          func(r *ImportTaskRequest) { r.TaskName = "a" + strings.Repeat("b", 64) },
		"name starts with digit": func(r *ImportTaskRequest) { r.TaskName = "1abc" },
		"name with a colon":      func(r *ImportTaskRequest) { r.TaskName = "k8s:abc" },
		"no target":              func(r *ImportTaskRequest) { r.TargetInstanceID = "" },
		"bad target":             func(r *ImportTaskRequest) { r.TargetInstanceID = "../x" },
		"no source":              func(r *ImportTaskRequest) { r.BackupID = "" },
		"two sources":            func(r *ImportTaskRequest) { r.Bucket = "b"; r.Files = []ImportFile{{Name: "a.rdb"}} },
		"files with a backup":    func(r *ImportTaskRequest) { r.Files = []ImportFile{{Name: "a.rdb"}} },
		"bucket without files":   func(r *ImportTaskRequest) { r.BackupID = ""; r.Bucket = "b" },
		"not importable": func(r *ImportTaskRequest) {
			r.BackupID, r.Bucket, r.Files = "", "b", []ImportFile{{Name: "a.rdb"}, {Name: "notes.txt"}}
		},
		"only an extension": func(r *ImportTaskRequest) { r.BackupID, r.Bucket, r.Files = "", "b", []ImportFile{{Name: ".rdb"}} },
	}
	s := newStub(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, docCreateImport) })
	c := s.client(t, nil)
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			r := ok
			mutate(&r)
			_, err := c.CreateImportTask(context.Background(), r)
			if !errors.Is(err, ErrInvalidArgument) || Classify(err) != ClassTerminal {
				t.Fatalf("%v", err)
			}
		})
	}
	if n := len(s.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
	for _, valid := range []ImportTaskRequest{ok, {TaskName: "a_b-c", Bucket: "b", TargetInstanceID: "t",
		Files: []ImportFile{{Name: "x/a.RDB"}, {Name: "b.aof"}, {Name: "c.zip"}, {Name: "d.tar.gz"}}}} {
		if _, err := c.CreateImportTask(context.Background(), valid); err != nil {
			t.Errorf("%+v: %v", valid, err)
		}
	}
	if _, err := c.ShowImportTask(context.Background(), "a/b"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("show: %v", err)
	}
}

const testPassword = "Redis-Target-Password-Must-Not-Leak-42"

// assertNoPassword formats v every way a log, an event or a status could
// and fails if the password shows.
func assertNoPassword(t *testing.T, what string, v any, password string) {
	t.Helper()
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		outputs = append(outputs, fmt.Sprintf(verb, v))
	}
	b, _ := json.Marshal(v)
	outputs = append(outputs, string(b))
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "v", v)
	slog.New(slog.NewJSONHandler(&sb, nil)).Info("x", "v", v)
	outputs = append(outputs, sb.String())
	if err, ok := v.(error); ok {
		outputs = append(outputs, err.Error())
	}
	hexPassword := fmt.Sprintf("%x", password)
	for _, out := range outputs {
		if strings.Contains(out, password) || strings.Contains(strings.ToLower(out), hexPassword) {
			// Even a test's failure output does not show the secret.
			masked := strings.ReplaceAll(strings.ReplaceAll(out, password, "<LEAKED>"), hexPassword, "<LEAKED-HEX>")
			t.Errorf("%s leaks the secret: %s", what, masked)
		}
	}
}

// TestImportPasswordNeverLeaks: the password goes into the create body
// and nowhere else, whatever the server echoes (an error message, a
// request id, a show body) and however the caller prints what it gets.
func TestImportPasswordNeverLeaks(t *testing.T) {
	req := ImportTaskRequest{TaskName: "restore1", BackupID: "b1", TargetInstanceID: testInst, TargetPassword: testPassword}
	var sentBody string
	// A show does not know the password, so it cannot scrub a bare echo
	// of it; what it can do is drop the documented password field of the
	// show body and redact "password": values in error texts.
	answers := map[string]func(w http.ResponseWriter, body string){
		"400 echoing the body": func(w http.ResponseWriter, body string) {
			if strings.HasPrefix(body, "{") {
				w.Header().Set(HeaderRequestID, testPassword)
			}
			writeJSON(w, 400, fmt.Sprintf(`{"error_code":"DCS.4080","error_msg":"Instance password verify failed: %s"}`,
				strings.ReplaceAll(body, `"`, `'`)))
		},
		"500 HTML page": func(w http.ResponseWriter, body string) {
			w.WriteHeader(500)
			_, _ = io.WriteString(w, "<html><pre>"+body+"</pre></html>")
		},
		"200 show body with the password": func(w http.ResponseWriter, _ string) {
			writeJSON(w, 200, strings.ReplaceAll(docShowImport, "DCStest123", testPassword))
		},
		"200 not JSON": func(w http.ResponseWriter, body string) { writeJSON(w, 200, body+"}") },
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			var s *stub
			s = newStub(t, func(w http.ResponseWriter, r *http.Request) {
				reqs := s.requests() // the stub read the body already
				if r.Method == http.MethodPost {
					sentBody = reqs[len(reqs)-1].body
					answer(w, sentBody)
					return
				}
				// The show answers like the create, but its request had
				// no body: echo the create's with its password field.
				answer(w, "echo of the create: "+sentBody)
			})
			c := s.client(t, nil)
			task, err := c.CreateImportTask(context.Background(), req)
			if !strings.Contains(sentBody, `"password":"`+testPassword+`"`) {
				t.Fatal("the password was not sent")
			}
			assertNoPassword(t, "the error", err, testPassword)
			assertNoPassword(t, "the task", task, testPassword)
			shown, showErr := c.ShowImportTask(context.Background(), "task1")
			assertNoPassword(t, "the shown task", shown, testPassword)
			assertNoPassword(t, "the show error", showErr, testPassword)
		})
	}
	assertNoPassword(t, "the request", req, testPassword)
	assertNoPassword(t, "a pointer to the request", &req, testPassword)
	assertNoPassword(t, "the secret", req.TargetPassword, testPassword)
	if req.TargetPassword.Reveal() != testPassword {
		t.Fatal("Reveal")
	}
}

func TestIsWrongPassword(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{apiErr(400, "DCS.4080"), true},
		{apiErr(400, "111400080"), true},
		{fmt.Errorf("wrapped: %w", apiErr(400, "DCS.4080")), true},
		{apiErr(400, "DCS.4087"), false},
		{&Error{Operation: OpCreateImportTask, Code: "DCS.4080"}, false}, // no answer, no code
		{errors.New("DCS.4080"), false},
		{nil, false},
	}
	for _, tc := range tests {
		if got := IsWrongPassword(tc.err); got != tc.want {
			t.Errorf("IsWrongPassword(%v) = %t", tc.err, got)
		}
	}
	if !IsBackupNotRestorable(apiErr(400, "DCS.4087")) || IsBackupNotRestorable(apiErr(400, "DCS.4080")) {
		t.Error("IsBackupNotRestorable")
	}
}
