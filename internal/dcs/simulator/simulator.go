package simulator

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// Defaults used when Options leave a field empty. The keys are demo values,
// not credentials of any account.
const (
	DefaultProjectID       = "0a1b2c3d4e5f40a1b2c3d4e5f6a7b8c9"
	DefaultAccessKey       = "SIMULATORACCESSKEY01"
	DefaultSecretKey       = "simulator-secret-key-not-a-real-secret-00"
	DefaultInstanceID      = "5560df16-cebf-4473-95c4-d1b573c16e79"
	DefaultBackupDuration  = 30 * time.Second
	DefaultRestoreDuration = 20 * time.Second
	DefaultImportDuration  = 30 * time.Second
	// DefaultMaxBackupsPerInstance is DCS's cap: "at most 24 backups per
	// instance, automatic and manual together" (SPEC.md 17).
	DefaultMaxBackupsPerInstance = 24
	// DefaultShardCount is the shard count of a cluster instance that
	// sets none: three, like the documented link example's slot range
	// 10923-16383 (SPEC.md 15).
	DefaultShardCount = 3
	// MaxShardCount bounds Instance.ShardCount: a links answer has at most
	// 64 links (SPEC.md 15), one per shard.
	MaxShardCount = 64

	// AdminPrefix is where the admin API lives, outside /v2 and /v1.0.
	AdminPrefix = "/_sim/"
	// ObjectPrefix is where the simulator serves backup files, the way OBS
	// serves the presigned links DCS hands out (SPEC.md 15):
	// /_obs/{bucket}/{instance_id}/{backup_id}/{file_name}.
	ObjectPrefix = "/_obs/"

	// maxRequestBody mirrors the gateway's 12 MB limit for AK/SK-signed
	// bodies (SPEC.md 6.4) closely enough: DCS bodies are tiny.
	maxRequestBody = 1 << 20
)

// Credential is the secret side of an access key. A non-empty
// SecurityToken makes the key temporary: requests must send (and sign)
// exactly that X-Security-Token.
type Credential struct {
	SecretKey     string
	SecurityToken string
}

// Instance is a simulated DCS instance.
type Instance struct {
	ID   string `json:"instance_id"`
	Name string `json:"name,omitempty"`
	// Status is the instance status as set (default RUNNING). While a
	// restore runs, a RUNNING instance reports RESTORING (SPEC.md 2.4).
	Status string `json:"status,omitempty"`
	// CacheMode is single, ha (default), ha_rw_split, proxy or cluster.
	CacheMode string `json:"cache_mode,omitempty"`
	// ShardCount is the number of shards of a cluster instance (1 to
	// MaxShardCount, default DefaultShardCount); its backups have one file
	// per shard. Other cache modes have one shard.
	ShardCount int `json:"shard_count,omitempty"`
	// Tags are the instance's tags, listed and filtered by the instance
	// list (SPEC.md 16).
	Tags map[string]string `json:"tags,omitempty"`
	// BackupSize is the size in bytes of the instance's next backups; 0
	// picks a random size between 1 and 64 MiB per backup.
	BackupSize int64 `json:"backup_size,omitempty"`
	// Password is the instance's Redis password, which an import into it
	// must send (SPEC.md 14). It is input only: Instances and the admin API
	// never return it, only HasPassword.
	Password string `json:"-"`
	// HasPassword reports, in Instances, that a password is set.
	HasPassword bool `json:"has_password,omitempty"`
}

// PasswordCheck says when an import with a wrong or missing target
// password fails; DCS does not document which (SPEC.md 14), so the
// operator must cope with both.
type PasswordCheck string

const (
	// PasswordCheckAtCreate answers the create 400 DCS.4080 "Instance
	// password verify failed." (the default: the code exists in the error
	// table).
	PasswordCheckAtCreate PasswordCheck = "create"
	// PasswordCheckInTask accepts the create and ends the task FAILED,
	// with the same message as the list's error_message.
	PasswordCheckInTask PasswordCheck = "task"
)

