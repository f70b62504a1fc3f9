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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/dcs-operator/dcs-backup-operator/internal/export"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// bucketWatchEvery is how often the watcher looks at the bucket.
const bucketWatchEvery = 200 * time.Millisecond

// bucketView is the bucket as one look saw it: the objects with their
// sizes and ETags, and the multipart uploads neither completed nor
// aborted.
type bucketView struct {
	sizes   map[string]int64
	etags   map[string]string
	uploads map[string]string // upload id -> key
}

// manifests are the keys of the manifests in v.
func (v bucketView) manifests() []string {
	var out []string
	for key := range v.sizes {
		if path.Base(key) == export.ManifestName {
			out = append(out, key)
		}
	}
	return out
}

// bucketWatcher reads the export bucket through S3 (not the operator's
// code) while the manager is killed and restarted. At every look, each
// manifest.json must describe a complete copy: every file it lists is in
// its folder with the listed size. Each manifest written is also checked
// once (it is the last object of a copy, and nothing rewrites a folder
// that has one) by reading its files back: their SHA-256 must be the
// listed one, and the one of the bytes DCS serves.
type bucketWatcher struct {
	mc     *minio.Client
	bucket string
	// want returns the SHA-256 DCS serves for a file of a manifest's
	// backup.
	want func(ctx context.Context, m *export.Manifest, file export.ManifestFile) (string, error)

	mu sync.Mutex
	// looks counts the looks at the bucket.
	looks int
	last  bucketView
	// manifests are the manifests of the last look, by key.
	manifests map[string]*seenManifest
	// written counts, per folder, the different manifests seen in it.
	written map[string]map[string]bool
	// hashed are the manifests (by content) whose files were read back.
	hashed   map[string]bool
	problems []string
}

// seenManifest is a manifest as the watcher read it.
type seenManifest struct {
	etag string
	// sum is the SHA-256 of the manifest's bytes: what it was written as.
	sum       string
	m         *export.Manifest
	firstSeen time.Time
}

