package dcs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Operation names used in errors.
const (
	OpCreateBackup  = "create backup"
	OpListBackups   = "list backups"
	OpListRestores  = "list restores"
	OpDeleteBackup  = "delete backup"
	OpRestoreBackup = "restore backup"
	OpShowInstance  = "show instance"

	OpListInstances       = "list instances"
	OpListBackupFileLinks = "list backup file links"
	OpCreateImportTask    = "create import task"
	OpShowImportTask      = "show import task"
	OpListImportTasks     = "list import tasks"
)

const (
	// maxBodyBytes bounds a response body (a 1000-record page is ~600 KB).
	maxBodyBytes = 16 << 20
	// maxPages caps a list loop against a server that never stops
	// returning full pages (SPEC.md 2.2: the order is undocumented and a
	// buggy total_num is conceivable).
	maxPages = 10000
	// queryTimeLayout is the yyyyMMddHHmmss UTC format of begin/end times.
	queryTimeLayout = "20060102150405"

	// Path segments and query parameters used by several calls.
	segBackups  = "backups"
	paramLimit  = "limit"
	paramOffset = "offset"
	jsonTrue    = "true"

	contentTypeJSON     = "application/json"
	contentTypeJSONUTF8 = "application/json;charset=UTF-8"
)

// Client is a signed HTTP client for the DCS backup API. It implements API
// and is safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint *url.URL
}

var _ API = (*Client)(nil)

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	c, u, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("dcs: invalid config: %w", err)
	}
	return &Client{cfg: c, endpoint: u}, nil
}

// String describes the client without credentials. String, GoString and
// Format have value receivers so that printing a dereferenced Client, whose
// fields fmt could otherwise walk, redacts too.
func (c Client) String() string { return "dcs.Client" + c.cfg.String() }

// GoString is String, for %#v.
func (c Client) GoString() string { return c.String() }

// Format makes every fmt verb redact.
func (c Client) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, c.String()) }

// APIVersion returns the API generation the client speaks.
func (c *Client) APIVersion() APIVersion { return c.cfg.APIVersion }

// request is one HTTP exchange of an operation.
type request struct {
	op     string
	method string
	// segments follow /{version}/{project_id}/instances/{instanceID}/, or
	// /{version}/{project_id}/ for a project-level request.
	segments     []string
	projectLevel bool
	// v2Only requests use the v2 path even on a V1 client: instances list,
	// backup file links and migration tasks have no v1.0 form, and v2 is on
	// the same host (SPEC.md 1, 3: "use v2 on both clouds").
	v2Only     bool
	query      map[string][]string
	body       any // JSON-encoded when not nil
	instanceID string
	// secrets are values of this request (a Redis password) that must not
	// come back in an error, whatever the server echoes.
	secrets []string
}

// response is a successful (2xx) answer.
type response struct {
	status    int
	body      []byte
	requestID string
}

// CreateBackup starts a backup (SPEC.md 2.1; v1.0 has no backup_format,
// SPEC.md 3). The call is not idempotent: tag Remark to find the backup
// again after a lost answer.
func (c *Client) CreateBackup(ctx context.Context, instanceID string, req CreateBackupRequest) (string, error) {
	type body struct {
		Remark       string `json:"remark,omitempty"`
		BackupFormat string `json:"backup_format,omitempty"`
	}
	if err := validateRemark(req.Remark); err != nil {
		return "", argError(OpCreateBackup, err)
	}
	b := body{Remark: req.Remark}
	switch req.Format {
	case "", FormatRDB, FormatAOF:
	default:
		return "", &Error{Operation: OpCreateBackup, Err: fmt.Errorf("%w: unknown backup format %q", ErrInvalidArgument, req.Format)}
	}
	if c.cfg.APIVersion == V2 {
		b.BackupFormat = string(req.Format)
	}
	resp, err := c.do(ctx, request{op: OpCreateBackup, method: http.MethodPost,
		instanceID: instanceID, segments: []string{segBackups}, body: b})
	if err != nil {
		return "", err
	}
	id, err := decodeID(resp.body, "backup_id")
	if err != nil {
		return "", c.decodeFailure(OpCreateBackup, resp, err)
	}
	return id, nil
}

