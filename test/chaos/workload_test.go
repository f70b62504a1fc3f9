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
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

const (
	secretName = "dcs-credentials"
	// farSchedule never fires during a run (once a year, New Year's midnight
	// UTC): the schedules only run on run-now tokens, so every child is
	// accounted for by a token.
	farSchedule = "0 0 1 1 *"
	// remarkTokenPrefix starts the token the operator appends to the remark
	// of every backup it creates: k8s:<resource UID>.
	remarkTokenPrefix = "k8s:"
	// pollEvery is how often the harness looks at the resources.
	pollEvery = time.Second
	// tokenConsumeTimeout bounds the wait for a schedule to take a run-now
	// token (the manager may be down, or backing off).
	tokenConsumeTimeout = 5 * time.Minute
)

// workload is the set of resources of a chaos run: standalone DCSBackups
// spread over instances, and one schedule per instance (the first
// Schedules instances) that runs on run-now tokens only.
type workload struct {
	c         client.Client
	ns        string
	sim       *localenv.Simulator
	instances []string
	backups   int
	schedules int
	tokens    int
	// restores are DCSRestores of standalone backups, each created once
	// its backup succeeded, so they run among the other backups of their
	// instance while the manager is killed.
	restores int
	spread   time.Duration
	rng      *lockedRand

	mu       sync.Mutex
	created  int
	consumed map[string][]string // schedule -> tokens the schedule took, in order
	errs     []error
	applied  chan struct{} // closed when every backup is created and every token taken
}

func newWorkload(c client.Client, ns string, sim *localenv.Simulator, instances []string,
	backups, schedules, tokens int, spread time.Duration, rng *lockedRand) *workload {
	return &workload{
		c: c, ns: ns, sim: sim, instances: instances, backups: backups, schedules: schedules,
		tokens: tokens, spread: spread, rng: rng, consumed: map[string][]string{}, applied: make(chan struct{}),
	}
}

// withRestores adds n restores to the workload (at most one per backup).
func (w *workload) withRestores(n int) *workload {
	w.restores = min(n, w.backups)
	return w
}

func instanceIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return ids
}

func (w *workload) backupName(i int) string   { return fmt.Sprintf("b-%03d", i) }
func (w *workload) scheduleName(i int) string { return fmt.Sprintf("s-%02d", i) }
func (w *workload) restoreName(i int) string  { return fmt.Sprintf("r-%03d", i) }

func (w *workload) templateSpec(instance string) backupv1alpha1.DCSBackupTemplateSpec {
	return backupv1alpha1.DCSBackupTemplateSpec{
		InstanceID: instance,
		Connection: backupv1alpha1.Connection{
			ProjectID: w.sim.ProjectID, Endpoint: w.sim.URL,
			CredentialsSecretRef: backupv1alpha1.SecretReference{Name: secretName},
		},
		Remark: "chaos",
	}
}

// setUp creates the namespace, the credentials and the schedules.
func (w *workload) setUp(ctx context.Context) error {
	if err := localenv.CreateNamespace(ctx, w.c, w.ns); err != nil {
		return err
	}
	if err := localenv.CreateCredentialsSecret(ctx, w.c, w.ns, secretName, w.sim.AccessKey, w.sim.SecretKey); err != nil {
		return err
	}
	for i := range w.schedules {
		s := &backupv1alpha1.DCSBackupSchedule{
			ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: w.scheduleName(i)},
			Spec: backupv1alpha1.DCSBackupScheduleSpec{
				Schedule: farSchedule,
				Template: backupv1alpha1.DCSBackupTemplate{Spec: w.templateSpec(w.instances[i%len(w.instances)])},
			},
		}
		if err := w.c.Create(ctx, s); err != nil {
			return fmt.Errorf("create schedule %s: %w", s.Name, err)
		}
	}
	return nil
}

// start creates the backups at random moments within the spread and feeds
// each schedule its tokens, one at a time: a token is applied once the
// schedule took the previous one (a run-now annotation is a level, so a
// token overwritten before the operator saw it would rightly make no run).
func (w *workload) start(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { w.createBackups(ctx) })
	wg.Go(func() { w.createRestores(ctx) })
	for i := range w.schedules {
		wg.Go(func() { w.feedTokens(ctx, w.scheduleName(i)) })
	}
	go func() {
		wg.Wait()
		close(w.applied)
	}()
}

