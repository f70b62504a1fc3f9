package simulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/dcstest"
)

func TestBadRequests(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	done := e.create(instA, "", "")
	e.step(100 * time.Second)
	tests := []struct {
		name, method, target, body string
		status                     int
		code                       string
	}{
		{"malformed JSON", "POST", path(versionV2, instA+"/backups"), `{"remark":`, 400, "DCS.4005"},
		{"trailing garbage", "POST", path(versionV2, instA+"/backups"), `{"remark":"x"}}`, 400, "DCS.4005"},
		{"remark wrong type", "POST", path(versionV2, instA+"/backups"), `{"remark":5}`, 400, "DCS.4800"},
		{"unknown backup_format", "POST", path(versionV2, instA+"/backups"), `{"backup_format":"zip"}`, 400, "DCS.4800"},
		{"upper-case backup_format", "POST", path(versionV2, instA+"/backups"), `{"backup_format":"AOF"}`, 400, "DCS.4800"},
		{"negative offset", "GET", path(versionV2, instA+"/backups?offset=-1"), "", 400, "DCS.4800"},
		{"non-numeric offset", "GET", path(versionV2, instA+"/backups?offset=abc"), "", 400, "DCS.4800"},
		{"limit zero", "GET", path(versionV2, instA+"/backups?limit=0"), "", 400, "DCS.4800"},
		{"limit 1001", "GET", path(versionV2, instA+"/restores?limit=1001"), "", 400, "DCS.4800"},
		{"non-numeric limit", "GET", path(versionV2, instA+"/backups?limit=ten"), "", 400, "DCS.4800"},
		{"v1 start 0", "GET", path(versionV1, instA+"/backups?start=0"), "", 400, "DCS.4800"},
		{"bad begin_time", "GET", path(versionV2, instA+"/backups?begin_time=2024-01-01"), "", 400, "DCS.4800"},
		{"bad v1 endTime", "GET", path(versionV1, instA+"/restores?endTime=yesterday"), "", 400, "DCS.4800"},
		{"unknown instance", "GET", path(versionV2, instNone+"/backups"), "", 404, "DCS.3022"},
		{"unknown backup id", "DELETE", path(versionV2, instA+"/backups/nope"), "", 400, "DCS.4031"},
		{"backup of another instance", "DELETE", path(versionV2, instB+"/backups/"+done), "", 400, "DCS.4031"},
		{"restore without body", "POST", path(versionV2, instA+"/restores"), "", 400, "DCS.4004"},
		{"restore without backup_id", "POST", path(versionV2, instA+"/restores"), `{"remark":"x"}`, 400, "DCS.4800"},
		{"restore malformed", "POST", path(versionV1, instA+"/restores"), `[`, 400, "DCS.4005"},
		{"links expiration too short", "POST", path(versionV2, instA+"/backups/"+done+"/links"), `{"expiration":60}`, 400, "DCS.4800"},
		{"links unknown backup", "POST", path(versionV2, instA+"/backups/x/links"), `{"expiration":1800}`, 400, "DCS.4031"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.raw(tc.method, tc.target, tc.body, nil)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			m := a.json(t)
			ext, hasExt := m["error_ext_msg"]
			if m["error_code"] != tc.code || m["error_msg"] == "" || !hasExt || ext != nil {
				t.Fatalf("body %s, want a documented DCS error with %s", a.body, tc.code)
			}
		})
	}
}

