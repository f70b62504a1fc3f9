package dcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

const (
	testAK      = "TESTAKEXAMPLE000000001"
	testSK      = "TestSecretKeyThatMustNeverLeak0123456789"
	testToken   = "TestSecurityTokenThatMustNeverLeak+/="
	testProject = "0a1b2c3d4e5f40a1b2c3d4e5f6a7b8c9"
	testInst    = "5560df16-cebf-4473-95c4-d1b573c16e79"
)

var testNow = time.Date(2026, 11, 22, 7, 51, 41, 0, time.UTC)

type captured struct {
	method, path, query string
	header              http.Header
	body                string
}

// stub is a test server that checks every request's signature and
// records it, and answers with handler.
type stub struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []captured
	handler func(w http.ResponseWriter, r *http.Request)
}

func newStub(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) *stub {
	s := &stub{t: t, handler: handler}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	lookup := func(ak string) (string, bool) { return testSK, ak == testAK }
	if _, err := Verify(r, body, lookup, testNow); err != nil {
		s.t.Errorf("stub: request not verifiable: %v", err)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, captured{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(body)})
	n := len(s.reqs)
	s.mu.Unlock()
	w.Header().Set(HeaderRequestID, "req-"+strconv.Itoa(n))
	s.handler(w, r)
}

func (s *stub) requests() []captured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]captured(nil), s.reqs...)
}

func (s *stub) client(t *testing.T, mutate func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		Endpoint:      s.srv.URL,
		AllowInsecure: true,
		ProjectID:     testProject,
		Credentials:   Credentials{AccessKey: testAK, SecretKey: testSK},
		Clock:         clocktesting.NewFakePassiveClock(testNow),
		Limiter:       NewLimiter(0, 0),
		Timeout:       5 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func TestNewValidatesConfig(t *testing.T) {
	base := Config{Endpoint: "https://dcs.eu-de.otc.t-systems.com", ProjectID: testProject,
		Credentials: Credentials{AccessKey: testAK, SecretKey: testSK}}
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"valid", func(*Config) {}, true},
		{"trailing slash", func(c *Config) { c.Endpoint += "/" }, true},
		{"with port", func(c *Config) { c.Endpoint = "https://127.0.0.1:8443" }, true},
		{"http refused", func(c *Config) { c.Endpoint = "http://127.0.0.1:8787" }, false},
		{"http allowed", func(c *Config) { c.Endpoint = "http://127.0.0.1:8787"; c.AllowInsecure = true }, true},
		{"no scheme", func(c *Config) { c.Endpoint = "dcs.eu-de.otc.t-systems.com" }, false},
		{"ftp", func(c *Config) { c.Endpoint = "ftp://x" }, false},
		{"path", func(c *Config) { c.Endpoint += "/v1.0/" + testProject }, false},
		{"query", func(c *Config) { c.Endpoint += "?x=1" }, false},
		{"userinfo", func(c *Config) { c.Endpoint = "https://" + testAK + ":" + testSK + "@host" }, false},
		{"no project", func(c *Config) { c.ProjectID = "" }, false},
		{"bad project", func(c *Config) { c.ProjectID = "a/b" }, false},
		{"no ak", func(c *Config) { c.Credentials.AccessKey = "" }, false},
		{"no sk", func(c *Config) { c.Credentials.SecretKey = "" }, false},
		{"v1", func(c *Config) { c.APIVersion = V1 }, true},
		{"v3", func(c *Config) { c.APIVersion = "v3" }, false},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mutate(&cfg)
			c, err := New(cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok=%t", err, tc.ok)
			}
			if err != nil && (strings.Contains(err.Error(), testSK) || !errors.Is(err, ErrInvalidArgument)) {
				t.Fatalf("bad error %q", err)
			}
			if err == nil && (c.cfg.Timeout != DefaultTimeout || c.cfg.Limiter != DefaultLimiter() || c.APIVersion() == "") {
				t.Fatalf("defaults not applied: %s", c)
			}
		})
	}
}