// RestoreBackup restores the instance from backupID (SPEC.md 2.4, 13).
// DCS answers 400 DCS.4087 for a backup that is not succeed (terminal,
// IsBackupNotRestorable), DCS.4095 for a single-node instance
// (ClassUnsupported), and busy codes (DCS.4096 backuping, DCS.4097
// restoring, DCS.4049 not RUNNING, DCS.4017 another job such as an
// import) while the instance runs something else (ClassBusy). The restore
// targets the instance in the path; restoring into another instance is
// CreateImportTask.
func (c *Client) RestoreBackup(ctx context.Context, instanceID, backupID, remark string) (string, error) {
	if err := validatePathSegment("backup id", backupID); err != nil {
		return "", argError(OpRestoreBackup, err)
	}
	if err := validateRemark(remark); err != nil {
		return "", argError(OpRestoreBackup, err)
	}
	type body struct {
		BackupID string `json:"backup_id"`
		Remark   string `json:"remark,omitempty"`
	}
	resp, err := c.do(ctx, request{op: OpRestoreBackup, method: http.MethodPost,
		instanceID: instanceID, segments: []string{"restores"}, body: body{BackupID: backupID, Remark: remark}})
	if err != nil {
		return "", err
	}
	id, err := decodeID(resp.body, "restore_id")
	if err != nil {
		return "", c.decodeFailure(OpRestoreBackup, resp, err)
	}
	return id, nil
}

// MaxRemarkLength is the longest remark of a backup or a restore, in
// characters: DCS answers 400 DCS.4098 "The value of the remark parameter
// must be 0 to 128 characters in length." (SPEC.md 13).
const MaxRemarkLength = 128

// validateRemark refuses a remark DCS would refuse with DCS.4098, without
// sending it. The console counts bytes, the error text characters
// (SPEC.md 13): the client refuses what is too long either way (over 128
// characters) and leaves a remark of at most 128 characters but more than
// 128 bytes to DCS.
func validateRemark(remark string) error {
	if n := utf8.RuneCountInString(remark); n > MaxRemarkLength {
		return fmt.Errorf("%w: remark has %d characters, DCS allows %d (DCS.4098)", ErrInvalidArgument, n, MaxRemarkLength)
	}
	return nil
}

// DeleteBackup deletes a backup file (SPEC.md 2.3): v2 answers 204, v1.0
// 200 {"message":""}; any 2xx is success. Use IsBackupGone on the error to
// treat "already deleted" as done.
func (c *Client) DeleteBackup(ctx context.Context, instanceID, backupID string) error {
	if err := validatePathSegment("backup id", backupID); err != nil {
		return argError(OpDeleteBackup, err)
	}
	_, err := c.do(ctx, request{op: OpDeleteBackup, method: http.MethodDelete,
		instanceID: instanceID, segments: []string{segBackups, backupID}})
	return err
}

// ShowInstance reads the instance's status and cache mode (SPEC.md 2.7).
// The path is the same in both versions.
func (c *Client) ShowInstance(ctx context.Context, instanceID string) (Instance, error) {
	resp, err := c.do(ctx, request{op: OpShowInstance, method: http.MethodGet, instanceID: instanceID})
	if err != nil {
		return Instance{}, err
	}
	inst, err := decodeInstance(resp.body)
	if err != nil {
		return Instance{}, c.decodeFailure(OpShowInstance, resp, err)
	}
	return inst, nil
}

// ListBackups returns every backup record matching opts (SPEC.md 2.2, 3).
func (c *Client) ListBackups(ctx context.Context, instanceID string, opts ListOptions) ([]Backup, error) {
	return listRecords(ctx, c, OpListBackups, instanceID, segBackups, opts, decodeBackupList,
		func(b Backup) string { return b.ID })
}

// ListRestores returns every restore record matching opts (SPEC.md 2.5).
func (c *Client) ListRestores(ctx context.Context, instanceID string, opts ListOptions) ([]Restore, error) {
	return listRecords(ctx, c, OpListRestores, instanceID, "restores", opts, decodeRestoreList,
		func(r Restore) string { return r.ID })
}

// listRecords collects every page of an instance's records.
func listRecords[T any](ctx context.Context, c *Client, op, instanceID, resource string, opts ListOptions,
	decode func([]byte) ([]T, int64, error), id func(T) string,
) ([]T, error) {
	var out []T
	err := c.listAll(ctx, op, instanceID, resource, opts, collect(&out, decode, id))
	return out, err
}

// collect returns a page decoder that appends each page's records to out.
// Records are de-duplicated by id: with an undocumented order (SPEC.md
// 2.2), a record created while paging can shift an older one onto the
// next page.
func collect[T any](out *[]T, decode func([]byte) ([]T, int64, error), id func(T) string) pageDecoder {
	seen := map[string]bool{}
	return func(body []byte) (pageInfo, error) {
		page, total, err := decode(body)
		info := pageInfo{n: len(page), total: total}
		for _, r := range page {
			if k := id(r); k == "" || !seen[k] {
				seen[k] = true
				*out = append(*out, r)
				info.fresh++
			}
		}
		return info, err
	}
}

// pageInfo describes a decoded page: its length, how many of its records
// were not seen on earlier pages, and total_num (totalUnknown if absent).
type pageInfo struct {
	n, fresh int
	total    int64
}

// pageDecoder decodes one page and collects its records.
type pageDecoder func(body []byte) (pageInfo, error)