func (w *workload) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs = append(w.errs, err)
}

func (w *workload) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.errs...)
}

func (w *workload) createBackups(ctx context.Context) {
	if w.backups == 0 {
		return
	}
	gap := w.spread / time.Duration(w.backups)
	for _, i := range w.rng.perm(w.backups) {
		if !sleepCtx(ctx, w.rng.between(0, 2*gap)) {
			return
		}
		b := &backupv1alpha1.DCSBackup{
			ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: w.backupName(i)},
			Spec:       backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: w.templateSpec(w.instances[i%len(w.instances)])},
		}
		if err := w.c.Create(ctx, b); err != nil {
			w.fail(fmt.Errorf("create backup %s: %w", b.Name, err))
			continue
		}
		w.mu.Lock()
		w.created++
		w.mu.Unlock()
	}
}

// createRestores restores every k-th backup once it succeeded, in place.
func (w *workload) createRestores(ctx context.Context) {
	if w.restores == 0 {
		return
	}
	step := w.backups / w.restores
	for i := range w.restores {
		backup := w.backupName(i * step)
		b := &backupv1alpha1.DCSBackup{}
		err := pollUntil(ctx, tokenConsumeTimeout, func() (bool, error) {
			if err := w.c.Get(ctx, types.NamespacedName{Namespace: w.ns, Name: backup}, b); err != nil {
				return false, err
			}
			return b.Status.Phase == backupv1alpha1.PhaseSucceeded, nil
		})
		if err != nil {
			w.fail(fmt.Errorf("backup %s to restore did not succeed: %w", backup, err))
			continue
		}
		rs := &backupv1alpha1.DCSRestore{
			ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: w.restoreName(i)},
			Spec: backupv1alpha1.DCSRestoreSpec{BackupRef: &backupv1alpha1.LocalObjectReference{Name: backup},
				Remark: "chaos"},
		}
		if err := w.c.Create(ctx, rs); err != nil {
			w.fail(fmt.Errorf("create restore %s: %w", rs.Name, err))
		}
	}
}

func (w *workload) feedTokens(ctx context.Context, schedule string) {
	if w.tokens == 0 {
		return
	}
	gap := w.spread / time.Duration(w.tokens)
	for k := range w.tokens {
		if !sleepCtx(ctx, w.rng.between(0, gap)) {
			return
		}
		token := fmt.Sprintf("t%d-%s", k, w.rng.hex())
		if err := w.applyToken(ctx, schedule, token); err != nil {
			w.fail(err)
			return
		}
		w.mu.Lock()
		w.consumed[schedule] = append(w.consumed[schedule], token)
		w.mu.Unlock()
	}
}

// applyToken sets the run-now annotation and waits until the schedule
// records that it took the token.
func (w *workload) applyToken(ctx context.Context, schedule, token string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{backupv1alpha1.AnnotationRunNow: token}}})
	if err != nil {
		return err
	}
	s := &backupv1alpha1.DCSBackupSchedule{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: schedule}}
	if err := w.c.Patch(ctx, s, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("annotate schedule %s with token %s: %w", schedule, token, err)
	}
	err = pollUntil(ctx, tokenConsumeTimeout, func() (bool, error) {
		if err := w.c.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
			return false, err
		}
		return s.Status.LastRunNowToken == token, nil
	})
	if err != nil {
		return fmt.Errorf("schedule %s did not take run-now token %s: %w", schedule, token, err)
	}
	return nil
}

// progress counts what is not done yet: backups not created, tokens not
// taken, and resources not in a final phase.
type progress struct {
	total     int
	final     int
	succeeded int
	notFinal  []string
}

func (p progress) pending() int { return p.total - p.final }