// Options configure a Simulator. The zero value is usable.
type Options struct {
	// ProjectID is the only project the credentials may use.
	ProjectID string
	// Credentials maps access keys to secrets; default one pair,
	// DefaultAccessKey / DefaultSecretKey.
	Credentials map[string]Credential
	// Instances are created at start.
	Instances []Instance
	// BackupDuration and RestoreDuration are how long an operation takes
	// from creation to its final state (0 means the defaults; use
	// time.Nanosecond for "instant"). The first tenth is spent waiting.
	BackupDuration  time.Duration
	RestoreDuration time.Duration
	// AutoBackupInterval makes automatic backups (backup_type auto) appear
	// on every non-single instance at this interval; 0 disables them.
	AutoBackupInterval time.Duration
	// ImportDuration is how long a backup import task runs from create to
	// SUCCESS or FAILED (0 means DefaultImportDuration).
	ImportDuration time.Duration
	// ImportPasswordCheck is when a wrong target password fails an import
	// (default PasswordCheckAtCreate).
	ImportPasswordCheck PasswordCheck
	// ImportFileCheck, if set, is asked about every file of an import from
	// an OBS bucket (self_build_obs), outside the simulator's lock: a test
	// can check that the files exist in a real S3 bucket. An error makes
	// the task end FAILED, as DCS finds missing files only when it reads
	// them [I]. nil accepts every file.
	ImportFileCheck func(bucket, file string) error
	// MaxBackupsPerInstance is DCS's cap on live backups per instance
	// (SPEC.md 17): 0 means DefaultMaxBackupsPerInstance, a negative value
	// no cap. Creating one more evicts the oldest (see the package doc).
	MaxBackupsPerInstance int
	// LinkExpiry, if positive, makes download links expire this long after
	// they were issued when that is sooner than the expiration asked for:
	// a test can see a client ask again without waiting five minutes.
	LinkExpiry time.Duration
	// LinkHEADForbidden answers HEAD on a download link 403
	// SignatureDoesNotMatch, as S3-style v2 query authentication does for a
	// URL signed for GET (the method is signed; SPEC.md 15 [I]). By default
	// HEAD is served.
	LinkHEADForbidden bool
	// DownloadRate, if positive, bounds every GET of a download link to
	// this many bytes per second (real time), like a connection of limited
	// bandwidth, so that a test can stop a client in the middle of a copy.
	// By default a link is served as fast as the client reads.
	DownloadRate int64
	// RateLimit is a real token bucket per access key, in requests per
	// second (0 disables it); RateBurst is its size (default
	// max(1, ceil(RateLimit))). Excess requests get 429 APIG.0308.
	RateLimit float64
	RateBurst int
	// Faults are the initial fault knobs.
	Faults Faults
	// Clock drives every lifecycle and the signature skew check; default
	// the real clock. Tests pass a k8s.io/utils/clock/testing.FakeClock.
	Clock clock.PassiveClock
	// Seed makes ids and fault decisions reproducible; 0 picks a random seed.
	Seed uint64
	// Logger gets one line per request; nil logs nothing.
	Logger *slog.Logger
}

// Simulator is an in-memory DCS backup API behind an API-gateway-like
// front (signature check, throttling, request ids). It is an http.Handler
// and is safe for concurrent use.
type Simulator struct {
	clock        clock.PassiveClock
	logger       *slog.Logger
	projectID    string
	creds        map[string]Credential
	backupDur    time.Duration
	restoreDur   time.Duration
	autoEvery    time.Duration
	rateLimit    float64
	rateBurst    int
	importDur    time.Duration
	pwCheck      PasswordCheck
	fileCheck    func(bucket, file string) error
	maxBackups   int
	linkExpiry   time.Duration
	strictHEAD   bool
	downloadRate int64

	mu           sync.Mutex
	rng          *rand.Rand
	instances    map[string]*instance
	instanceSeq  int
	backups      []*backup
	restores     []*restore
	imports      []*importTask
	faults       Faults
	failNext     []*pendingFault
	failBackups  map[string]int
	failRestores map[string]int
	failImports  map[string]int
	buckets      map[string]*tokenBucket
	links        linkSigner
	stats        statsData
}

