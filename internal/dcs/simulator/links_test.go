package simulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// linksEnv has a finished backup of instA (8 KiB + 3 bytes) and of instB,
// a cluster of 4 shards (1 MiB + 1 byte).
func linksEnv(t testing.TB, mutate func(*Options)) (e *env, haBackup, clusterBackup string) {
	t.Helper()
	e = newEnv(t, dcs.V2, func(o *Options) {
		o.Instances = []Instance{{ID: instA, BackupSize: 8<<10 + 3}, {ID: instB, CacheMode: "cluster", ShardCount: 4, BackupSize: 1<<20 + 1}}
		if mutate != nil {
			mutate(o)
		}
	})
	haBackup = e.create(instA, "", "")
	clusterBackup = e.create(instB, "", "")
	e.step(100 * time.Second)
	return e, haBackup, clusterBackup
}

func (e *env) links(inst, bid string, exp time.Duration) dcs.BackupFiles {
	e.t.Helper()
	files, err := e.client.ListBackupFileLinks(e.ctx, inst, bid, exp)
	if err != nil {
		e.t.Fatalf("links: %v", err)
	}
	return files
}

type download struct {
	status int
	header http.Header
	body   []byte
}

func get(t testing.TB, method string, link dcs.PresignedURL, header map[string]string) download {
	t.Helper()
	req, err := http.NewRequest(method, link.Reveal(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(dcs.RedactError(err))
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return download{status: res.StatusCode, header: res.Header, body: body}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestLinksServeTheBackupFiles(t *testing.T) {
	e, ha, cluster := linksEnv(t, nil)
	e.checkLinks(instA, ha, 8<<10+3, regexp.MustCompile(`^redis_192\.168\.\d+\.\d+_6379_20261122075321\.rdb$`))
	e.checkLinks(instB, cluster, 1<<20+1, regexp.MustCompile(`^redis_192\.168\.\d+\.\d+_6379_\d+-\d+_20261122075321\.rdb$`))
	// Slot ranges split 16384 slots over the 4 shards.
	files := e.links(instB, cluster, time.Hour)
	for i, r := range []string{"_0-4095_", "_4096-8191_", "_8192-12287_", "_12288-16383_"} {
		if !strings.Contains(files.Links[i].FileName, r) {
			t.Errorf("shard %d: %s", i, files.Links[i].FileName)
		}
	}
	st := e.sim.Stats()
	if st.Requests[OpDownload] != 5 || st.Outcomes[OpDownload]["200"] != 5 || st.DownloadBytes != 8<<10+3+1<<20+1 {
		t.Fatalf("stats %+v", st)
	}
	if st.Total != st.Requests[OpCreate]+st.Requests[OpListBackups]+st.Requests[OpLinks] {
		t.Fatalf("downloads counted as API requests: %+v", st)
	}
}

// checkLinks asks for a backup's links and downloads every file: the
// files are the ones BackupFiles names, their bytes are BackupFile.Content
// and their sizes add up to the backup's.
func (e *env) checkLinks(inst, bid string, size int64, name *regexp.Regexp) {
	t := e.t
	t.Helper()
	files := e.links(inst, bid, 30*time.Minute)
	want, err := e.sim.BackupFiles(inst, bid)
	if err != nil || len(files.Links) != len(want) {
		t.Fatalf("links %+v, files %+v, %v", files, want, err)
	}
	if files.FilePath != inst+"/"+bid+"/" || files.BucketName != "bucket"+DefaultProjectID ||
		!files.ExpiresAt.Equal(e.clk.Now().Add(30*time.Minute)) {
		t.Fatalf("links %+v", files)
	}
	var total int64
	for i, l := range files.Links {
		if !name.MatchString(l.FileName) || l.FileName != want[i].Name || want[i].Key != files.FilePath+l.FileName {
			t.Fatalf("file %d: %s, want %+v", i, l.FileName, want[i])
		}
		e.checkLink(l.URL)
		e.checkDownload(l.URL, want[i])
		total += want[i].Size
	}
	if b := e.backup(inst, bid); total != size || b.Size != size {
		t.Fatalf("files add up to %d, backup size %d, want %d", total, b.Size, size)
	}
}

// checkDownload GETs a link and compares the answer with the file.
func (e *env) checkDownload(link dcs.PresignedURL, want BackupFile) {
	e.t.Helper()
	d := get(e.t, "GET", link, nil)
	if d.status != 200 || int64(len(d.body)) != want.Size || d.header.Get("Content-Length") != strconv.FormatInt(want.Size, 10) {
		e.t.Fatalf("GET %s: %d, %d bytes", want.Name, d.status, len(d.body))
	}
	if sha(d.body) != want.Content().SHA256() {
		e.t.Fatalf("GET %s: content differs from BackupFile.Content", want.Name)
	}
}

// checkLink checks a link points at the simulator with S3 v2 query auth.
func (e *env) checkLink(link dcs.PresignedURL) {
	e.t.Helper()
	u, err := url.Parse(link.Reveal())
	q := u.Query()
	if err != nil || u.Host != strings.TrimPrefix(e.srv.URL, "http://") || q.Get("Signature") == "" || q.Get("AWSAccessKeyId") == "" ||
		q.Get("Expires") != strconv.FormatInt(e.clk.Now().Add(30*time.Minute).Unix(), 10) {
		e.t.Fatalf("link %s", link)
	}
}

func TestLinksRangesAndHEAD(t *testing.T) {
	e, ha, _ := linksEnv(t, nil)
	l := e.links(instA, ha, time.Hour).Links[0]
	full := get(t, "GET", l.URL, nil).body
	tests := []struct {
		rng          string
		status       int
		body         []byte
		contentRange string
	}{
		{"bytes=0-99", 206, full[:100], "bytes 0-99/8195"},
		{"bytes=8000-", 206, full[8000:], "bytes 8000-8194/8195"},
		{"bytes=-5", 206, full[len(full)-5:], "bytes 8190-8194/8195"},
		{"bytes=65-70", 206, full[65:71], "bytes 65-70/8195"},
		{"bytes=9000-9001", 416, nil, "bytes */8195"},
	}
	for _, tc := range tests {
		d := get(t, "GET", l.URL, map[string]string{"Range": tc.rng})
		if d.status != tc.status || d.header.Get("Content-Range") != tc.contentRange || (tc.body != nil && !bytes.Equal(d.body, tc.body)) {
			t.Errorf("%s: %d %q, %d bytes", tc.rng, d.status, d.header.Get("Content-Range"), len(d.body))
		}
	}
	head := get(t, "HEAD", l.URL, nil)
	if head.status != 200 || head.header.Get("Content-Length") != "8195" || len(head.body) != 0 || head.header.Get("ETag") == "" {
		t.Fatalf("HEAD: %d %v", head.status, head.header)
	}
	if d := get(t, "PUT", l.URL, nil); d.status != 405 {
		t.Fatalf("PUT: %d", d.status)
	}
}

// s3Code reads the Code of an S3-style XML error.
func s3Code(t *testing.T, d download) string {
	t.Helper()
	var e s3Error
	if err := xml.Unmarshal(d.body, &e); err != nil || d.header.Get("Content-Type") != "application/xml" || e.RequestID == "" {
		t.Fatalf("not an S3 error: %d %q (%v)", d.status, d.body, err)
	}
	return e.Code
}

func TestForgedLinks(t *testing.T) {
	e, ha, _ := linksEnv(t, nil)
	l := e.links(instA, ha, 5*time.Minute).Links[0]
	tamper := func(param, value string) dcs.PresignedURL {
		u, _ := url.Parse(l.URL.Reveal())
		q := u.Query()
		q.Set(param, value)
		u.RawQuery = q.Encode()
		return dcs.PresignedURL(u.String())
	}
	u, _ := url.Parse(l.URL.Reveal())
	exp, _ := strconv.ParseInt(u.Query().Get("Expires"), 10, 64)
	for name, link := range map[string]dcs.PresignedURL{
		"signature":  tamper("Signature", "AAAA"),
		"access key": tamper("AWSAccessKeyId", "OTHER"),
		"expires":    tamper("Expires", strconv.FormatInt(exp+3600, 10)),
		"no expires": tamper("Expires", "soon"),
		"other file": dcs.PresignedURL(strings.Replace(l.URL.Reveal(), ".rdb?", ".aof?", 1)),
	} {
		if d := get(t, "GET", link, nil); d.status != 403 || s3Code(t, d) != "SignatureDoesNotMatch" {
			t.Errorf("%s: %d %s", name, d.status, d.body)
		}
	}
}

func TestLinksExpire(t *testing.T) {
	e, ha, _ := linksEnv(t, nil)
	l := e.links(instA, ha, 5*time.Minute).Links[0]
	e.step(5 * time.Minute)
	if d := get(t, "GET", l.URL, nil); d.status != 200 {
		t.Fatalf("at its expiry second: %d", d.status)
	}
	e.step(time.Second)
	if d := get(t, "GET", l.URL, nil); d.status != 403 || s3Code(t, d) != "AccessDenied" || !strings.Contains(string(d.body), "Request has expired") {
		t.Fatalf("expired: %d %s", d.status, d.body)
	}
	if d := get(t, "HEAD", l.URL, nil); d.status != 403 || len(d.body) != 0 {
		t.Fatalf("expired HEAD: %d", d.status)
	}

	// ExpireLinks: links issued so far expire, new ones work.
	fresh := e.links(instA, ha, time.Hour).Links[0]
	e.sim.ExpireLinks()
	if d := get(t, "GET", fresh.URL, nil); d.status != 403 || s3Code(t, d) != "AccessDenied" {
		t.Fatalf("after ExpireLinks: %d %s", d.status, d.body)
	}
	admin{t, e.srv.URL}.post("links/expire", "")
	again := e.links(instA, ha, time.Hour).Links[0]
	if d := get(t, "GET", again.URL, nil); d.status != 200 {
		t.Fatalf("new link: %d", d.status)
	}

	// A deleted backup has no files any more.
	if err := e.client.DeleteBackup(e.ctx, instA, ha); err != nil {
		t.Fatal(err)
	}
	if d := get(t, "GET", again.URL, nil); d.status != 404 || s3Code(t, d) != "NoSuchKey" {
		t.Fatalf("deleted: %d %s", d.status, d.body)
	}
	_, err := e.client.ListBackupFileLinks(e.ctx, instA, ha, time.Hour)
	wantAPIError(t, err, dcs.ClassTerminal, "DCS.4087")
	if _, err := e.sim.BackupFiles(instA, ha); err == nil {
		t.Fatal("BackupFiles of a deleted backup")
	}
}

func TestLinkOptions(t *testing.T) {
	e, ha, _ := linksEnv(t, func(o *Options) { o.LinkExpiry = time.Minute; o.LinkHEADForbidden = true })
	l := e.links(instA, ha, time.Hour).Links[0]
	if !strings.Contains(l.URL.Reveal(), "Expires="+strconv.FormatInt(e.clk.Now().Add(time.Minute).Unix(), 10)) {
		t.Fatalf("LinkExpiry not applied: %s", l.URL)
	}
	if d := get(t, "HEAD", l.URL, nil); d.status != 403 {
		t.Fatalf("HEAD on a GET link: %d", d.status)
	}
	if d := get(t, "GET", l.URL, nil); d.status != 200 {
		t.Fatalf("GET: %d", d.status)
	}
	e.step(61 * time.Second)
	if d := get(t, "GET", l.URL, nil); d.status != 403 {
		t.Fatalf("after LinkExpiry: %d", d.status)
	}
}

func TestLinksFaultsAndRules(t *testing.T) {
	e, ha, _ := linksEnv(t, nil)
	l := e.links(instA, ha, time.Hour).Links[0]
	e.sim.FailNextRequests(1, Fault{Status: 500}) // an API fault: downloads ignore it
	e.sim.FailNextRequests(2, Fault{Operation: OpDownload, Status: 503, Code: "SlowDown"})
	for range 2 {
		if d := get(t, "GET", l.URL, nil); d.status != 503 || s3Code(t, d) != "SlowDown" {
			t.Fatalf("injected: %d %s", d.status, d.body)
		}
	}
	if d := get(t, "GET", l.URL, nil); d.status != 200 {
		t.Fatalf("after the faults: %d", d.status)
	}
	_, err := e.client.ShowInstance(e.ctx, instA)
	wantAPIError(t, err, dcs.ClassTransient, "DCS.5000")

	running := e.create(instA, "", "")
	_, err = e.client.ListBackupFileLinks(e.ctx, instA, running, time.Hour)
	wantAPIError(t, err, dcs.ClassTerminal, "DCS.4087")
	_, err = e.client.ListBackupFileLinks(e.ctx, instA, "nope", time.Hour)
	wantAPIError(t, err, dcs.ClassTerminal, "DCS.4031")
	for _, body := range []string{``, `{"expiration":299}`, `{"expiration":86401}`, `{}`} {
		a := e.raw("POST", path(versionV2, instA+"/backups/"+ha+"/links"), body, nil)
		if a.status != 400 {
			t.Errorf("%q: %d", body, a.status)
		}
	}
}

func TestContent(t *testing.T) {
	c := ObjectContent("bucket", "i/b/f.rdb", 3*blockBytes+5)
	all := make([]byte, c.Size())
	if n, err := c.ReadAt(all, 0); n != len(all) || err != nil {
		t.Fatalf("%d %v", n, err)
	}
	again, _ := io.ReadAll(c.Reader())
	if !bytes.Equal(all, again) || c.SHA256() != sha(all) {
		t.Fatal("content is not deterministic")
	}
	// Every offset and length gives the same bytes as the whole.
	for _, off := range []int64{0, 1, 7, 8, 9, blockBytes - 3, blockBytes, 2*blockBytes + 11, c.Size() - 1} {
		for _, n := range []int{1, 3, 8, 17, blockBytes + 9} {
			p := make([]byte, n)
			got, err := c.ReadAt(p, off)
			want := all[off:min(off+int64(n), c.Size())]
			if got != len(want) || !bytes.Equal(p[:got], want) || (got < n) != (err == io.EOF) {
				t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", n, off, got, err)
			}
		}
	}
	if _, err := c.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("negative offset")
	}
	other := ObjectContent("bucket", "i/b/g.rdb", c.Size())
	if other.SHA256() == c.SHA256() || bytes.Equal(all[blockBytes:2*blockBytes], all[2*blockBytes:3*blockBytes]) {
		t.Fatal("files or blocks repeat")
	}
	if ObjectContent("b", "k", 0).SHA256() != sha(nil) {
		t.Fatal("empty content")
	}
}

// BenchmarkContent measures the generator: a 1 GiB export must not be
// limited by it (go test -bench=Content ./internal/dcs/simulator/).
func BenchmarkContent(b *testing.B) {
	c := ObjectContent("bucket", "key", 1<<30)
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for i := range b.N {
		_, _ = c.ReadAt(buf[3:], int64(i%1000)*int64(len(buf))+5)
	}
}

func TestBackupFilesAdmin(t *testing.T) {
	e, _, cluster := linksEnv(t, nil)
	var files []BackupFile
	admin{t, e.srv.URL}.get(fmt.Sprintf("backup-files?instance_id=%s&backup_id=%s", instB, cluster), &files)
	if len(files) != 4 || files[0].Size+files[1].Size+files[2].Size+files[3].Size != 1<<20+1 {
		t.Fatalf("%+v", files)
	}
	if got := (admin{t, e.srv.URL}).status("GET", "backup-files?instance_id=x&backup_id=y", ""); got != 400 {
		t.Fatalf("unknown backup: %d", got)
	}
}

// BenchmarkDownload measures a link GET through a real HTTP server
// (go test -bench=Download -run=^$ ./internal/dcs/simulator/).
func BenchmarkDownload(b *testing.B) {
	e, _, _ := linksEnv(b, func(o *Options) { o.Instances[0].BackupSize = 256 << 20 })
	bid := e.sim.Backups()[0].ID
	files, err := e.client.ListBackupFileLinks(e.ctx, instA, bid, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(256 << 20)
	b.ResetTimer()
	for range b.N {
		res, err := http.Get(files.Links[0].URL.Reveal())
		if err != nil {
			b.Fatal(dcs.RedactError(err))
		}
		n, _ := io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if n != 256<<20 {
			b.Fatalf("%d bytes", n)
		}
	}
}

// TestDownloadRate: a throttled link serves the same bytes, whole and in
// ranges, no faster than the rate allows. Only that lower bound is
// checked: a busy machine may well be slower.
func TestDownloadRate(t *testing.T) {
	const rate = 256 << 10
	e, _, cluster := linksEnv(t, func(o *Options) { o.DownloadRate = rate })
	want, err := e.sim.BackupFiles(instB, cluster)
	if err != nil {
		t.Fatal(err)
	}
	l := e.links(instB, cluster, time.Hour).Links[0]
	start := time.Now()
	e.checkDownload(l.URL, want[0])
	if took, least := time.Since(start), time.Duration(want[0].Size)*time.Second/rate; took < least {
		t.Errorf("%d bytes at %d bytes/s took %s, less than %s", want[0].Size, rate, took, least)
	}
	start = time.Now()
	d := get(t, "GET", l.URL, map[string]string{"Range": "bytes=200000-"})
	body, _ := io.ReadAll(want[0].Content().Reader())
	if d.status != 206 || !bytes.Equal(d.body, body[200000:]) {
		t.Fatalf("range: %d, %d bytes", d.status, len(d.body))
	}
	if took, least := time.Since(start), time.Duration(len(d.body))*time.Second/rate; took < least {
		t.Errorf("a range of %d bytes took %s, less than %s", len(d.body), took, least)
	}
	if st := e.sim.Stats(); st.DownloadBytes != want[0].Size+int64(len(d.body)) {
		t.Errorf("download bytes %d", st.DownloadBytes)
	}
}