func (w *workload) progress(ctx context.Context) (progress, error) {
	list := &backupv1alpha1.DCSBackupList{}
	if err := w.c.List(ctx, list, client.InNamespace(w.ns)); err != nil {
		return progress{}, err
	}
	restores := &backupv1alpha1.DCSRestoreList{}
	if err := w.c.List(ctx, restores, client.InNamespace(w.ns)); err != nil {
		return progress{}, err
	}
	w.mu.Lock()
	expected := w.backups + w.schedules*w.tokens + w.restores
	w.mu.Unlock()
	p := progress{total: max(expected, len(list.Items)+len(restores.Items))}
	for i := range restores.Items {
		rs := &restores.Items[i]
		switch rs.Status.Phase {
		case backupv1alpha1.RestorePhaseSucceeded:
			p.final++
			p.succeeded++
		case backupv1alpha1.RestorePhaseFailed:
			p.final++
		default:
			p.notFinal = append(p.notFinal, describeRestore(rs))
		}
	}
	for i := range list.Items {
		b := &list.Items[i]
		switch b.Status.Phase {
		case backupv1alpha1.PhaseSucceeded:
			p.final++
			p.succeeded++
		case backupv1alpha1.PhaseFailed, backupv1alpha1.PhaseExpired, backupv1alpha1.PhaseDeleted:
			p.final++
		default:
			p.notFinal = append(p.notFinal, describeBackup(b))
		}
	}
	return p, nil
}

// waitFinal waits until everything was applied and every resource is in a
// final phase, and describes the resources that are not when the timeout
// ends (stuck).
func (w *workload) waitFinal(ctx context.Context, timeout time.Duration) error {
	var last progress
	err := pollUntil(ctx, timeout, func() (bool, error) {
		select {
		case <-w.applied:
		default:
			return false, nil
		}
		p, err := w.progress(ctx)
		if err != nil {
			return false, nil //nolint:nilerr // an API hiccup: ask again
		}
		last = p
		return p.pending() == 0, nil
	})
	if err == nil {
		return w.err()
	}
	select {
	case <-w.applied:
	default:
		return errors.Join(fmt.Errorf("the workload was not applied in time: %w", err), w.err())
	}
	sort.Strings(last.notFinal)
	return fmt.Errorf("%d of %d resources not final %s after the last kill (stuck): %w\n  %s", last.pending(), last.total,
		timeout, err, strings.Join(head(last.notFinal, 20), "\n  "))
}

func describeBackup(b *backupv1alpha1.DCSBackup) string {
	s := fmt.Sprintf("%s phase=%q backupID=%q intent=%v", b.Name, b.Status.Phase, b.Status.BackupID,
		b.Status.CreateRequestedAt != nil)
	for _, typ := range []string{backupv1alpha1.ConditionSucceeded, backupv1alpha1.ConditionSynced} {
		if c := meta.FindStatusCondition(b.Status.Conditions, typ); c != nil {
			s += fmt.Sprintf(" %s=%s/%s(%s)", typ, c.Status, c.Reason, c.Message)
		}
	}
	return s
}

func describeRestore(rs *backupv1alpha1.DCSRestore) string {
	s := fmt.Sprintf("restore %s phase=%q restoreID=%q intent=%v", rs.Name, rs.Status.Phase, rs.Status.RestoreID,
		rs.Status.RequestedAt != nil)
	for _, typ := range []string{backupv1alpha1.ConditionSucceeded, backupv1alpha1.ConditionSynced} {
		if c := meta.FindStatusCondition(rs.Status.Conditions, typ); c != nil {
			s += fmt.Sprintf(" %s=%s/%s(%s)", typ, c.Status, c.Reason, c.Message)
		}
	}
	return s
}

func head(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... and %d more", len(s)-n))
	}
	return s
}

// verdict is the end check of a run.
type verdict struct {
	Backups        int `json:"backups"`
	Children       int `json:"scheduleChildren"`
	TokensApplied  int `json:"tokensApplied"`
	Succeeded      int `json:"succeeded"`
	CloudBackups   int `json:"cloudBackups"`
	Duplicates     int `json:"duplicates"`
	Lost           int `json:"lost"`
	Orphans        int `json:"orphans"`
	WrongBackupID  int `json:"wrongBackupID"`
	ScheduleErrors int `json:"scheduleErrors"`
	// Restores are the DCSRestores; DuplicateRestores and LostRestores
	// compare them with the simulator's restore records.
	Restores          int `json:"restores"`
	DCSRestores       int `json:"cloudRestores"`
	DuplicateRestores int `json:"duplicateRestores"`
	LostRestores      int `json:"lostRestores"`

	problems []string
}