func TestRequestsLookLikeTheSDK(t *testing.T) {
	tests := []struct {
		name      string
		version   APIVersion
		token     string
		call      func(c *Client) error
		answer    string
		status    int
		wantReq   captured
		wantToken bool
	}{
		{"v2 create", V2, "", func(c *Client) error {
			id, err := c.CreateBackup(context.Background(), testInst, CreateBackupRequest{Remark: "a&b <c> k8s:uid", Format: FormatAOF})
			if err == nil && id != "548ceeff" {
				err = fmt.Errorf("id %q", id)
			}
			return err
		}, `{"backup_id":"548ceeff"}`, 200, captured{method: "POST",
			path:   "/v2/" + testProject + "/instances/" + testInst + "/backups",
			body:   "{\"remark\":\"a&b <c> k8s:uid\",\"backup_format\":\"aof\"}\n",
			header: http.Header{"Content-Type": {"application/json;charset=UTF-8"}}}, false},
		{"v2 create defaults", V2, "", func(c *Client) error {
			_, err := c.CreateBackup(context.Background(), testInst, CreateBackupRequest{})
			return err
		}, `{"backup_id":"x"}`, 200, captured{method: "POST",
			path: "/v2/" + testProject + "/instances/" + testInst + "/backups", body: "{}\n",
			header: http.Header{"Content-Type": {"application/json;charset=UTF-8"}}}, false},
		{"v1 create has no format", V1, testToken, func(c *Client) error {
			_, err := c.CreateBackup(context.Background(), testInst, CreateBackupRequest{Remark: "r", Format: FormatAOF})
			return err
		}, `{"backup_id":"x"}`, 200, captured{method: "POST",
			path: "/v1.0/" + testProject + "/instances/" + testInst + "/backups", body: "{\"remark\":\"r\"}\n",
			header: http.Header{"Content-Type": {"application/json;charset=UTF-8"}}}, true},
		{"v2 list", V2, testToken, func(c *Client) error {
			_, err := c.ListBackups(context.Background(), testInst, ListOptions{
				Begin: time.Date(2024, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)),
				End:   time.Date(2024, 1, 31, 23, 59, 59, 0, time.UTC)})
			return err
		}, ``, 204, captured{method: "GET",
			path:   "/v2/" + testProject + "/instances/" + testInst + "/backups",
			query:  "begin_time=20240101000000&end_time=20240131235959&limit=1000&offset=0",
			header: http.Header{"Content-Type": {"application/json"}}}, true},
		{"v1 list", V1, "", func(c *Client) error {
			_, err := c.ListRestores(context.Background(), testInst, ListOptions{PageSize: 10, Begin: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
			return err
		}, ``, 204, captured{method: "GET",
			path:   "/v1.0/" + testProject + "/instances/" + testInst + "/restores",
			query:  "beginTime=20240101000000&limit=10&start=1",
			header: http.Header{"Content-Type": {"application/json"}}}, false},
		{"v2 delete", V2, "", func(c *Client) error {
			return c.DeleteBackup(context.Background(), testInst, "b1")
		}, ``, 204, captured{method: "DELETE",
			path:   "/v2/" + testProject + "/instances/" + testInst + "/backups/b1",
			header: http.Header{"Content-Type": {"application/json"}}}, false},
		{"v1 delete", V1, "", func(c *Client) error {
			return c.DeleteBackup(context.Background(), testInst, "b1")
		}, `{"message":""}`, 200, captured{method: "DELETE",
			path:   "/v1.0/" + testProject + "/instances/" + testInst + "/backups/b1",
			header: http.Header{"Content-Type": {"application/json"}}}, false},
		{"restore", V2, "", func(c *Client) error {
			id, err := c.RestoreBackup(context.Background(), testInst, "b1", "after incident")
			if err == nil && id != "r1" {
				err = fmt.Errorf("id %q", id)
			}
			return err
		}, `{"restore_id":"r1"}`, 200, captured{method: "POST",
			path:   "/v2/" + testProject + "/instances/" + testInst + "/restores",
			body:   "{\"backup_id\":\"b1\",\"remark\":\"after incident\"}\n",
			header: http.Header{"Content-Type": {"application/json;charset=UTF-8"}}}, false},
		{"show instance", V1, "", func(c *Client) error {
			inst, err := c.ShowInstance(context.Background(), testInst)
			if err == nil && (inst.Status != "RUNNING" || inst.CacheMode != "ha") {
				err = fmt.Errorf("instance %+v", inst)
			}
			return err
		}, `{"instance_id":"i","status":"RUNNING","cache_mode":"ha"}`, 200, captured{method: "GET",
			path:   "/v1.0/" + testProject + "/instances/" + testInst,
			header: http.Header{"Content-Type": {"application/json"}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub(t, func(w http.ResponseWriter, _ *http.Request) {
				if tc.status == 204 {
					w.WriteHeader(204)
					return
				}
				writeJSON(w, tc.status, tc.answer)
			})
			c := s.client(t, func(cfg *Config) { cfg.APIVersion = tc.version; cfg.Credentials.SecurityToken = tc.token })
			if err := tc.call(c); err != nil {
				t.Fatal(err)
			}
			reqs := s.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			checkCaptured(t, reqs[0], tc.wantReq, tc.wantToken)
		})
	}
}

func checkCaptured(t *testing.T, got, want captured, wantToken bool) {
	t.Helper()
	if got.method != want.method || got.path != want.path || got.query != want.query || got.body != want.body {
		t.Errorf("request %s %s?%s %q\n    want %s %s?%s %q", got.method, got.path, got.query, got.body,
			want.method, want.path, want.query, want.body)
	}
	h := got.header
	if ct := h.Get("Content-Type"); ct != want.header.Get("Content-Type") {
		t.Errorf("Content-Type %q", ct)
	}
	if h.Get("User-Agent") != DefaultUserAgent || h.Get(HeaderProjectID) != testProject ||
		h.Get(HeaderSdkDate) != "20261122T075141Z" {
		t.Errorf("headers %v", h)
	}
	signed := "SignedHeaders=user-agent;x-project-id;x-sdk-date,"
	if wantToken {
		signed = "SignedHeaders=user-agent;x-project-id;x-sdk-date;x-security-token,"
	}
	if (h.Get(HeaderSecurityToken) == testToken) != wantToken || !strings.Contains(h.Get("Authorization"), signed) {
		t.Errorf("token/signed headers: %q", h.Get("Authorization"))
	}
}

// TestNewCallsLookLikeTheSDK: the v2-only calls use the v2 path on a V1
// client too (SPEC.md 1, 3), with the documented query and body shapes.
func TestNewCallsLookLikeTheSDK(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name      string
		version   APIVersion
		token     string
		call      func(c *Client) (any, error)
		answer    string
		want      any
		wantReq   captured
		wantToken bool
	}{
		{"v1 list instances uses v2", V1, "", func(c *Client) (any, error) {
			return c.ListInstances(context.Background(), ListInstancesOptions{
				Tags: map[string]string{"team": "shop", "env": "prod"}, Name: "orders", NameExact: true, Status: "RUNNING"})
		}, `{"instance_num":1,"instances":[{"instance_id":"i1","tags":[{"key":"env","value":"prod"}]}]}`,
			[]Instance{{ID: "i1", Tags: map[string]string{"env": "prod"}}},
			captured{method: "GET", path: "/v2/" + testProject + "/instances",
				query: "limit=1000&name=orders&name_equal=true&offset=0&status=RUNNING&tags=env%3Dprod%2Cteam%3Dshop"}, false},
		{"v1 links use v2", V1, testToken, func(c *Client) (any, error) {
			return c.ListBackupFileLinks(context.Background(), testInst, "b1", 30*time.Minute+500*time.Millisecond)
		}, `{"file_path":"p/","bucket_name":"b","links":[{"file_name":"f.rdb","link":"https://x/f.rdb?Signature=s"}]}`,
			BackupFiles{FilePath: "p/", BucketName: "b", Links: []BackupFileLink{{FileName: "f.rdb", URL: "https://x/f.rdb?Signature=s"}},
				ExpiresAt: testNow.Add(30 * time.Minute)},
			captured{method: "POST", path: "/v2/" + testProject + "/instances/" + testInst + "/backups/b1/links",
				body: "{\"expiration\":1800}\n"}, true},
		{"create import from a backup", V1, "", func(c *Client) (any, error) {
			return c.CreateImportTask(context.Background(), ImportTaskRequest{TaskName: "restore-k8s_uid", Description: "k8s:uid",
				BackupID: "b1", TargetInstanceID: "t1", TargetPassword: "Redis&Pass<1>"})
		}, `{"id":"task1","name":"target-instance-name","status":"MIGRATING","error":""}`,
			ImportTask{ID: "task1", Name: "restore-k8s_uid", Description: "k8s:uid", State: ImportRunning, Status: "MIGRATING",
				MigrationType: "backupfile_import", MigrationMethod: "full_amount_migration", FileSource: ImportFromBackup,
				BackupID: "b1", TargetInstanceID: "t1"},
			captured{method: "POST", path: "/v2/" + testProject + "/migration-task",
				body: `{"task_name":"restore-k8s_uid","description":"k8s:uid","migration_type":"backupfile_import",` +
					`"migration_method":"full_amount_migration","backup_files":{"file_source":"backup_record",` +
					`"backup_record":{"backup_id":"b1"}},"target_instance":{"id":"t1","password":"Redis&Pass<1>"}}` + "\n"}, false},
		{"create import from a bucket", V2, "", func(c *Client) (any, error) {
			return c.CreateImportTask(context.Background(), ImportTaskRequest{TaskName: "import1", Bucket: "exports",
				Files:            []ImportFile{{Name: "shop/a.rdb", Size: 1024, UpdatedAt: at}, {Name: "b.tar.gz"}},
				TargetInstanceID: "t1"})
		}, `{"id":"task2","status":"FAILED","error":"no such file"}`,
			ImportTask{ID: "task2", Name: "import1", State: ImportFailed, Status: "FAILED", MigrationType: "backupfile_import",
				MigrationMethod: "full_amount_migration", FileSource: ImportFromOBS, Bucket: "exports",
				Files:            []ImportFile{{Name: "shop/a.rdb", Size: 1024, UpdatedAt: at}, {Name: "b.tar.gz"}},
				TargetInstanceID: "t1", ErrorMessage: "no such file"},
			captured{method: "POST", path: "/v2/" + testProject + "/migration-task",
				body: `{"task_name":"import1","migration_type":"backupfile_import","migration_method":"full_amount_migration",` +
					`"backup_files":{"file_source":"self_build_obs","bucket_name":"exports","files":[{"file_name":"shop/a.rdb",` +
					`"size":"1024","update_at":"2026-01-02 03:04:05"},{"file_name":"b.tar.gz"}]},"target_instance":{"id":"t1"}}` + "\n"},
			false},
		{"show import", V1, "", func(c *Client) (any, error) {
			return c.ShowImportTask(context.Background(), "task1")
		}, `{"task_id":"task1","status":"SUCCESS"}`, ImportTask{ID: "task1", State: ImportSucceeded, Status: "SUCCESS"},
			captured{method: "GET", path: "/v2/" + testProject + "/migration-task/task1"}, false},
		{"list imports", V2, "", func(c *Client) (any, error) {
			return c.ListImportTasks(context.Background(), ListImportTasksOptions{Name: "restore-k8s"})
		}, `{"count":1,"migration_tasks":[{"task_id":"t","status":"FAILED","error_message":"boom"}]}`,
			[]ImportTask{{ID: "t", State: ImportFailed, Status: "FAILED", ErrorMessage: "boom"}},
			captured{method: "GET", path: "/v2/" + testProject + "/migration-tasks", query: "limit=100&name=restore-k8s&offset=0"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, tc.answer) })
			c := s.client(t, func(cfg *Config) { cfg.APIVersion = tc.version; cfg.Credentials.SecurityToken = tc.token })
			got, err := tc.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			reqs := s.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			tc.wantReq.header = http.Header{"Content-Type": {map[string]string{"GET": "application/json",
				"POST": "application/json;charset=UTF-8"}[tc.wantReq.method]}}
			checkCaptured(t, reqs[0], tc.wantReq, tc.wantToken)
		})
	}
}

