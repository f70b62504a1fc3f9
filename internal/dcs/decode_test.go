package dcs

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// The examples below are copied verbatim from the converted official pages
// in ../shared/dcs-api (02-v2-list-backups.md, 01-v1.0-list-backups.md,
// 04-v2-list-restores.md).

const docV2ListBackups = `{
  "total_num" : 1,
  "backup_record_response" : [ {
    "period" : { },
    "backup_type" : "manual",
    "created_at" : "2019-05-10T08:31:16.166Z",
    "remark" : "001",
    "is_support_restore" : "TRUE",
    "backup_id" : "4631832a-14c6-45b0-a0b3-3abd8f591ad1",
    "backup_name" : "backup_20190510163116",
    "instance_id" : "5560df16-cebf-4473-95c4-d1b573c16e79",
    "size" : 880232,
    "updated_at" : "2019-05-10T08:32:30.546Z",
    "progress" : "100.00",
    "error_code" : { },
    "status" : "succeed",
    "execution_at" : "2019-05-11T08:31:16.166Z",
    "backup_format" : "aof"
  } ]
}`

const docV1ListBackups = `{
    "backup_record_response": [
        {
            "status": "succeed",
            "remark": "001",
            "period": null,
            "progress": "100.00",
            "size": 880232,
            "instance_id": "5560df16-cebf-4473-95c4-d1b573c16e79",
            "backup_id": "4631832a-14c6-45b0-a0b3-3abd8f591ad1",
            "created_at": "2019-05-10T08:31:16.166Z",
            "updated_at": "2019-05-10T08:32:30.546Z",
            "execution_at": "2019-05-10T08:31:21.461Z",
            "backup_type": "manual",
            "backup_format": "AOF",
            "backup_name": "backup_20190510163116",
            "error_code": null,
            "is_support_restore": "TRUE"
        }
    ],
    "total_num": 1
}`