func (v *verdict) problem(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// verify checks the end state: every DCSBackup succeeded, the simulator
// holds exactly one backup per resource (found by the k8s:<uid> token at
// the end of its remark) and none without a resource, and every schedule
// has exactly one child per run-now token it took, and no other.
func (w *workload) verify(ctx context.Context) (verdict, error) {
	var v verdict
	list := &backupv1alpha1.DCSBackupList{}
	if err := w.c.List(ctx, list, client.InNamespace(w.ns)); err != nil {
		return v, err
	}
	records, err := w.sim.Backups(ctx)
	if err != nil {
		return v, err
	}
	byUID := map[string]*backupv1alpha1.DCSBackup{}
	for i := range list.Items {
		b := &list.Items[i]
		byUID[string(b.UID)] = b
		if b.Labels[backupv1alpha1.LabelSchedule] != "" {
			v.Children++
		} else {
			v.Backups++
		}
		if b.Status.Phase == backupv1alpha1.PhaseSucceeded {
			v.Succeeded++
		} else {
			v.problem("not succeeded: %s", describeBackup(b))
		}
	}
	v.checkRecords(byUID, records)
	if v.Backups != w.backups {
		v.problem("%d standalone DCSBackups exist, %d were created", v.Backups, w.backups)
	}
	if err := w.checkSchedules(ctx, &v); err != nil {
		return v, err
	}
	return v, w.checkRestores(ctx, &v)
}

// checkRestores: every DCSRestore succeeded, with exactly one restore
// record in the simulator carrying its token, and no restore record
// carries a token of no DCSRestore.
func (w *workload) checkRestores(ctx context.Context, v *verdict) error {
	list := &backupv1alpha1.DCSRestoreList{}
	if err := w.c.List(ctx, list, client.InNamespace(w.ns)); err != nil {
		return err
	}
	records, err := w.sim.Restores(ctx)
	if err != nil {
		return err
	}
	byToken := map[string][]simulator.RestoreRecord{}
	for _, r := range records {
		byToken[restoreTokenIn(r.Remark)] = append(byToken[restoreTokenIn(r.Remark)], r)
	}
	v.Restores = len(list.Items)
	if v.Restores != w.restores {
		v.problem("%d DCSRestores exist, %d were to be created", v.Restores, w.restores)
	}
	for i := range list.Items {
		rs := &list.Items[i]
		if rs.Status.Phase != backupv1alpha1.RestorePhaseSucceeded {
			v.problem("not succeeded: %s", describeRestore(rs))
		}
		token := expectedRestoreToken(rs)
		recs := byToken[token]
		delete(byToken, token)
		switch {
		case len(recs) == 0:
			v.LostRestores++
			v.problem("lost: no restore in the simulator for DCSRestore %s (token %s)", rs.Name, token)
		case len(recs) > 1:
			v.DuplicateRestores += len(recs) - 1
			v.problem("duplicate: DCSRestore %s was restored %d times", rs.Name, len(recs))
		default:
			v.DCSRestores++
			if recs[0].ID != rs.Status.RestoreID {
				v.problem("DCSRestore %s tracks restore %q, its restore is %s", rs.Name, rs.Status.RestoreID, recs[0].ID)
			}
		}
	}
	for token, recs := range byToken {
		for _, r := range recs {
			v.problem("restore %s (token %q, remark %q) belongs to no DCSRestore", r.ID, token, r.Remark)
		}
	}
	return nil
}

// expectedRestoreToken is the token the operator writes into the remark of
// a DCSRestore's restore (README, Restoring): derived from its namespace,
// name, backup and target, so that a re-created DCSRestore finds it too.
func expectedRestoreToken(rs *backupv1alpha1.DCSRestore) string {
	st := rs.Status
	sum := sha256.Sum256([]byte(rs.Namespace + "/" + rs.Name + "|" + st.SourceInstanceID + "/" + st.BackupID + "|" +
		st.InstanceID))
	return "dcsr-" + hex.EncodeToString(sum[:])[:16]
}

// restoreTokenIn returns the dcsr- token of a remark, or "".
func restoreTokenIn(remark string) string {
	for _, f := range strings.Fields(remark) {
		if strings.HasPrefix(f, "dcsr-") {
			return f
		}
	}
	return ""
}

// checkRecords matches the simulator's records with the resources.
func (v *verdict) checkRecords(byUID map[string]*backupv1alpha1.DCSBackup, records []simulator.BackupRecord) {
	found := map[string][]simulator.BackupRecord{}
	for _, r := range records {
		uid := tokenUID(r.Remark)
		if _, ok := byUID[uid]; !ok {
			v.Orphans++
			v.problem("cloud backup %s (instance %s, remark %q, origin %s) belongs to no DCSBackup", r.ID, r.InstanceID, r.Remark, r.Origin)
			continue
		}
		v.CloudBackups++
		found[uid] = append(found[uid], r)
	}
	for uid, b := range byUID {
		recs := found[uid]
		switch {
		case len(recs) == 0:
			v.Lost++
			v.problem("lost: no cloud backup for DCSBackup %s (uid %s)", b.Name, uid)
		case len(recs) > 1:
			v.Duplicates += len(recs) - 1
			ids := make([]string, 0, len(recs))
			for _, r := range recs {
				ids = append(ids, fmt.Sprintf("%s(created %s)", r.ID, r.CreatedAt.Format(time.RFC3339Nano)))
			}
			v.problem("duplicate: DCSBackup %s (uid %s) has %d cloud backups: %s; status.backupID %s", b.Name, uid,
				len(recs), strings.Join(ids, ", "), b.Status.BackupID)
		case recs[0].ID != b.Status.BackupID:
			v.WrongBackupID++
			v.problem("DCSBackup %s tracks backup %q, its cloud backup is %s", b.Name, b.Status.BackupID, recs[0].ID)
		}
	}
}

// tokenUID returns the UID of the k8s:<uid> token ending a remark, or "".
func tokenUID(remark string) string {
	i := strings.LastIndex(remark, remarkTokenPrefix)
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(remark[i+len(remarkTokenPrefix):])
}

// checkSchedules: each schedule has exactly the children of the tokens
// it took (named <schedule>-run-<hash of the token>), and never fired for
// a slot.
func (w *workload) checkSchedules(ctx context.Context, v *verdict) error {
	w.mu.Lock()
	consumed := map[string][]string{}
	for k, toks := range w.consumed {
		consumed[k] = append([]string(nil), toks...)
	}
	w.mu.Unlock()
	for i := range w.schedules {
		name := w.scheduleName(i)
		s := &backupv1alpha1.DCSBackupSchedule{}
		if err := w.c.Get(ctx, types.NamespacedName{Namespace: w.ns, Name: name}, s); err != nil {
			return err
		}
		children := &backupv1alpha1.DCSBackupList{}
		if err := w.c.List(ctx, children, client.InNamespace(w.ns),
			client.MatchingLabels{backupv1alpha1.LabelSchedule: name}); err != nil {
			return err
		}
		v.TokensApplied += len(consumed[name])
		v.checkSchedule(s, children.Items, consumed[name])
	}
	return nil
}

func (v *verdict) checkSchedule(s *backupv1alpha1.DCSBackupSchedule, children []backupv1alpha1.DCSBackup, tokens []string) {
	want := map[string]string{}
	for _, tok := range tokens {
		want[runNowChildName(s.Name, tok)] = tok
	}
	seen := map[string]bool{}
	for _, c := range children {
		seen[c.Name] = true
		if _, ok := want[c.Name]; !ok {
			v.ScheduleErrors++
			v.problem("schedule %s: child %s (scheduled-at %s) matches no run-now token: a second run", s.Name, c.Name,
				c.Annotations[backupv1alpha1.AnnotationScheduledTime])
		}
	}
	for name, tok := range want {
		if !seen[name] {
			v.ScheduleErrors++
			v.problem("schedule %s: no child %s for run-now token %s", s.Name, name, tok)
		}
	}
	if s.Status.LastScheduleTime != nil {
		v.ScheduleErrors++
		v.problem("schedule %s ran for slot %s, which is not due", s.Name, s.Status.LastScheduleTime)
	}
}

// runNowChildName is the name the operator gives the child of a run-now
// token (DESIGN.md: derived from the trigger, so a retry finds it):
// <schedule>-run-<first 10 hex digits of sha256(token)>.
func runNowChildName(schedule, token string) string {
	sum := sha256.Sum256([]byte(token))
	return schedule + "-run-" + hex.EncodeToString(sum[:])[:10]
}

// pollUntil calls cond every pollEvery until it reports true, returns an
// error, or timeout or ctx ends.
func pollUntil(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()
	for {
		done, err := cond()
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %s: %w", timeout, ctx.Err())
		case <-ticker.C:
		}
	}
}

// sleepCtx sleeps for d; false if ctx ended first. It is for the random
// pauses of the experiment (kill moments, creation times), never for
// waiting on state.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