// pagedServer serves total records, honouring offset/start and limit like
// the simulator, and checks the paging parameters of each request.
func pagedServer(total int, v1 bool) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		var offset int
		if v1 {
			start, _ := strconv.Atoi(q.Get("start"))
			offset = start - 1
		} else {
			offset, _ = strconv.Atoi(q.Get("offset"))
		}
		if total == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var recs []string
		for i := offset; i < total && i < offset+limit; i++ {
			recs = append(recs, fmt.Sprintf(`{"backup_id":"b%d","status":"succeed","period":{}}`, i))
		}
		writeJSON(w, 200, fmt.Sprintf(`{"total_num":%d,"backup_record_response":[%s]}`, total, strings.Join(recs, ",")))
	}
}

func TestListPaging(t *testing.T) {
	tests := []struct {
		name      string
		v1        bool
		total     int
		pageSize  int
		wantCalls int
	}{
		{"empty 204", false, 0, 0, 1},
		{"one page", false, 5, 0, 1},
		{"exact pages", false, 9, 3, 3},
		{"last short page", false, 10, 3, 4},
		{"v1 start is 1-based", true, 10, 3, 4},
		{"page size capped", false, 3, 5000, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub(t, pagedServer(tc.total, tc.v1))
			c := s.client(t, func(cfg *Config) {
				if tc.v1 {
					cfg.APIVersion = V1
				}
			})
			got, err := c.ListBackups(context.Background(), testInst, ListOptions{PageSize: tc.pageSize})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.total {
				t.Fatalf("%d records, want %d", len(got), tc.total)
			}
			for i, b := range got {
				if b.ID != fmt.Sprintf("b%d", i) {
					t.Fatalf("record %d is %s", i, b.ID)
				}
			}
			if n := len(s.requests()); n != tc.wantCalls {
				t.Fatalf("%d requests, want %d", n, tc.wantCalls)
			}
		})
	}
}