// New returns a simulator configured by opts.
func New(opts Options) *Simulator {
	s := &Simulator{
		clock:        opts.Clock,
		logger:       opts.Logger,
		projectID:    opts.ProjectID,
		creds:        map[string]Credential{},
		backupDur:    opts.BackupDuration,
		restoreDur:   opts.RestoreDuration,
		autoEvery:    opts.AutoBackupInterval,
		rateLimit:    opts.RateLimit,
		rateBurst:    opts.RateBurst,
		importDur:    opts.ImportDuration,
		pwCheck:      opts.ImportPasswordCheck,
		fileCheck:    opts.ImportFileCheck,
		maxBackups:   opts.MaxBackupsPerInstance,
		linkExpiry:   opts.LinkExpiry,
		strictHEAD:   opts.LinkHEADForbidden,
		downloadRate: opts.DownloadRate,
		instances:    map[string]*instance{},
		failBackups:  map[string]int{},
		failRestores: map[string]int{},
		failImports:  map[string]int{},
		links:        newLinkSigner(),
		buckets:      map[string]*tokenBucket{},
		faults:       opts.Faults,
		stats:        newStatsData(),
	}
	s.applyDefaults(opts)
	for _, inst := range opts.Instances {
		s.AddInstance(inst)
	}
	return s
}

func (s *Simulator) applyDefaults(opts Options) {
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	if s.projectID == "" {
		s.projectID = DefaultProjectID
	}
	for ak, c := range opts.Credentials {
		s.creds[ak] = c
	}
	if len(s.creds) == 0 {
		s.creds[DefaultAccessKey] = Credential{SecretKey: DefaultSecretKey}
	}
	if s.backupDur <= 0 {
		s.backupDur = DefaultBackupDuration
	}
	if s.restoreDur <= 0 {
		s.restoreDur = DefaultRestoreDuration
	}
	if s.importDur <= 0 {
		s.importDur = DefaultImportDuration
	}
	if s.pwCheck == "" {
		s.pwCheck = PasswordCheckAtCreate
	}
	if s.maxBackups == 0 {
		s.maxBackups = DefaultMaxBackupsPerInstance
	}
	if s.rateBurst <= 0 {
		s.rateBurst = max(1, int(math.Ceil(s.rateLimit)))
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// NewServer starts an httptest server with a new simulator. Close the
// server when done; closing it is also how a test makes DCS unreachable.
func NewServer(opts Options) (*Simulator, *httptest.Server) {
	s := New(opts)
	return s, httptest.NewServer(s)
}

// Clock returns the simulator's clock.
func (s *Simulator) Clock() clock.PassiveClock { return s.clock }

// ProjectID returns the project the simulator serves.
func (s *Simulator) ProjectID() string { return s.projectID }

// ClientConfig returns a dcs.Config for endpoint (e.g. an httptest
// server's URL) with the simulator's project, its first access key (in
// sorted order), its clock, http allowed and no client-side rate limit.
func (s *Simulator) ClientConfig(endpoint string) dcs.Config {
	aks := make([]string, 0, len(s.creds))
	for ak := range s.creds {
		aks = append(aks, ak)
	}
	sort.Strings(aks)
	c := s.creds[aks[0]]
	return dcs.Config{
		Endpoint:      endpoint,
		AllowInsecure: true,
		ProjectID:     s.projectID,
		Credentials:   dcs.Credentials{AccessKey: aks[0], SecretKey: c.SecretKey, SecurityToken: c.SecurityToken},
		Clock:         s.clock,
		Limiter:       dcs.NewLimiter(0, 0),
	}
}

// response is what a step of the pipeline answers. An error answer has a
// code; its body is built at write time (APIG bodies carry the request id).
type response struct {
	status     int
	body       any
	code       string
	msg        string
	apig       bool
	retryAfter time.Duration
}

func (r response) isError() bool { return r.code != "" }

// ServeHTTP runs the gateway pipeline: request id, admin API, routing,
// latency, then under the lock: signature, project, throttling, injected
// faults, the operation itself and the statistics. It never panics on
// input and always sets X-Request-Id.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := newRequestID()
	w.Header().Set(dcs.HeaderRequestID, rid)
	if strings.HasPrefix(r.URL.Path, AdminPrefix) {
		resp := s.serveAdmin(r)
		writeResponse(w, resp, rid)
		s.logRequest(r, "admin", resp, rid, start)
		return
	}
	if strings.HasPrefix(r.URL.Path, ObjectPrefix) {
		status := s.serveObject(w, r, rid)
		s.logRequest(r, string(OpDownload), response{status: status}, rid, start)
		return
	}
	rt := parseRoute(r.Method, r.URL.EscapedPath())
	body, err := readBody(r)
	s.sleepLatency(r.Context())
	var resp response
	var after []func()
	s.mu.Lock()
	if err != nil {
		resp = apigError(http.StatusRequestEntityTooLarge, "APIG.0201", "Request entity too large.")
	} else {
		resp = s.process(r, rt, body, &after)
	}
	s.stats.record(rt.op, resp)
	s.mu.Unlock()
	for _, f := range after {
		f()
	}
	writeResponse(w, resp, rid)
	s.logRequest(r, string(rt.op), resp, rid, start)
}

// process handles one API request under s.mu. Handlers append to after
// what must run outside the lock before the answer is written.
func (s *Simulator) process(r *http.Request, rt route, body []byte, after *[]func()) response {
	if !rt.ok {
		return apigError(http.StatusNotFound, "APIG.0101", "The API does not exist or has not been published in the environment.")
	}
	now := s.clock.Now()
	ak, resp := s.authenticate(r, body, rt, now)
	if resp.isError() {
		return resp
	}
	if resp, limited := s.throttle(ak, now); limited {
		return resp
	}
	if resp, injected := s.injectFault(rt.op); injected {
		return resp
	}
	s.materializeAutoBackups(now)
	resp = s.dispatch(apiRequest{route: rt, query: r.URL.Query(), body: body, now: now, base: baseURL(r), after: after})
	return s.maybeLoseResponse(rt.op, resp)
}

// baseURL is scheme://host of the request, where the simulator's download
// links point (DCS points them at OBS; the simulator serves them itself).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRequestBody {
		return nil, errors.New("request body too large")
	}
	return b, nil
}