// listAll pages like Terraform (offset += len(page) until offset >=
// total_num, SPEC.md 8) and also stops on an empty or short page, or a page
// with nothing new, so a server whose total_num lies cannot make it loop.
func (c *Client) listAll(ctx context.Context, op, instanceID, resource string, opts ListOptions, decode pageDecoder) error {
	limit := opts.PageSize
	if limit <= 0 || limit > MaxPageSize {
		limit = DefaultPageSize
	}
	base := request{op: op, method: http.MethodGet, instanceID: instanceID, segments: []string{resource}}
	return c.pages(ctx, base, pager{limit: limit, shortPageEnds: true},
		func(offset int) map[string][]string { return c.pageQuery(offset, limit, opts) }, decode)
}

// pager says when a paging loop ends.
type pager struct {
	limit int
	// shortPageEnds stops on a page shorter than limit even when the total
	// says more records exist. Without it a short page only ends the loop
	// when the answer has no total (a server that caps the page size below
	// limit is then still paged through).
	shortPageEnds bool
}

// done reports whether the loop ends after a page, offset being the
// number of records read so far. An empty page or a page with nothing new
// always ends it, so that no server can make it loop.
func (p pager) done(page pageInfo, offset int) bool {
	switch {
	case page.n == 0 || page.fresh == 0:
		return true
	case page.total != totalUnknown && int64(offset) >= page.total:
		return true
	case page.n < p.limit:
		return p.shortPageEnds || page.total == totalUnknown
	default:
		return false
	}
}

// pages requests base with query(offset) until p says it is done, at most
// maxPages times. A 204 or an empty body means no (more) records.
func (c *Client) pages(ctx context.Context, base request, p pager, query func(offset int) map[string][]string, decode pageDecoder) error {
	offset := 0
	for range maxPages {
		r := base
		r.query = query(offset)
		resp, err := c.do(ctx, r)
		if err != nil {
			return err
		}
		if resp.status == http.StatusNoContent || isEmptyBody(resp.body) {
			return nil // 204: no records (SPEC.md 2.2)
		}
		page, err := decode(resp.body)
		if err != nil {
			return c.decodeFailure(base.op, resp, err)
		}
		offset += page.n
		if p.done(page, offset) {
			return nil
		}
	}
	return &Error{Operation: base.op, Err: fmt.Errorf("%w: gave up after %d pages", ErrTooManyPages, maxPages)}
}

// pageQuery builds the list query: v2 offset (0-based) and snake_case
// times; v1.0 start (1-based) and camelCase times (SPEC.md 2.2, 3).
func (c *Client) pageQuery(offset, limit int, opts ListOptions) map[string][]string {
	q := map[string][]string{paramLimit: {strconv.Itoa(limit)}}
	begin, end := "begin_time", "end_time"
	if c.cfg.APIVersion == V1 {
		q["start"] = []string{strconv.Itoa(offset + 1)}
		begin, end = "beginTime", "endTime"
	} else {
		q[paramOffset] = []string{strconv.Itoa(offset)}
	}
	if !opts.Begin.IsZero() {
		q[begin] = []string{opts.Begin.UTC().Format(queryTimeLayout)}
	}
	if !opts.End.IsZero() {
		q[end] = []string{opts.End.UTC().Format(queryTimeLayout)}
	}
	return q
}

func (c *Client) decodeFailure(op string, resp response, err error) error {
	var de *DecodeError
	if !errors.As(err, &de) {
		de = &DecodeError{Err: err}
	}
	return &Error{Operation: op, StatusCode: resp.status, RequestID: resp.requestID, Err: de}
}

// do performs one signed exchange under the per-call timeout. Only 2xx
// answers return without error.
func (c *Client) do(parent context.Context, r request) (response, error) {
	if !r.projectLevel {
		if err := validatePathSegment("instance id", r.instanceID); err != nil {
			return response{}, argError(r.op, err)
		}
	}
	ctx, cancel := context.WithTimeout(parent, c.cfg.Timeout)
	defer cancel()
	waitCtx := ctx
	if r.method != http.MethodGet && PriorityOf(ctx) == Foreground {
		// A request that starts or stops work in DCS goes before polls.
		waitCtx = WithPriority(ctx, Start)
	}
	if err := c.cfg.Limiter.Wait(waitCtx, c.endpoint.String(), c.cfg.ProjectID); err != nil {
		if _, ok := Yielded(err); ok {
			return response{}, &Error{Operation: r.op, Err: err}
		}
		return response{}, c.transportError(parent, ctx, r, fmt.Errorf("%w: %w", ErrRateLimited, err))
	}
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return response{}, argError(r.op, err)
	}
	httpResp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return response{}, c.transportError(parent, ctx, r, err)
	}
	defer func() { _ = httpResp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(httpResp.Body, maxBodyBytes))
	if err != nil {
		return response{}, c.transportError(parent, ctx, r, err)
	}
	resp := response{status: httpResp.StatusCode, body: body, requestID: httpResp.Header.Get(HeaderRequestID)}
	if httpResp.StatusCode < 200 || httpResp.StatusCode > 299 {
		return resp, c.httpError(r, httpResp, body)
	}
	return resp, nil
}

