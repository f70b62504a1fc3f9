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
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

// faultSim is a DCS simulator served from the test process, with the
// faults the simulator binary cannot make:
//
//   - an outage: the port is closed (connection refused) and open
//     connections are reset, while the simulator keeps its state, then it
//     listens on the same port again;
//   - a fixed latency in front of the simulator, above the manager's
//     --dcs-timeout, so that every request times out (the simulator's own
//     latency is random);
//   - a clock skew: the simulator's clock, which its signature check uses,
//     runs ahead of the manager's by an offset.
//
// It logs every API request, so that a test counts requests and the time
// between them.
type faultSim struct {
	*simulator.Simulator
	URL    string
	clock  *skewClock
	delay  atomic.Int64
	gate   *gateListener
	server *httptest.Server
	log    requestLog
}

type faultSimOptions struct {
	instances      []string
	backupDuration time.Duration
	// token makes the simulator's key temporary: requests must carry it.
	token string
}

func startFaultSim(t *testing.T, opts faultSimOptions) *faultSim {
	t.Helper()
	fs := &faultSim{clock: &skewClock{}}
	insts := make([]simulator.Instance, len(opts.instances))
	for i, id := range opts.instances {
		insts[i] = simulator.Instance{ID: id}
	}
	fs.Simulator = simulator.New(simulator.Options{
		Credentials: map[string]simulator.Credential{
			simulator.DefaultAccessKey: {SecretKey: simulator.DefaultSecretKey, SecurityToken: opts.token},
		},
		Instances:      insts,
		BackupDuration: opts.backupDuration,
		Clock:          fs.clock,
		Seed:           shared.seed,
		Logger:         slog.New(&fs.log),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs.gate = &gateListener{addr: ln.Addr(), ln: ln, wake: make(chan struct{})}
	fs.server = httptest.NewUnstartedServer(http.HandlerFunc(fs.serve))
	_ = fs.server.Listener.Close()
	fs.server.Listener = fs.gate
	fs.server.Start()
	fs.URL = fs.server.URL
	t.Cleanup(fs.server.Close)
	return fs
}

// serve delays API requests by the fixed latency (or until the client
// gives up), then lets the simulator answer: like a backend that goes on
// with a request whose client timed out.
func (fs *faultSim) serve(w http.ResponseWriter, r *http.Request) {
	if d := time.Duration(fs.delay.Load()); d > 0 && !strings.HasPrefix(r.URL.Path, simulator.AdminPrefix) {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	fs.ServeHTTP(w, r)
}

// setDelay sets the fixed latency of every API request (0: none).
func (fs *faultSim) setDelay(d time.Duration) { fs.delay.Store(int64(d)) }

// setReachable closes the port (and resets open connections) or listens
// on it again.
func (fs *faultSim) setReachable(up bool) error {
	if up {
		return fs.gate.up()
	}
	err := fs.gate.down()
	fs.server.CloseClientConnections()
	return err
}

// skewClock is the real clock plus an offset.
type skewClock struct{ offset atomic.Int64 }

func (c *skewClock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *skewClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c *skewClock) set(d time.Duration)             { c.offset.Store(int64(d)) }

// gateListener is a listener on a fixed address that can be closed and
// opened again: while it is down, connecting is refused; Accept waits.
type gateListener struct {
	addr net.Addr

	mu     sync.Mutex
	ln     net.Listener // nil while down
	wake   chan struct{}
	closed bool
}

func (g *gateListener) state() (net.Listener, chan struct{}, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ln, g.wake, g.closed
}

// changed wakes the goroutine waiting in Accept; callers hold g.mu.
func (g *gateListener) changed() {
	close(g.wake)
	g.wake = make(chan struct{})
}

func (g *gateListener) Accept() (net.Conn, error) {
	for {
		ln, wake, closed := g.state()
		if closed {
			return nil, net.ErrClosed
		}
		if ln == nil {
			<-wake
			continue
		}
		c, err := ln.Accept()
		if err == nil {
			return c, nil
		}
		if cur, _, closed := g.state(); cur == ln && !closed {
			return nil, err
		}
		// The listener was taken down under Accept: wait for what is next.
	}
}

func (g *gateListener) down() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return nil
	}
	err := g.ln.Close()
	g.ln = nil
	g.changed()
	return err
}

func (g *gateListener) up() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln != nil || g.closed {
		return nil
	}
	ln, err := net.Listen("tcp", g.addr.String())
	if err != nil {
		return err
	}
	g.ln = ln
	g.changed()
	return nil
}

func (g *gateListener) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	var err error
	if g.ln != nil {
		err = g.ln.Close()
	}
	g.changed()
	return err
}

func (g *gateListener) Addr() net.Addr { return g.addr }

// request is one API request as the simulator logged it.
type request struct {
	at       time.Time
	op       string
	status   int
	code     string
	instance string
}

// requestLog is a slog.Handler that keeps the simulator's request lines.
type requestLog struct {
	mu   sync.Mutex
	reqs []request
}

func (l *requestLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *requestLog) Handle(_ context.Context, r slog.Record) error {
	rq := request{at: r.Time}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "op":
			rq.op = a.Value.String()
		case "status":
			rq.status = int(a.Value.Int64())
		case "code":
			rq.code = a.Value.String()
		case "path":
			rq.instance = instanceOfPath(a.Value.String())
		}
		return true
	})
	if rq.op == "admin" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, rq)
	return nil
}

func (l *requestLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *requestLog) WithGroup(string) slog.Handler      { return l }

// between returns the requests logged in [from, to] matching keep.
func (l *requestLog) between(from, to time.Time, keep func(request) bool) []request {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []request
	for _, rq := range l.reqs {
		if !rq.at.Before(from) && !rq.at.After(to) && (keep == nil || keep(rq)) {
			out = append(out, rq)
		}
	}
	return out
}

// instanceOfPath returns the instance id of /v2/{project}/instances/{id}/...
func instanceOfPath(p string) string {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "instances" {
			return parts[i+1]
		}
	}
	return ""
}

// minGap returns the shortest time between two consecutive requests.
func minGap(reqs []request) time.Duration {
	var gap time.Duration = -1
	for i := 1; i < len(reqs); i++ {
		if d := reqs[i].at.Sub(reqs[i-1].at); gap < 0 || d < gap {
			gap = d
		}
	}
	return gap
}
