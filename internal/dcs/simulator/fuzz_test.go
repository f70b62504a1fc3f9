package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// FuzzServeHTTP sends arbitrary methods, paths, queries, bodies and a
// header through the handler, signed or not: it must never panic, and every
// answer must carry X-Request-Id and, when it has a body, valid JSON. The
// seed corpus runs with every `go test`; fuzz longer with
//
//	go test -run=^$ -fuzz=FuzzServeHTTP -fuzztime=90s ./internal/dcs/simulator/
func FuzzServeHTTP(f *testing.F) {
	p := "/v2/" + DefaultProjectID + "/instances/" + instA
	p1 := "/v1.0/" + DefaultProjectID + "/instances/" + instA
	seeds := []struct {
		method, path, query, body, hname, hvalue string
		sign                                     bool
	}{
		{"POST", p + "/backups", "", `{"remark":"x","backup_format":"aof"}`, "", "", true},
		{"POST", p1 + "/backups", "", `{"remark":"x"}`, "", "", true},
		{"GET", p + "/backups", "offset=0&limit=2&begin_time=20261122000000&end_time=20261123000000", "", "", "", true},
		{"GET", p1 + "/backups", "start=1&limit=1&beginTime=20261122000000", "", "", "", true},
		{"GET", p + "/restores", "offset=-1", "", "", "", true},
		{"DELETE", p + "/backups/x", "", "", "", "", true},
		{"POST", p + "/backups/x/links", "", `{"expiration":1800}`, "", "", true},
		{"POST", p + "/restores", "", `{"backup_id":"x","remark":"r"}`, "", "", true},
		{"GET", p, "", "", "X-Security-Token", "t", true},
		{"GET", p, "", "", "X-Project-Id", "other", true},
		{"GET", p, "", "", "Authorization", "SDK-HMAC-SHA256 Access=A, SignedHeaders=host, Signature=00", false},
		{"PUT", "/v2/%zz/instances", "a=%zz", "\x00", "X-Sdk-Date", "garbage", false},
		{"GET", "/v2/" + DefaultProjectID + "/instances", "tags=env%3Dprod%2Cteam&limit=1&offset=0&name=x&name_equal=true", "", "", "", true},
		{"POST", "/v2/" + DefaultProjectID + "/migration-task", "", `{"task_name":"restore1","migration_type":"backupfile_import",` +
			`"migration_method":"full_amount_migration","backup_files":{"file_source":"self_build_obs","bucket_name":"b",` +
			`"files":[{"file_name":"a.rdb","size":"10"}]},"target_instance":{"id":"` + instA + `","password":"p"}}`, "", "", true},
		{"GET", "/v2/" + DefaultProjectID + "/migration-task/x", "", "", "", "", true},
		{"POST", "/v2/" + DefaultProjectID + "/migration-task/x/stop", "", "", "", "", true},
		{"GET", "/v2/" + DefaultProjectID + "/migration-tasks", "name=r&offset=0&limit=1000", "", "", "", true},
		{"DELETE", "/v2/" + DefaultProjectID + "/migration-tasks/delete", "", `{"task_id_list":["x"]}`, "", "", true},
		{"GET", ObjectPrefix + "bucket/i/b/f.rdb", "AWSAccessKeyId=A&Expires=1&Signature=x", "", "Range", "bytes=-5", false},
		{"HEAD", ObjectPrefix + "x", "", "", "", "", false},
		{"GET", AdminPrefix + "stats", "", "", "", "", false},
		{"POST", AdminPrefix + "links/expire", "", "", "", "", false},
		{"POST", AdminPrefix + "tags", "", `{"instance_id":"` + instA + `","tags":{"a":"b"}}`, "", "", false},
		{"POST", AdminPrefix + "faults", "", `{"latency":"-5s"}`, "", "", false},
		{"POST", AdminPrefix + "instances", "", `{"instance_id":"z","status":"ERROR"}`, "", "", false},
		{"POST", AdminPrefix + "fail-next", "", `{"count":1,"status":99}`, "", "", false},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, []byte(s.body), s.hname, s.hvalue, s.sign)
	}
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte, hname, hvalue string, sign bool) {
		clk := clocktesting.NewFakeClock(t0)
		sim := New(Options{Clock: clk, Seed: 7, Instances: []Instance{{ID: instA}}, AutoBackupInterval: time.Hour,
			BackupDuration: time.Minute, RestoreDuration: time.Minute})
		// Latency (set through the admin API) would only slow the fuzzer down.
		if path == AdminPrefix+"faults" {
			return
		}
		for range 2 { // a second pass sees the state the first one left
			r := fuzzRequest(method, path, query, body, hname, hvalue)
			if sign {
				cfg := sim.ClientConfig("")
				r.Header.Set(dcs.HeaderSdkDate, clk.Now().UTC().Format(dcs.SdkDateLayout))
				if dcs.Sign(r, body, cfg.Credentials.AccessKey, cfg.Credentials.SecretKey) != nil {
					return
				}
			}
			checkAnswer(t, sim, r)
			clk.Step(40 * time.Second)
		}
	})
}

func fuzzRequest(method, path, query string, body []byte, hname, hvalue string) *http.Request {
	r := &http.Request{
		Method:     method,
		URL:        &url.URL{Scheme: "http", Host: "sim", Path: path, RawQuery: query},
		Host:       "sim",
		Header:     http.Header{},
		Body:       http.NoBody,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
	}
	if len(body) > 0 {
		r.Body = httpBody(body)
		r.ContentLength = int64(len(body))
	}
	r.Header.Set("User-Agent", "fuzz")
	r.Header.Set(dcs.HeaderProjectID, DefaultProjectID)
	if hname != "" {
		r.Header[hname] = []string{hvalue}
	}
	return r
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func httpBody(b []byte) readCloser { return readCloser{bytes.NewReader(append([]byte(nil), b...))} }

func checkAnswer(t *testing.T, h http.Handler, r *http.Request) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get(dcs.HeaderRequestID) == "" {
		t.Fatalf("%s %q: no X-Request-Id", r.Method, r.URL.String())
	}
	if w.Code < 200 || w.Code > 599 {
		t.Fatalf("status %d", w.Code)
	}
	// Download links answer files and S3-style XML, not JSON.
	if w.Body.Len() > 0 && !strings.HasPrefix(r.URL.Path, ObjectPrefix) && !json.Valid(w.Body.Bytes()) {
		t.Fatalf("invalid JSON body %q", w.Body.String())
	}
	if w.Code == http.StatusNoContent && w.Body.Len() != 0 {
		t.Fatalf("204 with a body")
	}
}