func newBucketWatcher(gw *localenv.VersityGW, bucket string) (*bucketWatcher, error) {
	mc, err := minio.New(strings.TrimPrefix(gw.URL, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(gw.AccessKey, gw.SecretKey, ""), Region: gw.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, err
	}
	return &bucketWatcher{mc: mc, bucket: bucket, manifests: map[string]*seenManifest{},
		written: map[string]map[string]bool{}, hashed: map[string]bool{}}, nil
}

// run looks at the bucket every bucketWatchEvery until ctx ends.
func (w *bucketWatcher) run(ctx context.Context) {
	t := time.NewTicker(bucketWatchEvery)
	defer t.Stop()
	for {
		w.look(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// look takes one view of the bucket and checks its manifests. A failed
// read is not a finding (the gateway is busy): the next look repeats it.
func (w *bucketWatcher) look(ctx context.Context) {
	v, err := w.view(ctx)
	if err != nil {
		return
	}
	seen := map[string]*seenManifest{}
	for _, key := range v.manifests() {
		sm, err := w.readManifest(ctx, key, v.etags[key])
		if err != nil {
			continue
		}
		seen[key] = sm
		if sm.m != nil && w.complete(v, key, sm.m) {
			w.hashFiles(ctx, key, sm)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.looks++
	w.last, w.manifests = v, seen
}

// readManifest returns a manifest seen with etag, reading it only when
// the ETag changed since the last look. An unreadable manifest is a
// finding, once.
func (w *bucketWatcher) readManifest(ctx context.Context, key, etag string) (*seenManifest, error) {
	w.mu.Lock()
	prev := w.manifests[key]
	w.mu.Unlock()
	if prev != nil && prev.etag == etag && etag != "" {
		return prev, nil
	}
	data, err := w.read(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	sm := &seenManifest{etag: etag, sum: hex.EncodeToString(sum[:]), firstSeen: time.Now()}
	if prev != nil && prev.sum == sm.sum {
		sm.firstSeen, sm.m = prev.firstSeen, prev.m
		return sm, nil
	}
	if sm.m, err = export.ParseManifest(data); err != nil {
		w.problem("%s: %v", key, err)
	}
	folder := strings.TrimSuffix(key, export.ManifestName)
	w.mu.Lock()
	if w.written[folder] == nil {
		w.written[folder] = map[string]bool{}
	}
	w.written[folder][sm.sum] = true
	w.mu.Unlock()
	return sm, nil
}

// complete checks that every file a manifest lists is in v with its size.
func (w *bucketWatcher) complete(v bucketView, key string, m *export.Manifest) bool {
	folder := strings.TrimSuffix(key, export.ManifestName)
	ok := true
	for _, f := range m.Files {
		size, found := v.sizes[folder+f.Name]
		if !found || size != f.Size {
			ok = false
			w.problem("%s lists %s with %d bytes; the bucket has it: %v, with %d bytes", key, f.Name, f.Size, found, size)
		}
	}
	return ok
}

// hashFiles reads the files of a manifest back, once per manifest.
func (w *bucketWatcher) hashFiles(ctx context.Context, key string, sm *seenManifest) {
	w.mu.Lock()
	done := w.hashed[sm.sum]
	w.mu.Unlock()
	if done {
		return
	}
	folder := strings.TrimSuffix(key, export.ManifestName)
	for _, f := range sm.m.Files {
		h := sha256.New()
		if _, err := w.read(ctx, folder+f.Name, h); err != nil {
			return // read again at the next look
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
			w.problem("%s lists %s with sha256 %s; its bytes have %s", key, f.Name, f.SHA256, got)
		}
		want, err := w.want(ctx, sm.m, f)
		switch {
		case err != nil:
			return
		case want != f.SHA256:
			w.problem("%s lists %s with sha256 %s; DCS serves bytes with %s", key, f.Name, f.SHA256, want)
		}
	}
	w.mu.Lock()
	w.hashed[sm.sum] = true
	w.mu.Unlock()
}

// view lists the objects, then the incomplete uploads. In that order: a
// manifest in the listing was written after its files were complete, so
// they are in the same listing.
func (w *bucketWatcher) view(ctx context.Context) (bucketView, error) {
	v := bucketView{sizes: map[string]int64{}, etags: map[string]string{}, uploads: map[string]string{}}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for obj := range w.mc.ListObjects(ctx, w.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return v, obj.Err
		}
		v.sizes[obj.Key], v.etags[obj.Key] = obj.Size, obj.ETag
	}
	for u := range w.mc.ListIncompleteUploads(ctx, w.bucket, "", true) {
		if u.Err != nil {
			return v, u.Err
		}
		v.uploads[u.UploadID] = u.Key
	}
	return v, nil
}

// read GETs an object into h, or returns its bytes if h is nil.
func (w *bucketWatcher) read(ctx context.Context, key string, h io.Writer) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	obj, err := w.mc.GetObject(ctx, w.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer func() { _ = obj.Close() }()
	if h == nil {
		return io.ReadAll(obj)
	}
	_, err = io.Copy(h, obj)
	return nil, err
}

func (w *bucketWatcher) problem(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.problems = append(w.problems, fmt.Sprintf("look %d: ", w.looks)+fmt.Sprintf(format, args...))
}

// state returns the latest view, the number of looks and the number of
// manifests whose files were read back.
func (w *bucketWatcher) state() (bucketView, int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.looks, len(w.hashed)
}

// hashedNow reports whether the manifest key of the last look had its
// files read back.
func (w *bucketWatcher) hashedNow(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	sm := w.manifests[key]
	return sm != nil && w.hashed[sm.sum]
}

// rewritten returns the folders that had more than one manifest.
func (w *bucketWatcher) rewritten() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for folder, sums := range w.written {
		if len(sums) > 1 {
			out[folder] = len(sums)
		}
	}
	return out
}

func (w *bucketWatcher) findings() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.problems...)
}
