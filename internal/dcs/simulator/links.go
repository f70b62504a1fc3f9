package simulator

import (
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha1" // S3-style v2 query authentication is HMAC-SHA1 by definition
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Download links (SPEC.md 2.6, 15). DCS hands out presigned OBS URLs with
// query-string authentication (AWSAccessKeyId, Expires, Signature); the
// simulator signs its own, pointing at itself under ObjectPrefix, and
// serves the files: one per shard, with deterministic content (Content).

// maxRevokedLinkSecrets bounds the secrets ExpireLinks keeps to tell an
// expired link from a forged one; older links then fail as forged.
const maxRevokedLinkSecrets = 64

// linkSigner signs links with the simulator's own secret. ExpireLinks
// retires the secret: links signed with it answer "Request has expired".
type linkSigner struct {
	accessKey string
	secret    []byte
	revoked   [][]byte
}

func newLinkSigner() linkSigner {
	return linkSigner{accessKey: "SIMULATOROBSKEY" + hex.EncodeToString(randomBytes(3)), secret: randomBytes(32)}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return b
}

// stringToSign is the S3 v2 string for a query-authenticated request
// without Content-MD5 or Content-Type: the method, the expiry and the
// resource (SPEC.md 15: the method is part of the signature).
func stringToSign(method string, expires int64, bucket, key string) string {
	return method + "\n\n\n" + strconv.FormatInt(expires, 10) + "\n/" + bucket + "/" + key
}

func linkSignature(secret []byte, method string, expires int64, bucket, key string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(stringToSign(method, expires, bucket, key)))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (l *linkSigner) sign(expires int64, bucket, key string) string {
	return linkSignature(l.secret, http.MethodGet, expires, bucket, key)
}

// linkVerdict is the outcome of checking a link's signature.
type linkVerdict int

const (
	linkValid linkVerdict = iota
	linkRevoked
	linkForged
)

func (l *linkSigner) check(method string, expires int64, bucket, key, accessKey, sig string) linkVerdict {
	if accessKey != l.accessKey {
		return linkForged
	}
	equal := func(secret []byte) bool {
		return hmac.Equal([]byte(sig), []byte(linkSignature(secret, method, expires, bucket, key)))
	}
	if equal(l.secret) {
		return linkValid
	}
	for _, old := range l.revoked {
		if equal(old) {
			return linkRevoked
		}
	}
	return linkForged
}

func (l *linkSigner) rotate() {
	l.revoked = append(l.revoked, l.secret)
	if len(l.revoked) > maxRevokedLinkSecrets {
		l.revoked = l.revoked[1:]
	}
	l.secret = randomBytes(32)
}

// bucketName is the simulator's backup bucket, "bucket" + project id like
// the documented bucket5da9cf3b... (SPEC.md 15).
func (s *Simulator) bucketName() string {
	var b strings.Builder
	b.WriteString("bucket")
	for _, r := range strings.ToLower(s.projectID) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// fileSpec is one file of a backup.
type fileSpec struct {
	name string
	size int64
}

// files are the backup's files, one per shard, named like the documented
// example: redis_{node ip}_{port}_{slot range}_{timestamp}.{format} for a
// cluster shard, without the slot range otherwise. The timestamp is the
// completion time in UTC (the example's looks like UTC+8 local time,
// SPEC.md 15; clients must not parse it). The 16384 slots are split
// evenly; the sizes add up to the backup's size ([I], SPEC.md 15).
func (b *backup) files() []fileSpec {
	n := max(b.shards, 1)
	ts := b.doneAt().UTC().Format(nameTimeLayout)
	ips := shardIPs(b.ip, n)
	out := make([]fileSpec, n)
	for k := range n {
		size := b.size / int64(n)
		if int64(k) < b.size%int64(n) {
			size++
		}
		name := fmt.Sprintf("redis_%s_%d_%s.%s", ips[k], redisPort, ts, b.format)
		if b.shards > 1 {
			from, to := k*16384/n, (k+1)*16384/n-1
			name = fmt.Sprintf("redis_%s_%d_%d-%d_%s.%s", ips[k], redisPort, from, to, ts, b.format)
		}
		out[k] = fileSpec{name: name, size: size}
	}
	return out
}

func (b *backup) filePath() string { return b.instanceID + "/" + b.id + "/" }

// BackupFile is one file of a backup as the simulator serves it.
type BackupFile struct {
	Bucket string `json:"bucket_name"`
	// Key is the object key: the links answer's file_path + file_name.
	Key  string `json:"key"`
	Name string `json:"file_name"`
	Size int64  `json:"size"`
}

// Content returns the file's bytes, as a GET of its link serves them.
func (f BackupFile) Content() Content { return ObjectContent(f.Bucket, f.Key, f.Size) }

// handleLinks is ListBackupFileLinks (SPEC.md 2.6, 15): expiration
// 300..86400 seconds (else DCS.4800); only a succeed backup has files
// (else DCS.4087: the code of a backup that is not restorable, [I] for
// links, SPEC.md 18). Each call signs new links, valid until now +
// expiration, or sooner with Options.LinkExpiry.
func (s *Simulator) handleLinks(rq apiRequest) response {
	var body struct {
		Expiration *int `json:"expiration"`
	}
	if emptyBody(rq.body) {
		return dcsError(http.StatusBadRequest, codeEmptyBody, "Empty request body.")
	}
	if r := decodeBody(rq.body, &body); r.isError() {
		return r
	}
	if body.Expiration == nil || *body.Expiration < 300 || *body.Expiration > 86400 {
		return invalidParam("expiration must be between 300 and 86400")
	}
	inst, r := s.instanceOf(rq)
	if r.isError() {
		return r
	}
	b := s.findBackup(inst.id, rq.route.backupID)
	if b == nil {
		return errNoBackup()
	}
	if b.state(rq.now).status != statusSucceed {
		return errNotRestorable()
	}
	lifetime := time.Duration(*body.Expiration) * time.Second
	if s.linkExpiry > 0 && s.linkExpiry < lifetime {
		lifetime = s.linkExpiry
	}
	expires := rq.now.Add(lifetime).Unix()
	bucket := s.bucketName()
	out := wireLinks{FilePath: b.filePath(), BucketName: bucket, Links: []wireLink{}}
	for _, f := range b.files() {
		key := b.filePath() + f.name
		q := url.Values{"AWSAccessKeyId": {s.links.accessKey}, "Expires": {strconv.FormatInt(expires, 10)},
			"Signature": {s.links.sign(expires, bucket, key)}}
		link := rq.base + ObjectPrefix + bucket + "/" + escapeKey(key) + "?" + q.Encode()
		out.Links = append(out.Links, wireLink{FileName: f.name, Link: link})
	}
	return response{status: http.StatusOK, body: out}
}

func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// s3Error is the error body of OBS/S3.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
}

// objectAnswer is what a link request gets: an object to serve or an
// S3-style error.
type objectAnswer struct {
	status  int
	code    string
	message string
	file    BackupFile
	modTime time.Time
}

// serveObject answers a GET or HEAD of a download link the way OBS
// answers a presigned URL: signature, then expiry, then the object;
// errors are S3-style XML (403 SignatureDoesNotMatch, 403 AccessDenied
// "Request has expired", 404 NoSuchKey). The content supports Range
// (http.ServeContent: 206, Content-Range, suffix ranges) and HEAD, and is
// generated as it is sent, never held whole (Options.DownloadRate paces
// it). It returns the status for the log.
func (s *Simulator) serveObject(w http.ResponseWriter, r *http.Request, rid string) int {
	s.mu.Lock()
	a := s.resolveObject(r)
	s.mu.Unlock()
	w.Header().Set("x-obs-request-id", rid)
	if a.code != "" {
		writeS3Error(w, r, a, rid)
		s.recordDownload(a.status, a.code, 0)
		return a.status
	}
	cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
	cw.Header().Set("Content-Type", "application/octet-stream")
	cw.Header().Set("ETag", `"`+strconv.FormatUint(a.file.Content().seed, 16)+`"`)
	var content io.ReadSeeker = a.file.Content().Reader()
	if s.downloadRate > 0 {
		content = newThrottledReader(r.Context(), content, s.downloadRate)
	}
	http.ServeContent(cw, r, a.file.Name, a.modTime, content)
	s.recordDownload(cw.status, "", cw.n)
	return cw.status
}

// resolveObject checks a link request. Callers hold s.mu.
func (s *Simulator) resolveObject(r *http.Request) objectAnswer {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return objectAnswer{status: http.StatusMethodNotAllowed, code: "MethodNotAllowed",
			message: "The specified method is not allowed against this resource."}
	}
	if f, ok := s.takeDownloadFault(); ok {
		return objectAnswer{status: f.status, code: f.code, message: f.msg}
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, ObjectPrefix), "/")
	q := r.URL.Query()
	expires, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	method := http.MethodGet
	if s.strictHEAD {
		method = r.Method
	}
	verdict := s.links.check(method, expires, bucket, key, q.Get("AWSAccessKeyId"), q.Get("Signature"))
	now := s.clock.Now()
	switch {
	case err != nil || verdict == linkForged:
		return objectAnswer{status: http.StatusForbidden, code: "SignatureDoesNotMatch",
			message: "The request signature we calculated does not match the signature you provided."}
	case verdict == linkRevoked || now.Unix() > expires:
		return objectAnswer{status: http.StatusForbidden, code: "AccessDenied", message: "Request has expired"}
	}
	if f, b, ok := s.findFile(bucket, key, now); ok {
		return objectAnswer{status: http.StatusOK, file: f, modTime: b.doneAt()}
	}
	return objectAnswer{status: http.StatusNotFound, code: "NoSuchKey", message: "The specified key does not exist."}
}

