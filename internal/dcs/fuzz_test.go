package dcs

import (
	"strings"
	"testing"
)

// The fuzz targets feed arbitrary bytes to the response decoders: whatever
// a server (or a proxy in between) sends, the client must return records
// or a *DecodeError, never panic. Their seed corpus runs with every
// `go test`; run one for longer with
//
//	go test -run=^$ -fuzz=FuzzDecodeBackupList -fuzztime=90s ./internal/dcs/

var listSeeds = []string{
	docV2ListBackups,
	docV1ListBackups,
	docV2ListRestores,
	``,
	`null`,
	`{}`,
	`[]`,
	`{"total_num":"x","backup_record_response":[null,{}]}`,
	`{"total_num":1e400,"backup_record_response":[{"size":-1e400,"progress":1e999}]}`,
	`{"backup_record_response":[{"created_at":"2019-13-45T99:99:99.999Z","is_support_restore":"TrUe"}]}`,
	`{"restore_record_response":[{"status":{},"backup_remark":[],"progress":true}],"total_num":-3}`,
	"\xff\xfe{",
}

func FuzzDecodeBackupList(f *testing.F) {
	for _, s := range listSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, _, err := decodeBackupList(body)
		checkDecodeResult(t, err, len(recs))
		for _, r := range recs {
			if r.Format != BackupFormat(strings.ToLower(string(r.Format))) {
				t.Fatalf("format %q not lower case", r.Format)
			}
		}
	})
}

func FuzzDecodeRestoreList(f *testing.F) {
	for _, s := range listSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, _, err := decodeRestoreList(body)
		checkDecodeResult(t, err, len(recs))
	})
}

func FuzzDecodeInstance(f *testing.F) {
	for _, s := range []string{
		`{"instance_id":"i","name":"n","status":"RUNNING","cache_mode":"ha","engine":"Redis","engine_version":"5.0"}`,
		`{"status":{},"cache_mode":null}`, `[]`, ``, `"x"`, `{"instance_id":1}`,
		docShowInstance, `{"tags":[{"key":{},"value":[]},null,{"key":"k"}],"port":"x","sharding_count":-1e300}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodeInstance(body)
		checkDecodeResult(t, err, 0)
	})
}

func FuzzDecodeInstanceList(f *testing.F) {
	for _, s := range []string{docListInstances, `{"instance_num":"x","instances":[null,1,{}]}`, `{"instances":{}}`, ``, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, _, err := decodeInstanceList(body)
		checkDecodeResult(t, err, len(recs))
		for _, r := range recs {
			if r.Port < 0 || r.Port > 65535 || r.ShardingCount < 0 || r.Status != strings.ToUpper(r.Status) {
				t.Fatalf("instance %+v", r)
			}
		}
	})
}

func FuzzDecodeImportTask(f *testing.F) {
	for _, s := range []string{docCreateImport, docShowImport, docListImports, `{"backup_files":{"files":[{"size":"-1"}]}}`,
		`{"count":null,"migration_tasks":[{"target_instance":{"password":"x"}}]}`, ``, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		task, err := decodeImportTask(body)
		if err == nil && task.State != ImportStateOf(task.Status) {
			t.Fatalf("state %s of %q", task.State, task.Status)
		}
		checkDecodeResult(t, err, 0)
		tasks, _, err := decodeImportTaskList(body)
		checkDecodeResult(t, err, len(tasks))
	})
}

func FuzzDecodeBackupFiles(f *testing.F) {
	for _, s := range []string{docLinks, `{"links":[{"link":1},{"link":"x"}]}`, `{"links":"x"}`, ``, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		files, err := decodeBackupFiles(body)
		checkDecodeResult(t, err, len(files.Links))
		for _, l := range files.Links {
			if l.URL == "" {
				t.Fatal("link without URL")
			}
		}
	})
}

func FuzzParseErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"error_code":"DCS.4096","error_msg":"the instance is backuping.","error_ext_msg":null}`,
		`{"error_msg":"The throttling threshold has been reached","error_code":"APIG.0308","request_id":"914a39d6"}`,
		`{"error":{"code":"111404022","message":"This DCS instance does not exist."}}`,
		`{"a":{"code":1},"b":{"message":"m"}}`,
		"<html>\n502\n</html>", ``, `{"error_code":{}}`, `{"code":-0.5e3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e := parseErrorBody(body)
		for _, s := range []string{e.Code, e.Message, e.RequestID} {
			if strings.ContainsAny(s, "\n\r") {
				t.Fatalf("multi-line field %q", s)
			}
		}
		if len(e.Message) > maxMessageLen+3 {
			t.Fatalf("message not shortened: %d bytes", len(e.Message))
		}
		_ = Classify(&Error{Operation: OpListBackups, StatusCode: 400, Code: e.Code, Message: e.Message})
	})
}

func checkDecodeResult(t *testing.T, err error, n int) {
	t.Helper()
	if err == nil {
		return
	}
	if _, ok := err.(*DecodeError); !ok {
		t.Fatalf("error %T is not *DecodeError", err)
	}
	if n != 0 {
		t.Fatalf("%d records with an error", n)
	}
}