func TestListStopsOnLyingServer(t *testing.T) {
	tests := map[string]string{
		"empty page, huge total":  `{"total_num":100000,"backup_record_response":[]}`,
		"same full page for ever": `{"total_num":100000,"backup_record_response":[{"backup_id":"a"},{"backup_id":"b"}]}`,
		"no total, full page":     `{"backup_record_response":[{"backup_id":"a"},{"backup_id":"b"}]}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStub(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, body) })
			got, err := s.client(t, nil).ListBackups(context.Background(), testInst, ListOptions{PageSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(s.requests()); n > 2 || len(got) > 2 {
				t.Fatalf("%d requests, %d records", n, len(got))
			}
		})
	}
}

func TestErrorAnswers(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		wantClass  Class
		wantCode   string
		wantReqID  string
		wantRetry  time.Duration
		wantDecode bool
	}{
		{"busy", 400, nil, `{"error_code":"DCS.4096","error_msg":"the instance is backuping.","error_ext_msg":null}`,
			ClassBusy, "DCS.4096", "req-1", 0, false},
		{"throttled with body request id", 429, map[string]string{"Retry-After": "3", HeaderRequestID: ""},
			`{"error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 minute","error_code":"APIG.0308","request_id":"914a39d6"}`,
			ClassThrottled, "APIG.0308", "914a39d6", 3 * time.Second, false},
		{"html gateway", 502, nil, "<html><body>Bad Gateway</body></html>", ClassTransient, "", "req-1", 0, false},
		{"empty 500", 500, nil, "", ClassTransient, "", "req-1", 0, false},
		{"unknown instance", 404, nil, `{"error_code":"DCS.3022","error_msg":"This DCS instance does not exist."}`,
			ClassNotFound, "DCS.3022", "req-1", 0, false},
		{"malformed 200", 200, nil, `{"total_num":1,"backup_record_response":{"oops":1}}`,
			ClassTerminal, "", "req-1", 0, true},
		{"redirect is an error", 302, map[string]string{"Location": "https://elsewhere/"}, ``,
			ClassTerminal, "", "req-1", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub(t, func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tc.header {
					if v == "" {
						w.Header().Del(k)
					} else {
						w.Header().Set(k, v)
					}
				}
				writeJSON(w, tc.status, tc.body)
			})
			_, err := s.client(t, nil).ListBackups(context.Background(), testInst, ListOptions{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not *Error", err)
			}
			var de *DecodeError
			if Classify(err) != tc.wantClass || e.Code != tc.wantCode || e.RequestID != tc.wantReqID ||
				RetryAfter(err) != tc.wantRetry || errors.As(err, &de) != tc.wantDecode || e.StatusCode != tc.status {
				t.Fatalf("got %s class %s retry %s (%+v)", err, Classify(err), RetryAfter(err), *e)
			}
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), OpListBackups) {
				t.Fatalf("error text %q", err)
			}
		})
	}
}

func TestTimeoutsAndCancellation(t *testing.T) {
	release := make(chan struct{})
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(204)
	})
	defer close(release)
	c := s.client(t, func(cfg *Config) { cfg.Timeout = 50 * time.Millisecond })

	_, err := c.ListBackups(context.Background(), testInst, ListOptions{})
	if Classify(err) != ClassTransient || !errors.Is(err, ErrTimeout) {
		t.Fatalf("per-call timeout: %v (%s)", err, Classify(err))
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	_, err = c.ListBackups(ctx, testInst, ListOptions{})
	if Classify(err) != ClassCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled parent: %v (%s)", err, Classify(err))
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	_, err = c.ListBackups(ctx, testInst, ListOptions{})
	if Classify(err) != ClassCanceled {
		t.Fatalf("parent deadline: %v (%s)", err, Classify(err))
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	s := newStub(t, func(http.ResponseWriter, *http.Request) {})
	c := s.client(t, nil)
	s.srv.Close()
	err := c.DeleteBackup(context.Background(), testInst, "b1")
	if Classify(err) != ClassTransient {
		t.Fatalf("%v (%s)", err, Classify(err))
	}
}

func TestInvalidArgumentsSendNothing(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	c := s.client(t, nil)
	ctx := context.Background()
	errs := []error{
		func() error { _, err := c.ListBackups(ctx, "", ListOptions{}); return err }(),
		func() error { _, err := c.ListBackups(ctx, "../x", ListOptions{}); return err }(),
		func() error {
			_, err := c.CreateBackup(ctx, testInst, CreateBackupRequest{Format: "zip"})
			return err
		}(),
		c.DeleteBackup(ctx, testInst, "a/b"),
		func() error { _, err := c.RestoreBackup(ctx, testInst, "", ""); return err }(),
		func() error {
			_, err := c.CreateBackup(ctx, testInst, CreateBackupRequest{Remark: strings.Repeat("r", 129)})
			return err
		}(),
		func() error { _, err := c.RestoreBackup(ctx, testInst, "b", strings.Repeat("ä", 129)); return err }(),
	}
	for i, err := range errs {
		var e *Error
		if !errors.As(err, &e) || Classify(err) != ClassTerminal || !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%d: %v", i, err)
		}
	}
	if n := len(s.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestLimiter(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	lim := NewLimiter(1, 1)
	c := s.client(t, func(cfg *Config) { cfg.Limiter = lim; cfg.Timeout = 100 * time.Millisecond })
	if _, err := c.ListBackups(context.Background(), testInst, ListOptions{}); err != nil {
		t.Fatal(err)
	}
	// The bucket is empty; the next token comes in 1 s, after the 100 ms
	// per-call timeout, so the limiter refuses at once.
	_, err := c.ListBackups(context.Background(), testInst, ListOptions{})
	if Classify(err) != ClassThrottled || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("%v (%s)", err, Classify(err))
	}
	a, b := lim.Bucket(s.srv.URL, testProject), lim.Bucket(s.srv.URL, testProject)
	if a != b || lim.Bucket(s.srv.URL, "other") == a {
		t.Fatal("buckets are not per endpoint and project")
	}
	if NewLimiter(0, 0).Bucket("a", "b").Limit() != NewLimiter(-1, 5).Bucket("a", "b").Limit() {
		t.Fatal("rps <= 0 is not unlimited")
	}
}

func TestConcurrentCalls(t *testing.T) {
	s := newStub(t, pagedServer(7, false))
	c := s.client(t, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.ListBackups(context.Background(), testInst, ListOptions{PageSize: 2})
			if err != nil || len(got) != 7 {
				t.Errorf("%d records, %v", len(got), err)
			}
		}()
	}
	wg.Wait()
}

func TestRequestBodyIsSDKEncoded(t *testing.T) {
	// The SDK's json.Encoder without HTML escaping: & < > stay literal and
	// a newline ends the body (SPEC.md 5; vector create-backup-unicode-remark).
	b, err := encodeBody(map[string]string{"remark": "备份 täglich & weekly <x>"})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]string
	if string(b) != "{\"remark\":\"备份 täglich & weekly <x>\"}\n" || json.Unmarshal(b, &back) != nil {
		t.Fatalf("%q", b)
	}
}