// findFile finds a file of a succeed backup. A deleted, evicted or
// expired backup has no files any more. Callers hold s.mu.
func (s *Simulator) findFile(bucket, key string, now time.Time) (BackupFile, *backup, bool) {
	parts := strings.Split(key, "/")
	if bucket != s.bucketName() || len(parts) != 3 {
		return BackupFile{}, nil, false
	}
	b := s.findBackup(parts[0], parts[1])
	if b == nil || b.state(now).status != statusSucceed {
		return BackupFile{}, nil, false
	}
	for _, f := range b.files() {
		if f.name == parts[2] {
			return BackupFile{Bucket: bucket, Key: key, Name: f.name, Size: f.size}, b, true
		}
	}
	return BackupFile{}, nil, false
}

func writeS3Error(w http.ResponseWriter, r *http.Request, a objectAnswer, rid string) {
	body, _ := xml.Marshal(s3Error{Code: a.code, Message: a.message, Resource: r.URL.Path, RequestID: rid, HostID: "simulator"})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	w.WriteHeader(a.status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, xml.Header)
		_, _ = w.Write(body)
	}
}

// countingWriter counts the body bytes written and keeps the status.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(status int) {
	c.status = status
	c.ResponseWriter.WriteHeader(status)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// takeDownloadFault consumes a queued fault of OpDownload only: faults
// queued for any operation are meant for the API. Callers hold s.mu.
func (s *Simulator) takeDownloadFault() (response, bool) {
	for i, p := range s.failNext {
		if p.fault.Operation != OpDownload {
			continue
		}
		p.remaining--
		if p.remaining <= 0 {
			s.failNext = append(s.failNext[:i], s.failNext[i+1:]...)
		}
		r := p.fault.response()
		if r.code == codeInternal {
			r.code, r.msg = "InternalError", "We encountered an internal error. Please try again."
		}
		return r, true
	}
	return response{}, false
}

func (s *Simulator) recordDownload(status int, code string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.recordDownload(status, code, n)
}