const docV2ListRestores = `{
  "restore_record_response" : [ {
    "backup_id" : "f4823e9e-fe9b-4ffd-be79-4e5d6de272bb",
    "restore_id" : "a6155972-800c-4170-a479-3231e907d2f6",
    "backup_name" : "backup_20170718000002",
    "updated_at" : "2017-07-18T21:41:35.182Z",
    "restore_remark" : "doctest",
    "created_at" : "2017-07-18T21:41:20.721Z",
    "progress" : "100.00",
    "error_code" : { },
    "restore_name" : "restore_20170718214120",
    "backup_remark" : { },
    "status" : "succeed"
  } ],
  "total_num" : 1
}`

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDecodeDocExamples(t *testing.T) {
	want := Backup{
		ID:          "4631832a-14c6-45b0-a0b3-3abd8f591ad1",
		Name:        "backup_20190510163116",
		InstanceID:  "5560df16-cebf-4473-95c4-d1b573c16e79",
		Size:        880232,
		Type:        "manual",
		Format:      FormatAOF,
		Status:      BackupSucceeded,
		Progress:    "100.00",
		Remark:      "001",
		Restorable:  true,
		CreatedAt:   mustTime(t, "2019-05-10T08:31:16.166Z"),
		UpdatedAt:   mustTime(t, "2019-05-10T08:32:30.546Z"),
		ExecutionAt: mustTime(t, "2019-05-11T08:31:16.166Z"),
	}
	wantV1 := want
	wantV1.ExecutionAt = mustTime(t, "2019-05-10T08:31:21.461Z")
	for name, tc := range map[string]struct {
		body string
		want Backup
	}{
		"v2 with {} strings":     {docV2ListBackups, want},
		"v1 with AOF upper case": {docV1ListBackups, wantV1},
	} {
		t.Run(name, func(t *testing.T) {
			got, total, err := decodeBackupList([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if total != 1 || len(got) != 1 {
				t.Fatalf("total %d, %d records", total, len(got))
			}
			if got[0] != tc.want {
				t.Errorf("got  %+v\nwant %+v", got[0], tc.want)
			}
		})
	}
}

func TestDecodeRestoresDocExample(t *testing.T) {
	got, total, err := decodeRestoreList([]byte(docV2ListRestores))
	if err != nil {
		t.Fatal(err)
	}
	want := Restore{
		ID:         "a6155972-800c-4170-a479-3231e907d2f6",
		Name:       "restore_20170718214120",
		BackupID:   "f4823e9e-fe9b-4ffd-be79-4e5d6de272bb",
		BackupName: "backup_20170718000002",
		Remark:     "doctest",
		Status:     RestoreSucceeded,
		Progress:   "100.00",
		CreatedAt:  mustTime(t, "2017-07-18T21:41:20.721Z"),
		UpdatedAt:  mustTime(t, "2017-07-18T21:41:35.182Z"),
	}
	if total != 1 || len(got) != 1 || got[0] != want {
		t.Fatalf("total %d, got %+v\nwant %+v", total, got, want)
	}
}

func TestDecodeLenientFields(t *testing.T) {
	tests := []struct {
		name string
		rec  string
		want func(b Backup) bool
	}{
		{"period string", `{"period":"02:00-03:00"}`, func(b Backup) bool { return b.Period == "02:00-03:00" }},
		{"period null", `{"period":null}`, func(b Backup) bool { return b.Period == "" }},
		{"period array", `{"period":[1,2]}`, func(b Backup) bool { return b.Period == "" }},
		{"error_code number", `{"error_code":42}`, func(b Backup) bool { return b.ErrorCode == "" }},
		{"error_code string", `{"error_code":"dcs.08.0002"}`, func(b Backup) bool { return b.ErrorCode == "dcs.08.0002" }},
		{"progress number", `{"progress":42.5}`, func(b Backup) bool { return b.Progress == "42.50" }},
		{"progress null", `{"progress":null}`, func(b Backup) bool { return b.Progress == "" }},
		{"size string", `{"size":"1024"}`, func(b Backup) bool { return b.Size == 1024 }},
		{"size float", `{"size":1024.0}`, func(b Backup) bool { return b.Size == 1024 }},
		{"size garbage", `{"size":"big"}`, func(b Backup) bool { return b.Size == 0 }},
		{"size huge", `{"size":1e300}`, func(b Backup) bool { return b.Size > 0 }},
		{"restore lower", `{"is_support_restore":"true"}`, func(b Backup) bool { return b.Restorable }},
		{"restore FALSE", `{"is_support_restore":"FALSE"}`, func(b Backup) bool { return !b.Restorable }},
		{"restore bool", `{"is_support_restore":true}`, func(b Backup) bool { return b.Restorable }},
		{"restore object", `{"is_support_restore":{}}`, func(b Backup) bool { return !b.Restorable }},
		{"format RDB", `{"backup_format":"RDB"}`, func(b Backup) bool { return b.Format == FormatRDB }},
		{"status upper", `{"status":"BACKUPING"}`, func(b Backup) bool { return b.Status == BackupRunning }},
		{"time offset", `{"created_at":"2019-05-10T16:31:16.166+08:00"}`, func(b Backup) bool {
			return b.CreatedAt.Equal(time.Date(2019, 5, 10, 8, 31, 16, 166e6, time.UTC)) && b.CreatedAt.Location() == time.UTC
		}},
		{"time no zone", `{"created_at":"2019-05-10T08:31:16"}`, func(b Backup) bool {
			return b.CreatedAt.Equal(time.Date(2019, 5, 10, 8, 31, 16, 0, time.UTC))
		}},
		{"time space", `{"created_at":"2019-05-10 08:31:16"}`, func(b Backup) bool { return !b.CreatedAt.IsZero() }},
		{"time empty", `{"created_at":""}`, func(b Backup) bool { return b.CreatedAt.IsZero() }},
		{"time garbage", `{"created_at":"yesterday"}`, func(b Backup) bool { return b.CreatedAt.IsZero() }},
		{"time object", `{"created_at":{}}`, func(b Backup) bool { return b.CreatedAt.IsZero() }},
		{"unknown field", `{"sourceInstanceID":"x","backup_id":"b"}`, func(b Backup) bool { return b.ID == "b" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := decodeBackupList([]byte(`{"total_num":1,"backup_record_response":[` + tc.rec + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !tc.want(got[0]) {
				t.Fatalf("unexpected %+v", got)
			}
		})
	}
}

func TestDecodeListShapes(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantN     int
		wantTotal int64
		wantErr   bool
	}{
		{"empty body (204)", "", 0, 0, false},
		{"whitespace", " \n", 0, 0, false},
		{"null", "null", 0, 0, false},
		{"no total_num", `{"backup_record_response":[{}]}`, 1, totalUnknown, false},
		{"total as string", `{"total_num":"7","backup_record_response":[]}`, 0, 7, false},
		{"records null", `{"total_num":0,"backup_record_response":null}`, 0, 0, false},
		{"not json", `<html>oops</html>`, 0, 0, true},
		{"array top level", `[]`, 0, 0, true},
		{"records object", `{"backup_record_response":{}}`, 0, 0, true},
		{"record not object", `{"backup_record_response":[1]}`, 0, 0, true},
		{"truncated", `{"backup_record_response":[{"backup_id":"x"`, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := decodeBackupList([]byte(tc.body))
			var de *DecodeError
			if tc.wantErr != (err != nil) || (err != nil && !errors.As(err, &de)) {
				t.Fatalf("err %v, wantErr %t", err, tc.wantErr)
			}
			if !tc.wantErr && (len(got) != tc.wantN || total != tc.wantTotal) {
				t.Fatalf("got %d records, total %d", len(got), total)
			}
		})
	}
}

func TestDecodeInstance(t *testing.T) {
	got, err := decodeInstance([]byte(`{"instance_id":"i","name":"orders","status":"running","cache_mode":"HA",
		"engine":"Redis","engine_version":"5.0","capacity":2,"sub_status":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Instance{ID: "i", Name: "orders", Status: "RUNNING", CacheMode: "ha", Engine: "Redis", EngineVersion: "5.0", Capacity: 2}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := decodeInstance([]byte(`"x"`)); err == nil {
		t.Fatal("string body accepted")
	}
}

func TestDecodeID(t *testing.T) {
	if id, err := decodeID([]byte(`{"backup_id" : "548ceeff-2cbb-47ab-9a1c-7b085a8c08d7"}`), "backup_id"); err != nil || id != "548ceeff-2cbb-47ab-9a1c-7b085a8c08d7" {
		t.Fatalf("%q %v", id, err)
	}
	for _, body := range []string{`{}`, `{"backup_id":null}`, `{"backup_id":{}}`, `[]`, ``} {
		var de *DecodeError
		if _, err := decodeID([]byte(body), "backup_id"); !errors.As(err, &de) {
			t.Errorf("%q: err %v, want a DecodeError", body, err)
		}
	}
}

func TestParseErrorBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		want errorBody
	}{
		{"dcs", `{"error_code":"DCS.4096","error_msg":"the instance is backuping.","error_ext_msg":null}`,
			errorBody{Code: "DCS.4096", Message: "the instance is backuping."}},
		{"apig", `{"error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 minute","error_code":"APIG.0308","request_id":"914a39d6"}`,
			errorBody{Code: "APIG.0308", Message: "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 minute", RequestID: "914a39d6"}},
		{"code+message", `{"code":"DCS.5000","message":"Internal service error."}`,
			errorBody{Code: "DCS.5000", Message: "Internal service error."}},
		{"v1 nested numeric", `{"error":{"code":"111404022","message":"This DCS instance does not exist."}}`,
			errorBody{Code: "111404022", Message: "This DCS instance does not exist."}},
		{"nested number code", `{"error":{"code":111400096,"message":"the instance is backuping."}}`,
			errorBody{Code: "111400096", Message: "the instance is backuping."}},
		{"html", "<html>\n<body>502 Bad Gateway</body>\n</html>",
			errorBody{Message: "<html> <body>502 Bad Gateway</body> </html>"}},
		{"empty", ``, errorBody{}},
		{"code object", `{"error_code":{},"error_msg":{}}`, errorBody{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseErrorBody([]byte(tc.body)); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