// newRequest builds the request exactly like the SDK (SPEC.md 5, 6.1):
// sorted query, JSON body from json.Encoder without HTML escaping (so with
// a trailing newline), User-Agent, X-Project-Id, X-Sdk-Date,
// X-Security-Token, then the SDK-HMAC-SHA256 signature.
func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	body, err := encodeBody(r.body)
	if err != nil {
		return nil, err
	}
	u := *c.endpoint
	u.Path = c.path(r)
	u.RawQuery = encodeQuery(r.query)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	ct := contentTypeJSON
	if r.method == http.MethodPost {
		ct = contentTypeJSONUTF8
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set(HeaderProjectID, c.cfg.ProjectID)
	req.Header.Set(HeaderSdkDate, c.cfg.Clock.Now().UTC().Format(SdkDateLayout))
	if tok := c.cfg.Credentials.SecurityToken; tok != "" {
		req.Header.Set(HeaderSecurityToken, tok)
	}
	if err := Sign(req, body, c.cfg.Credentials.AccessKey, c.cfg.Credentials.SecretKey); err != nil {
		return nil, err
	}
	return req, nil
}

func (c *Client) path(r request) string {
	version := "v2"
	if c.cfg.APIVersion == V1 && !r.v2Only {
		version = "v1.0"
	}
	parts := []string{"", version, c.cfg.ProjectID}
	if !r.projectLevel {
		parts = append(parts, "instances", r.instanceID)
	}
	return strings.Join(append(parts, r.segments...), "/")
}

func encodeBody(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the SDK sends & < > literally (vector create-backup-unicode-remark)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// transportError wraps a failure without an HTTP answer. If the caller's
// context ended, that is what the error says (ClassCanceled); if only the
// per-call timeout expired, it wraps ErrTimeout (ClassTransient).
func (c *Client) transportError(parent, ctx context.Context, r request, err error) error {
	secrets := c.secrets(r)
	switch {
	case parent.Err() != nil:
		err = fmt.Errorf("%w (%w)", context.Cause(parent), scrubError(err, secrets))
	case ctx.Err() != nil:
		err = fmt.Errorf("%w after %s: %w", ErrTimeout, c.cfg.Timeout, scrubError(err, secrets))
	default:
		err = scrubError(err, secrets)
	}
	return &Error{Operation: r.op, Err: err}
}

// secrets are the values no error of r may carry: the secret key, the
// token and the request's own secrets.
func (c *Client) secrets(r request) []string {
	return append([]string{c.cfg.Credentials.SecretKey, c.cfg.Credentials.SecurityToken}, r.secrets...)
}

// httpError builds the *Error of a non-2xx answer.
func (c *Client) httpError(r request, resp *http.Response, body []byte) error {
	eb := parseErrorBody(body)
	e := &Error{
		Operation:  r.op,
		StatusCode: resp.StatusCode,
		Code:       eb.Code,
		Message:    eb.Message,
		RequestID:  resp.Header.Get(HeaderRequestID),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.cfg.Clock.Now()),
	}
	if e.RequestID == "" {
		e.RequestID = eb.RequestID
	}
	if e.Message == "" && e.Code == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	secrets := c.secrets(r)
	e.Code = scrub(e.Code, secrets)
	e.Message = scrub(e.Message, secrets)
	e.RequestID = scrub(e.RequestID, secrets)
	return e
}

// scrub removes the secret key, the token and the request's secrets (a
// Redis password) from text that came from the server, and every
// signature or presigned-URL credential. The gateway never echoes them,
// but an error message that did would end up in a condition, so the client
// does not trust it.
func scrub(s string, secrets []string) string {
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "REDACTED")
		}
	}
	s = passwordField.ReplaceAllString(s, "${1}REDACTED")
	return RedactURL(s)
}

// passwordField is a "password": value pair in a text (JSON, a form, a
// quoted dump): a call that did not send the password (a show, whose body
// echoes it, SPEC.md 14) cannot scrub the value itself, but it can
// recognise where it stands.
var passwordField = regexp.MustCompile(`(?i)(["']?password["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&}"']+)`)

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrubError keeps err's chain (for errors.Is/As) but scrubs its text.
func scrubError(err error, secrets []string) error {
	msg := err.Error()
	if s := scrub(msg, secrets); s != msg {
		return &scrubbedError{msg: s, err: err}
	}
	return err
}