func TestGatewayAnswers(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	tests := []struct {
		name, method, target string
		mutate               func(r *http.Request)
		status               int
		code                 string
	}{
		{"unknown route", "GET", "/v3/" + DefaultProjectID + "/instances/" + instA, nil, 404, "APIG.0101"},
		{"wrong method", "PUT", path(versionV2, instA+"/backups"), nil, 404, "APIG.0101"},
		{"trailing slash", "GET", path(versionV2, instA+"/backups/"), nil, 404, "APIG.0101"},
		{"no signature", "GET", path(versionV2, instA), func(r *http.Request) { r.Header.Del("Authorization") }, 401, "APIG.0301"},
		{"tampered", "GET", path(versionV2, instA), func(r *http.Request) { r.Header.Set("User-Agent", "evil") }, 401, "APIG.0301"},
		{"project header mismatch", "GET", path(versionV2, instA), func(r *http.Request) {
			r.Header.Set(dcs.HeaderProjectID, "other")
		}, 401, "APIG.0301"}, // X-Project-Id is signed: tampering breaks the signature first
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.raw(tc.method, tc.target, "", tc.mutate)
			m := a.json(t)
			if a.status != tc.status || m["error_code"] != tc.code || m["request_id"] != a.header.Get(dcs.HeaderRequestID) {
				t.Fatalf("%d %s", a.status, a.body)
			}
		})
	}
}

func TestProjectHeaderMismatch(t *testing.T) {
	// A correctly signed request whose X-Project-Id differs from the path.
	e := newEnv(t, dcs.V2, nil)
	a := e.raw("GET", path(versionV2, instA), "", nil)
	if a.status != 200 {
		t.Fatal(a.body)
	}
	r := signedRequest(t, e, "GET", path(versionV2, instA), "", func(r *http.Request) {
		r.Header.Set(dcs.HeaderProjectID, "ffffffffffffffffffffffffffffffff")
	})
	a = serve(t, e.sim, r)
	if m := a.json(t); a.status != 401 || m["error_code"] != "DCS.1004" {
		t.Fatalf("%d %s", a.status, a.body)
	}
}

// signedRequest builds a request, lets before change it, then signs it.
func signedRequest(t *testing.T, e *env, method, target, body string, before func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, "http://dcs.example.com"+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.sim.ClientConfig("")
	r.Header.Set(dcs.HeaderProjectID, cfg.ProjectID)
	r.Header.Set(dcs.HeaderSdkDate, e.clk.Now().UTC().Format(dcs.SdkDateLayout))
	if before != nil {
		before(r)
	}
	if err := dcs.Sign(r, []byte(body), cfg.Credentials.AccessKey, cfg.Credentials.SecretKey); err != nil {
		t.Fatal(err)
	}
	r.RequestURI = r.URL.RequestURI()
	return r
}

func TestWireFormatV2(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	a := e.raw("GET", path(versionV2, instA+"/backups"), "", nil)
	if a.status != 204 || a.body != "" || a.header.Get("Content-Type") != "" {
		t.Fatalf("empty list: %d %q %v", a.status, a.body, a.header)
	}
	e.create(instA, "a&b <c>", dcs.FormatAOF)

	a = e.raw("GET", path(versionV2, instA+"/backups"), "", nil)
	for _, want := range []string{`"period":null`, `"error_code":null`, `"updated_at":null`, `"execution_at":null`,
		`"remark":"a&b <c>"`, `"progress":"0.00"`, `"is_support_restore":"FALSE"`, `"backup_format":"aof"`,
		`"total_num":1`, `"status":"waiting"`, `"created_at":"2026-11-22T07:51:41.000Z"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("v2 list lacks %s: %s", want, a.body)
		}
	}
	if strings.Contains(a.body, "{}") {
		t.Errorf("{} in %s", a.body)
	}
}

func TestWireFormatV1AndOthers(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	e.create(instA, "", dcs.FormatAOF)
	e.step(100 * time.Second)
	a := e.raw("GET", path(versionV1, instA+"/backups"), "", nil)
	for _, want := range []string{`"backup_format":"AOF"`, `"is_support_restore":"TRUE"`, `"progress":"100.00"`,
		`"updated_at":"2026-11-22T07:53:21.000Z"`, `"execution_at":"2026-11-22T07:51:51.000Z"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("v1 list lacks %s: %s", want, a.body)
		}
	}
	// A page past the end is an empty page, not a 204.
	a = e.raw("GET", path(versionV2, instA+"/backups?offset=5"), "", nil)
	if a.status != 200 || !strings.Contains(a.body, `"backup_record_response":[]`) || !strings.Contains(a.body, `"total_num":1`) {
		t.Fatalf("past the end: %d %s", a.status, a.body)
	}
	bid := e.sim.Backups()[0].ID
	if a := e.raw("DELETE", path(versionV1, instA+"/backups/"+bid), "", nil); a.status != 200 || strings.TrimSpace(a.body) != `{"message":""}` {
		t.Fatalf("v1 delete: %d %q", a.status, a.body)
	}
	a = e.raw("POST", path(versionV2, instA+"/backups"), "", nil)
	if a.status != 200 || !strings.Contains(a.body, `"backup_id":"`) {
		t.Fatalf("create without body: %d %s", a.status, a.body)
	}
	e.step(100 * time.Second)
	bid = e.sim.Backups()[1].ID
	a = e.raw("POST", path(versionV2, instA+"/backups/"+bid+"/links"), `{"expiration":1800}`, nil)
	if a.status != 200 || !strings.Contains(a.body, `"links":[{"file_name":"redis_`) {
		t.Fatalf("links: %d %s", a.status, a.body)
	}
}