func (s *Simulator) sleepLatency(ctx context.Context) {
	s.mu.Lock()
	maxLatency := s.faults.Latency
	var d time.Duration
	if maxLatency > 0 {
		d = time.Duration(s.rng.Int64N(int64(maxLatency) + 1))
	}
	s.mu.Unlock()
	if d <= 0 {
		return
	}
	// Latency is real time, not the simulator clock: it is there to make
	// the client's timeouts fire.
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// writeResponse writes JSON the way DCS (a Java service) does: no HTML
// escaping. Unset strings are null, never {} (SPEC.md 2.2).
func writeResponse(w http.ResponseWriter, resp response, rid string) {
	if resp.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(resp.retryAfter.Seconds()))))
	}
	body := resp.body
	switch {
	case resp.isError() && resp.apig:
		body = apigErrorBody{ErrorMsg: resp.msg, ErrorCode: resp.code, RequestID: rid}
	case resp.isError():
		body = dcsErrorBody{ErrorCode: resp.code, ErrorMsg: resp.msg}
	}
	if body == nil {
		w.WriteHeader(resp.status)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(resp.status)
	_, _ = w.Write(buf.Bytes())
}

// logRequest writes one line per request. It never logs headers: the
// Authorization header, the token and the keys stay out of the log.
func (s *Simulator) logRequest(r *http.Request, op string, resp response, rid string, start time.Time) {
	if s.logger == nil {
		return
	}
	s.logger.Info("request",
		"method", r.Method,
		"path", r.URL.Path,
		"op", op,
		"status", resp.status,
		"code", resp.code,
		"request_id", rid,
		"duration", time.Since(start).Round(time.Microsecond))
}

// newRequestID returns 32 hex characters, like the gateway's ids.
func newRequestID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newUUID returns a random (version 4) UUID from the simulator's rng, so a
// seeded simulator produces the same ids. Callers hold s.mu.
func (s *Simulator) newUUID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := s.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
