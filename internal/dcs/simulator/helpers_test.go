package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

const (
	instA      = "5560df16-cebf-4473-95c4-d1b573c16e79"
	instB      = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	instSingle = "11111111-2222-4333-8444-555555555555"
	instNone   = "00000000-0000-4000-8000-000000000000"
)

var t0 = time.Date(2026, 11, 22, 7, 51, 41, 0, time.UTC)

var versions = []dcs.APIVersion{dcs.V2, dcs.V1}

// env is a simulator on a fake clock behind a real HTTP server, and a
// client for it.
type env struct {
	t      testing.TB
	clk    *clocktesting.FakeClock
	sim    *Simulator
	srv    *httptest.Server
	client *dcs.Client
	ctx    context.Context
}

func newEnv(t testing.TB, version dcs.APIVersion, mutate func(*Options)) *env {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	opts := Options{
		Clock: clk,
		Seed:  1,
		Instances: []Instance{
			{ID: instA}, {ID: instB, CacheMode: "cluster"}, {ID: instSingle, CacheMode: "single"},
		},
		BackupDuration:  100 * time.Second,
		RestoreDuration: 50 * time.Second,
	}
	if mutate != nil {
		mutate(&opts)
	}
	sim, srv := NewServer(opts)
	t.Cleanup(srv.Close)
	e := &env{t: t, clk: clk, sim: sim, srv: srv, ctx: context.Background()}
	e.client = e.newClient(func(c *dcs.Config) { c.APIVersion = version })
	return e
}

func (e *env) newClient(mutate func(*dcs.Config)) *dcs.Client {
	e.t.Helper()
	cfg := e.sim.ClientConfig(e.srv.URL)
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := dcs.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) step(d time.Duration) { e.clk.Step(d) }

// create makes a backup and fails the test on error.
func (e *env) create(inst, remark string, format dcs.BackupFormat) string {
	e.t.Helper()
	id, err := e.client.CreateBackup(e.ctx, inst, dcs.CreateBackupRequest{Remark: remark, Format: format})
	if err != nil {
		e.t.Fatalf("create: %v", err)
	}
	return id
}

func (e *env) backups(inst string, opts dcs.ListOptions) []dcs.Backup {
	e.t.Helper()
	got, err := e.client.ListBackups(e.ctx, inst, opts)
	if err != nil {
		e.t.Fatalf("list backups: %v", err)
	}
	return got
}

func (e *env) backup(inst, id string) dcs.Backup {
	e.t.Helper()
	for _, b := range e.backups(inst, dcs.ListOptions{}) {
		if b.ID == id {
			return b
		}
	}
	e.t.Fatalf("backup %s not listed", id)
	return dcs.Backup{}
}

// restores lists the restores of instA.
func (e *env) restores() []dcs.Restore {
	e.t.Helper()
	got, err := e.client.ListRestores(e.ctx, instA, dcs.ListOptions{})
	if err != nil {
		e.t.Fatalf("list restores: %v", err)
	}
	return got
}

// wantAPIError checks an error's class and DCS code and returns its fields.
func wantAPIError(t *testing.T, err error, class dcs.Class, code string) dcs.Error {
	t.Helper()
	var e *dcs.Error
	if !errors.As(err, &e) || dcs.Classify(err) != class || e.Code != code {
		t.Fatalf("error %v (class %s), want %s %s", err, dcs.Classify(err), class, code)
	}
	if e.RequestID == "" {
		t.Fatalf("error without request id: %v", err)
	}
	return *e
}

// rawAnswer is a response read by a test.
type rawAnswer struct {
	status int
	header http.Header
	body   string
}

func (a rawAnswer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	return m
}

// raw sends a request signed with the simulator's default credentials
// straight to the handler.
func (e *env) raw(method, target, body string, mutate func(r *http.Request)) rawAnswer {
	e.t.Helper()
	r := httptest.NewRequest(method, "http://dcs.example.com"+target, strings.NewReader(body))
	cfg := e.sim.ClientConfig("")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "test")
	r.Header.Set(dcs.HeaderProjectID, cfg.ProjectID)
	r.Header.Set(dcs.HeaderSdkDate, e.clk.Now().UTC().Format(dcs.SdkDateLayout))
	if err := dcs.Sign(r, []byte(body), cfg.Credentials.AccessKey, cfg.Credentials.SecretKey); err != nil {
		e.t.Fatal(err)
	}
	if mutate != nil {
		mutate(r)
	}
	return serve(e.t, e.sim, r)
}

func serve(t testing.TB, h http.Handler, r *http.Request) rawAnswer {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	if res.Header.Get(dcs.HeaderRequestID) == "" {
		t.Fatalf("%s %s: no X-Request-Id", r.Method, r.URL)
	}
	return rawAnswer{status: res.StatusCode, header: res.Header, body: string(b)}
}

func path(version, rest string) string {
	return "/" + version + "/" + DefaultProjectID + "/instances/" + rest
}