// signingVector is one request signed by the official SDK (SPEC.md 7).
type signingVector dcstest.SigningVector

func loadVectors(t *testing.T) []signingVector {
	t.Helper()
	_, vectors, err := dcstest.SigningVectors()
	if err != nil || len(vectors) != 7 {
		t.Fatalf("vectors: %d, %v", len(vectors), err)
	}
	out := make([]signingVector, len(vectors))
	for i, v := range vectors {
		out[i] = signingVector(v)
	}
	return out
}

// request builds the request as the server receives it.
func (v signingVector) request(t *testing.T) *http.Request {
	t.Helper()
	var b strings.Builder
	b.WriteString(v.Method + " " + v.RequestURI + " HTTP/1.1\r\nHost: " + v.Host + "\r\n")
	keys := make([]string, 0, len(v.Headers))
	for k := range v.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "Content-Length" {
			b.WriteString(k + ": " + v.Headers[k] + "\r\n")
		}
	}
	// Content-Length follows the (possibly tampered) body, so that the
	// server reads all of it.
	fmt.Fprintf(&b, "Content-Length: %d\r\n", len(v.Body))
	b.WriteString("Authorization: " + v.Authorization + "\r\n\r\n" + v.Body)
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func vectorSimulator(t *testing.T, v signingVector) *Simulator {
	t.Helper()
	date, err := time.Parse(dcs.SdkDateLayout, v.Headers["X-Sdk-Date"])
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{
		Clock:       clocktesting.NewFakePassiveClock(date),
		Credentials: map[string]Credential{v.AccessKey: {SecretKey: v.SecretKey, SecurityToken: v.SecurityToken}},
		Instances:   []Instance{{ID: instA}},
	})
}

func TestSigningVectorsThroughTheSimulator(t *testing.T) {
	tampers := map[string]func(v *signingVector){
		"method": func(v *signingVector) {
			v.Method = map[string]string{"GET": "POST", "POST": "GET", "DELETE": "POST"}[v.Method]
		},
		"path": func(v *signingVector) { v.RequestURI = strings.Replace(v.RequestURI, "5560df16", "5560df17", 1) },
		"query": func(v *signingVector) {
			v.RequestURI += map[bool]string{true: "&x=1", false: "?x=1"}[strings.Contains(v.RequestURI, "?")]
		},
		"signed header": func(v *signingVector) {
			v.Headers["User-Agent"] += " tampered"
		},
		"body":   func(v *signingVector) { v.Body += " " },
		"secret": func(v *signingVector) { v.SecretKey += "x" },
	}
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			sim := vectorSimulator(t, v)
			a := serve(t, sim, v.request(t))
			if a.status == 401 || a.status == 403 || a.status >= 500 {
				t.Fatalf("vector rejected: %d %s", a.status, a.body)
			}
			for name, tamper := range tampers {
				tv := v
				tv.Headers = map[string]string{}
				for k, val := range v.Headers {
					tv.Headers[k] = val
				}
				tamper(&tv)
				sim := vectorSimulator(t, tv) // a tampered secret is the server's
				tv.SecretKey = v.SecretKey
				a := serve(t, sim, tv.request(t))
				rejected := a.status == 401 || (name == "method" && a.status == 404 && v.Method == "DELETE")
				if !rejected {
					t.Errorf("%s tampered: %d %s", name, a.status, a.body)
				}
			}
		})
	}
}

// admin calls the admin API of an env's server.
type admin struct {
	t   *testing.T
	url string
}

func (a admin) post(p, body string) map[string]any {
	a.t.Helper()
	res, err := http.Post(a.url+AdminPrefix+p, "application/json", strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	if res.StatusCode != 200 || res.Header.Get(dcs.HeaderRequestID) == "" {
		a.t.Fatalf("POST %s: %d %v", p, res.StatusCode, m)
	}
	return m
}

func (a admin) get(p string, v any) {
	a.t.Helper()
	res, err := http.Get(a.url + AdminPrefix + p)
	if err != nil {
		a.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != 200 {
		a.t.Fatalf("GET %s: %d", p, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		a.t.Fatal(err)
	}
}

func (a admin) status(method, p, body string) int {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.url+AdminPrefix+p, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.Header.Get(dcs.HeaderRequestID) == "" {
		a.t.Fatalf("%s %s: no X-Request-Id", method, p)
	}
	return res.StatusCode
}

func TestAdminInstancesAndFaults(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	a := admin{t, e.srv.URL}
	a.post("instances", `{"instance_id":"new-inst","cache_mode":"cluster"}`)
	var insts []Instance
	a.get("instances", &insts)
	if len(insts) != 4 || insts[3].ID != "new-inst" || insts[3].CacheMode != "cluster" || insts[3].Status != "RUNNING" {
		t.Fatalf("instances %+v", insts)
	}
	a.post("faults", `{"latency":"1ms","error_rate":0.5}`)
	var f Faults
	a.get("faults", &f)
	if f.Latency != time.Millisecond || f.ErrorRate != 0.5 {
		t.Fatalf("faults %+v", f)
	}
	a.post("faults", `{}`)
	a.post("fail-next", `{"count":1,"operation":"create","status":503,"code":"DCS.5000"}`)
	_, err := e.client.CreateBackup(e.ctx, "new-inst", dcs.CreateBackupRequest{})
	if de := wantAPIError(t, err, dcs.ClassTransient, "DCS.5000"); de.StatusCode != 503 {
		t.Fatalf("%+v", de)
	}
	var st Stats
	a.get("stats", &st)
	if st.Requests[OpCreate] != 1 || st.Codes["DCS.5000"] != 1 || st.Statuses[503] != 1 || st.Outcomes[OpCreate]["DCS.5000"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	a.post("stats/reset", ``)
	a.get("stats", &st)
	if st.Total != 0 {
		t.Fatalf("after reset %+v", st)
	}
}

func TestAdminRecords(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	a := admin{t, e.srv.URL}
	a.post("fail-backups", `{"instance_id":"`+instB+`","count":1}`)
	e.create(instB, "via admin test", "")
	auto := a.post("auto-backups", `{"instance_id":"`+instA+`"}`)
	e.step(100 * time.Second)

	var recs []BackupRecord
	a.get("backups", &recs)
	if len(recs) != 2 || recs[0].Remark != "via admin test" || recs[0].Status != "failed" || recs[0].FinishedAt.IsZero() ||
		recs[1].ID != auto["backup_id"] || recs[1].Type != "auto" || recs[1].Origin != "auto" {
		t.Fatalf("backups %+v", recs)
	}
	a.post("fail-restores", `{"count":1}`)
	if rs := a.post("restores", `{"instance_id":"`+instA+`","backup_id":"`+recs[1].ID+`","remark":"console"}`); rs["restore_id"] == "" {
		t.Fatalf("restore %v", rs)
	}
	e.step(time.Minute)
	var rrecs []RestoreRecord
	a.get("restores", &rrecs)
	if len(rrecs) != 1 || rrecs[0].Status != "failed" || rrecs[0].Remark != "console" || rrecs[0].Origin != "admin" {
		t.Fatalf("restores %+v", rrecs)
	}
	a.post("expire", `{"instance_id":"`+instA+`","backup_id":"`+recs[1].ID+`"}`)
	if b := e.backup(instA, recs[1].ID); b.Status != dcs.BackupExpired {
		t.Fatalf("expired %+v", b)
	}
}

func TestAdminErrors(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	a := admin{t, e.srv.URL}
	tests := []struct {
		method, path, body string
		status             int
	}{
		{"POST", "instances", `{"instance_id":""}`, 400},
		{"POST", "faults", `{"latency":"soon"}`, 400},
		{"POST", "faults", `[`, 400},
		{"POST", "restores", `{"instance_id":"nope"}`, 404},
		{"POST", "restores", `{"instance_id":"` + instA + `","backup_id":"nope"}`, 400},
		{"POST", "auto-backups", `{"instance_id":"` + instSingle + `"}`, 400},
		{"POST", "expire", `{"instance_id":"` + instA + `","backup_id":"nope"}`, 400},
		{"POST", "fail-next", `{"retry_after":"x"}`, 400},
		{"GET", "nope", ``, 404},
		{"DELETE", "stats", ``, 404},
	}
	for _, tc := range tests {
		if got := a.status(tc.method, tc.path, tc.body); got != tc.status {
			t.Errorf("%s %s %s: %d, want %d", tc.method, tc.path, tc.body, got, tc.status)
		}
	}
}

func TestLogLinesHaveNoSecrets(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	e := newEnv(t, dcs.V2, func(o *Options) {
		o.Logger = logger
		o.Credentials = map[string]Credential{"ASIALOGTESTACCESSKEY": {SecretKey: "log-test-secret-key-000000", SecurityToken: "log-test-token"}}
	})
	e.create(instA, "r", "")
	_, _ = e.client.ListBackups(e.ctx, instA, dcs.ListOptions{})
	e.raw("GET", "/nowhere", "", nil)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines: %s", len(lines), buf.String())
	}
	for _, want := range []string{"method=POST", "status=200", "op=create", "request_id=", "duration=", "code=APIG.0101"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %s: %s", want, buf.String())
		}
	}
	for _, secret := range []string{"log-test-secret-key", "log-test-token", "ASIALOGTESTACCESSKEY", "Signature=", "SDK-HMAC"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, dcs.V2, func(o *Options) { o.AutoBackupInterval = time.Minute; o.Faults.ErrorRate = 0.1 })
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				e.step(10 * time.Second)
				_ = e.sim.Stats()
				_ = e.sim.Backups()
			}
		}
	}()
	var clients sync.WaitGroup
	for i := range 6 {
		inst := []string{instA, instB}[i%2]
		clients.Add(1)
		go func() {
			defer clients.Done()
			for range 20 {
				id, err := e.client.CreateBackup(e.ctx, inst, dcs.CreateBackupRequest{})
				_, _ = e.client.ListBackups(e.ctx, inst, dcs.ListOptions{PageSize: 3})
				if err == nil {
					_ = e.client.DeleteBackup(e.ctx, inst, id)
					_, _ = e.client.RestoreBackup(e.ctx, inst, id, "")
				}
				_, _ = e.client.ListRestores(e.ctx, inst, dcs.ListOptions{})
			}
		}()
	}
	clients.Wait()
	close(stop)
	wg.Wait()
	st := e.sim.Stats()
	if st.Requests[OpListBackups] < 120 || st.Total < 360 {
		t.Fatalf("stats %+v", st)
	}
}
