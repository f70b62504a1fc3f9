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
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

const (
	// faultDCSTimeout is the managers' --dcs-timeout in the fault tests,
	// below the fixed latency of the timeout class.
	faultDCSTimeout = time.Second
	timeoutLatency  = 2 * time.Second
	// clockSkew is beyond the gateway's 15 minutes.
	clockSkew = 20 * time.Minute
	// validToken and staleToken are the security tokens of the expired
	// token class: the simulator takes the first, the Secret starts with
	// the second.
	validToken = "token-current-0001"
	staleToken = "token-expired-0000"
	// Backoff bases of the operator (internal/controller): transient
	// errors, busy instances, bad credentials; a schedule's preflight.
	transientBase = time.Second
	busyBase      = 5 * time.Second
	unauthBase    = 30 * time.Second
	preflightBase = 10 * time.Second
	// unauthWindow is the shortest fault of the Unauthorized classes: long
	// enough for three tries of a schedule's preflight backing off from 10s.
	unauthWindow = 45 * time.Second
	// watchEvery is how often a fault test reads the conditions.
	watchEvery = 250 * time.Millisecond
	// dcsRequestsMetric counts the manager's DCS calls.
	dcsRequestsMetric = "dcs_backup_operator_dcs_requests_total"
)

// faultCase is one cloud fault class.
type faultCase struct {
	name string
	// reasons are the Synced reasons the fault may show; the first must
	// show, with message in its message.
	reasons []string
	message string
	// running: a backup is already running on instance a when the fault
	// starts; during: backups created while it lasts, one instance each.
	running bool
	during  int
	// schedule: a schedule on the instance of the first backup created
	// during the fault; its Ready must report the first reason too.
	schedule bool
	// token: the simulator's key is temporary and the Secret starts with
	// a stale token; the fault ends when the Secret is fixed.
	token bool
	// ownManager: the manager's metrics count the requests (none reaches
	// the simulator), so the class gets a manager of its own.
	ownManager bool
	begin, end func(ctx context.Context, r *faultRun) error
	// bound is the most requests the fault may see while it lasts, given
	// its length; op, if set, limits the count to one operation.
	bound func(r *faultRun, window time.Duration) int
	op    simulator.Operation
	// minGap is the least time between two requests for one instance
	// while the fault lasts (Retry-After, the busy backoff).
	minGap time.Duration
	// untilUsed: the fault lasts until the simulator has given this many
	// answers with code usedCode (queued answers, not a time window).
	untilUsed int
	usedCode  string
	// minWindow lengthens the fault beyond the scale's window, so that a
	// slow backoff (30s base) shows its growth.
	minWindow time.Duration
	// growingOp: the gaps between requests of this operation (the
	// schedule's preflight) must grow while the fault lasts: exponential
	// backoff, not a fixed retry interval.
	growingOp simulator.Operation
}

// faultRun is one run of a fault class.
type faultRun struct {
	fc      faultCase
	fs      *faultSim
	ns      string
	c       client.Client
	mgr     *localenv.Manager
	backups []string
	window  time.Duration
}

func (r *faultRun) affected() int { return len(r.backups) }

// attempts is how many tries exponential backoff from base (doubling)
// makes within w, plus one for the edges of the window.
func attempts(w, base time.Duration) int {
	return int(math.Floor(math.Log2(float64(w)/float64(base)+1))) + 2
}

func faultCases() []faultCase {
	sc := shared.scale
	retryAfter := max(2*time.Second, sc.FaultWindow/4).Round(time.Second)
	perBackup := func(base time.Duration) func(*faultRun, time.Duration) int {
		return func(r *faultRun, w time.Duration) int { return r.affected() * attempts(w, base) }
	}
	unauthorized := func(r *faultRun, w time.Duration) int {
		// The backups back off from 30s; the schedule's preflight and its
		// restore watch from 10s.
		return r.affected()*attempts(w, unauthBase) + 2*attempts(w, preflightBase)
	}
	setFaults := func(f simulator.Faults) func(context.Context, *faultRun) error {
		return func(_ context.Context, r *faultRun) error { r.fs.SetFaults(f); return nil }
	}
	return []faultCase{{
		name: "5xx", reasons: []string{backupv1alpha1.ReasonAPIError}, message: "HTTP 5", running: true, during: 1,
		begin: setFaults(simulator.Faults{ErrorRate: 1}), end: setFaults(simulator.Faults{}),
		bound: perBackup(transientBase),
	}, {
		name: "429", reasons: []string{backupv1alpha1.ReasonThrottled}, message: "APIG.0308", running: true, during: 1,
		begin: setFaults(simulator.Faults{ThrottleRate: 1, RetryAfter: retryAfter}), end: setFaults(simulator.Faults{}),
		bound:  func(r *faultRun, w time.Duration) int { return r.affected() * (int(w/retryAfter) + 2) },
		minGap: retryAfter,
	}, {
		name: "timeout", reasons: []string{backupv1alpha1.ReasonAPIError}, message: "per-call timeout", running: true, during: 1,
		begin: func(_ context.Context, r *faultRun) error { r.fs.setDelay(timeoutLatency); return nil },
		end:   func(_ context.Context, r *faultRun) error { r.fs.setDelay(0); return nil },
		bound: perBackup(transientBase + faultDCSTimeout),
	}, {
		name: "refused", reasons: []string{backupv1alpha1.ReasonAPIError}, message: "connection refused", running: true, during: 1,
		ownManager: true,
		begin:      func(_ context.Context, r *faultRun) error { return r.fs.setReachable(false) },
		end:        func(_ context.Context, r *faultRun) error { return r.fs.setReachable(true) },
		bound:      perBackup(transientBase),
	}, {
		name: "busy", reasons: []string{backupv1alpha1.ReasonInstanceBusy}, message: "DCS.4096", running: true, during: 1,
		begin: func(_ context.Context, r *faultRun) error {
			r.fs.FailNextRequests(sc.BusyAnswers, simulator.Fault{Operation: simulator.OpCreate, Status: http.StatusBadRequest,
				Code: "DCS.4096", Message: "the instance is backuping."})
			return nil
		},
		end:       func(context.Context, *faultRun) error { return nil },
		untilUsed: sc.BusyAnswers, usedCode: "DCS.4096", op: simulator.OpCreate, minGap: busyBase,
		bound: func(*faultRun, time.Duration) int { return sc.BusyAnswers + 1 },
	}, {
		name: "clock-skew", reasons: []string{backupv1alpha1.ReasonUnauthorized}, message: "APIGW.0303", running: true, during: 1,
		schedule: true, minWindow: unauthWindow, growingOp: simulator.OpShowInstance,
		begin: func(_ context.Context, r *faultRun) error { r.fs.clock.set(clockSkew); return nil },
		end:   func(_ context.Context, r *faultRun) error { r.fs.clock.set(0); return nil },
		bound: unauthorized,
	}, {
		name: "expired-token", reasons: []string{backupv1alpha1.ReasonUnauthorized}, message: "APIG.0301", during: 1,
		schedule: true, token: true, minWindow: unauthWindow, growingOp: simulator.OpShowInstance,
		begin: func(context.Context, *faultRun) error { return nil },
		end: func(ctx context.Context, r *faultRun) error {
			return writeSecret(ctx, r.c, r.ns, validToken)
		},
		bound: unauthorized,
	}, {
		name:    "mixed",
		reasons: []string{backupv1alpha1.ReasonAPIError, backupv1alpha1.ReasonThrottled, backupv1alpha1.ReasonInstanceBusy},
		running: true, during: 4,
		begin: func(_ context.Context, r *faultRun) error {
			r.fs.SetFaults(simulator.Faults{ErrorRate: 0.3, ThrottleRate: 0.2, RetryAfter: time.Second,
				Latency: timeoutLatency, LostResponseRate: 0.5})
			r.fs.FailNextRequests(2, simulator.Fault{Operation: simulator.OpCreate, Status: http.StatusBadRequest,
				Code: "DCS.4096", Message: "the instance is backuping."})
			return nil
		},
		end: setFaults(simulator.Faults{}),
		// No hot loop: on average at most one request per second per
		// instance that has a backup.
		bound: func(r *faultRun, w time.Duration) int { return r.affected() * int(w/time.Second) },
	}}
}

// testCloudFaults runs every fault class at once, each against a
// simulator of its own (so faults and request counts do not mix), with the
// real manager process.
func testCloudFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	env := scenarioEnv(t, "faults")
	cases := faultCases()
	var sharedNS, ownNS []string
	for _, fc := range cases {
		ns := "fault-" + fc.name
		if err := localenv.CreateNamespace(ctx, sharedClient(), ns); err != nil {
			t.Fatal(err)
		}
		if fc.ownManager {
			ownNS = append(ownNS, ns)
		} else {
			sharedNS = append(sharedNS, ns)
		}
	}
	mgr := startFaultManager(ctx, t, env, "manager.log", sharedNS)
	ownMgr := startFaultManager(ctx, t, env, "manager-refused.log", ownNS)
	var wg sync.WaitGroup
	for _, fc := range cases {
		m := mgr
		if fc.ownManager {
			m = ownMgr
		}
		wg.Go(func() {
			t.Run(fc.name, func(t *testing.T) { runFaultCase(ctx, t, fc, m) })
		})
	}
	wg.Wait()
}

func sharedClient() client.Client { return shared.c }

func startFaultManager(ctx context.Context, t *testing.T, env *localenv.Env, log string, namespaces []string) *localenv.Manager {
	t.Helper()
	m, err := env.StartManager(ctx, localenv.ManagerOptions{
		Binary: shared.bins.Manager, Kubeconfig: shared.cp.KubeconfigPath, Metrics: true, LogPath: env.Path(log),
		Args: []string{"--watch-namespaces=" + strings.Join(namespaces, ","), "--dcs-timeout=" + faultDCSTimeout.String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// writeSecret writes the credentials Secret of a fault simulator, with a
// security token if one is given.
func writeSecret(ctx context.Context, c client.Client, ns, token string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secretName}}
	_, err := controllerutil.CreateOrUpdate(ctx, c, s, func() error {
		s.Data = map[string][]byte{
			backupv1alpha1.SecretKeyAccessKey: []byte(simulator.DefaultAccessKey),
			backupv1alpha1.SecretKeySecretKey: []byte(simulator.DefaultSecretKey),
		}
		if token != "" {
			s.Data[backupv1alpha1.SecretKeySecurityToken] = []byte(token)
		}
		return nil
	})
	return err
}

func runFaultCase(ctx context.Context, t *testing.T, fc faultCase, mgr *localenv.Manager) {
	w := max(shared.scale.FaultWindow, fc.minWindow)
	instances := instanceIDs("inst", 1+fc.during)
	r := &faultRun{fc: fc, ns: "fault-" + fc.name, c: sharedClient(), mgr: mgr, window: w}
	r.fs = startFaultSim(t, faultSimOptions{instances: instances, backupDuration: w / 2, token: tokenIf(fc.token, validToken)})
	res := faultResult{Class: fc.name}
	defer func() {
		res.Passed = !t.Failed()
		results.addFault(res)
	}()
	if err := writeSecret(ctx, r.c, r.ns, tokenIf(fc.token, staleToken)); err != nil {
		t.Fatal(err)
	}
	if fc.running {
		if err := r.startRunningBackup(ctx, instances[0]); err != nil {
			t.Fatal(err)
		}
	}
	before, err := r.requestCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Now()
	if err := fc.begin(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := r.createDuring(ctx, instances[1:]); err != nil {
		t.Fatal(err)
	}
	seen, err := r.watchFault(ctx)
	if err != nil {
		t.Fatal(err)
	}
	to := time.Now()
	after, err := r.requestCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fc.end(ctx, r); err != nil {
		t.Fatal(err)
	}
	res.WindowSeconds = secs(to.Sub(from))
	res.Reasons, res.Message = seen.reasons(), seen.message
	res.Requests, res.RequestBound = after-before, fc.bound(r, to.Sub(from))
	res.RequestsByOp = map[string]int{}
	for _, rq := range r.fs.log.between(from, to, nil) {
		res.RequestsByOp[rq.op]++
	}
	r.checkFault(t, seen, &res, from, to)

	synced, recovered, err := r.waitRecovered(ctx, recoveryBound(w))
	res.SyncedSeconds, res.RecoverySeconds = secs(synced.Sub(to)), secs(recovered.Sub(to))
	if err != nil {
		t.Errorf("no recovery within %s after the fault ended (log %s): %v", recoveryBound(w), mgr.LogPath(), err)
	}
	r.checkRecords(t, &res)
	t.Logf("%s: Synced %v (%q); %d requests in %.0fs of fault (bound %d; at the simulator %v); "+
		"Synced again %.1fs and all succeeded %.1fs after it ended",
		fc.name, res.Reasons, res.Message, res.Requests, res.WindowSeconds, res.RequestBound, res.RequestsByOp,
		res.SyncedSeconds, res.RecoverySeconds)
}

func tokenIf(ok bool, token string) string {
	if ok {
		return token
	}
	return ""
}

// recoveryBound: the last backoff before the fault ended can be about
// twice the fault's length, then the backup itself runs half of it.
func recoveryBound(w time.Duration) time.Duration {
	return 2*w + w/2 + 30*time.Second
}

func (r *faultRun) spec(instance string) backupv1alpha1.DCSBackupTemplateSpec {
	return backupv1alpha1.DCSBackupTemplateSpec{
		InstanceID: instance,
		Connection: backupv1alpha1.Connection{ProjectID: r.fs.ProjectID(), Endpoint: r.fs.URL,
			CredentialsSecretRef: backupv1alpha1.SecretReference{Name: secretName}},
		Remark: "fault " + r.fc.name,
	}
}

func (r *faultRun) createBackup(ctx context.Context, name, instance string) error {
	b := &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: name},
		Spec:       backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: r.spec(instance)},
	}
	if err := r.c.Create(ctx, b); err != nil {
		return err
	}
	r.backups = append(r.backups, name)
	return nil
}

// startRunningBackup creates a backup and waits until DCS runs it.
func (r *faultRun) startRunningBackup(ctx context.Context, instance string) error {
	if err := r.createBackup(ctx, "running", instance); err != nil {
		return err
	}
	b := &backupv1alpha1.DCSBackup{}
	return pollUntil(ctx, time.Minute, func() (bool, error) {
		if err := r.c.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: "running"}, b); err != nil {
			return false, err
		}
		return b.Status.BackupID != "", nil
	})
}

// createDuring creates the backups (and the schedule) of the fault.
func (r *faultRun) createDuring(ctx context.Context, instances []string) error {
	for i, inst := range instances {
		if err := r.createBackup(ctx, fmt.Sprintf("during-%d", i), inst); err != nil {
			return err
		}
	}
	if !r.fc.schedule {
		return nil
	}
	s := &backupv1alpha1.DCSBackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: "schedule"},
		Spec: backupv1alpha1.DCSBackupScheduleSpec{
			Schedule: farSchedule,
			Template: backupv1alpha1.DCSBackupTemplate{Spec: r.spec(instances[0])},
		},
	}
	return r.c.Create(ctx, s)
}

// requestCount is the number of DCS requests so far: the simulator's, or
// (for an unreachable simulator) the manager's own count.
func (r *faultRun) requestCount(ctx context.Context) (int, error) {
	if r.fc.ownManager {
		return metricSum(ctx, r.mgr.MetricsURL, dcsRequestsMetric)
	}
	if r.fc.op != "" {
		return r.fs.Requests(r.fc.op), nil
	}
	return r.fs.Stats().Total, nil
}

// seenFault is what the conditions showed while the fault lasted.
type seenFault struct {
	synced   map[string]bool
	message  string
	ready    map[string]bool
	unstable []string
}

func (s *seenFault) reasons() []string {
	out := make([]string, 0, len(s.synced))
	for r := range s.synced {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// watchFault reads the conditions every watchEvery while the fault lasts.
func (r *faultRun) watchFault(ctx context.Context) (*seenFault, error) {
	seen := &seenFault{synced: map[string]bool{}, ready: map[string]bool{}}
	end := time.Now().Add(r.window)
	limit := time.Now().Add(4 * r.window)
	ticker := time.NewTicker(watchEvery)
	defer ticker.Stop()
	for {
		if err := r.observe(ctx, seen); err != nil {
			return seen, err
		}
		now := time.Now()
		if r.fc.untilUsed > 0 && r.fs.CodeCount(r.fc.usedCode) >= r.fc.untilUsed {
			return seen, nil
		}
		if r.fc.untilUsed == 0 && now.After(end) {
			return seen, nil
		}
		if now.After(limit) {
			return seen, fmt.Errorf("the %d queued %s answers were not used up in %s", r.fc.untilUsed, r.fc.usedCode, 4*r.window)
		}
		select {
		case <-ctx.Done():
			return seen, ctx.Err()
		case <-ticker.C:
		}
	}
}

func (r *faultRun) observe(ctx context.Context, seen *seenFault) error {
	list := &backupv1alpha1.DCSBackupList{}
	if err := r.c.List(ctx, list, client.InNamespace(r.ns)); err != nil {
		return err
	}
	for i := range list.Items {
		b := &list.Items[i]
		c := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSynced)
		if c != nil && c.Status == metav1.ConditionFalse {
			seen.synced[c.Reason] = true
			if c.Reason == r.fc.reasons[0] && seen.message == "" {
				seen.message = c.Message
			}
		}
		if s := meta.FindStatusCondition(b.Status.Conditions, backupv1alpha1.ConditionSucceeded); s != nil &&
			s.Status == metav1.ConditionFalse {
			seen.unstable = append(seen.unstable, fmt.Sprintf("%s: Succeeded=False %s: %s", b.Name, s.Reason, s.Message))
		}
	}
	if !r.fc.schedule {
		return nil
	}
	s := &backupv1alpha1.DCSBackupSchedule{}
	if err := r.c.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: "schedule"}, s); err != nil {
		return client.IgnoreNotFound(err)
	}
	if c := meta.FindStatusCondition(s.Status.Conditions, backupv1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionFalse {
		seen.ready[c.Reason] = true
	}
	return nil
}

// checkFault checks what showed while the fault lasted: the reasons, the
// message, the request count and the gaps between requests.
func (r *faultRun) checkFault(t *testing.T, seen *seenFault, res *faultResult, from, to time.Time) {
	t.Helper()
	fc := r.fc
	if !seen.synced[fc.reasons[0]] && len(fc.reasons) == 1 {
		t.Errorf("Synced never showed reason %s while the fault lasted; it showed %v", fc.reasons[0], seen.reasons())
	}
	if len(seen.synced) == 0 {
		t.Errorf("Synced never turned False while the fault lasted")
	}
	for reason := range seen.synced {
		if !slices.Contains(fc.reasons, reason) {
			t.Errorf("Synced showed reason %s (%q); the fault should show %v", reason, seen.message, fc.reasons)
		}
	}
	if fc.message != "" && !strings.Contains(seen.message, fc.message) {
		t.Errorf("the Synced message %q does not name the fault (%q)", seen.message, fc.message)
	}
	if fc.schedule && !seen.ready[fc.reasons[0]] {
		t.Errorf("the schedule's Ready never showed %s; it showed %v", fc.reasons[0], seen.ready)
	}
	if len(seen.unstable) > 0 {
		t.Errorf("a passing fault flipped Succeeded to False: %s", seen.unstable[0])
	}
	if res.Requests > res.RequestBound {
		t.Errorf("[backoff] %d requests in %s of fault, more than %d: the operator does not back off enough (log %s); "+
			"requests: %s", res.Requests, to.Sub(from).Round(time.Second), res.RequestBound, r.mgr.LogPath(),
			timeline(r.fs.log.between(from, to, nil), from))
	}
	r.checkGaps(t, res, from, to)
	if fc.growingOp != "" {
		r.checkGrowingGaps(t, from, to)
	}
}

// checkGrowingGaps: while the fault lasts, the gaps between requests of
// fc.growingOp must grow (exponential backoff): the last at least 1.5
// times the first (backoff doubles, with up to 20% jitter).
func (r *faultRun) checkGrowingGaps(t *testing.T, from, to time.Time) {
	t.Helper()
	reqs := r.fs.log.between(from, to, func(rq request) bool { return rq.op == string(r.fc.growingOp) })
	if len(reqs) < 3 {
		return
	}
	first, last := reqs[1].at.Sub(reqs[0].at), reqs[len(reqs)-1].at.Sub(reqs[len(reqs)-2].at)
	if last*2 < first*3 {
		t.Errorf("[backoff] %d %s requests in %s of fault at a steady pace (first gap %s, last gap %s): the schedule "+
			"does not back off; requests since the fault began: %s (log %s)", len(reqs), r.fc.growingOp,
			to.Sub(from).Round(time.Second), first.Round(100*time.Millisecond), last.Round(100*time.Millisecond),
			timeline(r.fs.log.between(from, to, nil), from), r.mgr.LogPath())
	}
}

// timeline renders requests as "+1.2s show-instance 401 APIG.0301".
func timeline(reqs []request, from time.Time) string {
	parts := make([]string, 0, len(reqs))
	for _, rq := range reqs {
		parts = append(parts, fmt.Sprintf("+%.1fs %s %s %d %s", rq.at.Sub(from).Seconds(), rq.instance, rq.op, rq.status, rq.code))
	}
	return strings.Join(parts, "; ")
}

// checkGaps checks the time between two requests for the same instance
// while the fault lasted (Retry-After, busy backoff).
func (r *faultRun) checkGaps(t *testing.T, res *faultResult, from, to time.Time) {
	t.Helper()
	const tolerance = 100 * time.Millisecond
	byInstance := map[string][]request{}
	for _, rq := range r.fs.log.between(from, to, func(rq request) bool { return r.fc.op == "" || rq.op == string(r.fc.op) }) {
		byInstance[rq.instance] = append(byInstance[rq.instance], rq)
	}
	gaps := -1.0
	for inst, reqs := range byInstance {
		g := minGap(reqs)
		if g < 0 {
			continue
		}
		if gaps < 0 || g.Seconds() < gaps {
			gaps = g.Seconds()
		}
		if r.fc.minGap > 0 && g < r.fc.minGap-tolerance {
			t.Errorf("[backoff] two requests for instance %s only %s apart while the fault lasted; want at least %s",
				inst, g.Round(time.Millisecond), r.fc.minGap)
		}
	}
	res.MinGapSeconds = math.Round(max(gaps, 0)*10) / 10
}

// waitRecovered waits until every backup succeeded with Synced True and
// the schedule is Ready, and returns when Synced was first True on every
// backup (and Ready on the schedule) and when everything had succeeded.
func (r *faultRun) waitRecovered(ctx context.Context, timeout time.Duration) (time.Time, time.Time, error) {
	var last []string
	var synced time.Time
	err := pollUntil(ctx, timeout, func() (bool, error) {
		last = last[:0]
		list := &backupv1alpha1.DCSBackupList{}
		if err := r.c.List(ctx, list, client.InNamespace(r.ns)); err != nil {
			return false, err
		}
		unsynced := 0
		for i := range list.Items {
			b := &list.Items[i]
			ok := meta.IsStatusConditionTrue(b.Status.Conditions, backupv1alpha1.ConditionSynced)
			if !ok {
				unsynced++
			}
			if b.Status.Phase != backupv1alpha1.PhaseSucceeded || !ok {
				last = append(last, describeBackup(b))
			}
		}
		if r.fc.schedule {
			s := &backupv1alpha1.DCSBackupSchedule{}
			if err := r.c.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: "schedule"}, s); err != nil {
				return false, err
			}
			if !meta.IsStatusConditionTrue(s.Status.Conditions, backupv1alpha1.ConditionReady) {
				unsynced++
				last = append(last, fmt.Sprintf("schedule not Ready: %+v", meta.FindStatusCondition(s.Status.Conditions,
					backupv1alpha1.ConditionReady)))
			}
		}
		if unsynced == 0 && synced.IsZero() {
			synced = time.Now()
		}
		return len(last) == 0, nil
	})
	if synced.IsZero() {
		synced = time.Now()
	}
	if err != nil {
		return synced, time.Now(), fmt.Errorf("%w:\n  %s", err, strings.Join(last, "\n  "))
	}
	return synced, time.Now(), nil
}

// checkRecords: exactly one cloud backup per resource, none without one.
func (r *faultRun) checkRecords(t *testing.T, res *faultResult) {
	t.Helper()
	list := &backupv1alpha1.DCSBackupList{}
	if err := r.c.List(context.Background(), list, client.InNamespace(r.ns)); err != nil {
		t.Fatal(err)
	}
	byUID := map[string]*backupv1alpha1.DCSBackup{}
	for i := range list.Items {
		byUID[string(list.Items[i].UID)] = &list.Items[i]
	}
	var v verdict
	v.checkRecords(byUID, r.fs.Backups())
	res.Backups, res.CloudBackups, res.Duplicates, res.Lost = len(byUID), v.CloudBackups, v.Duplicates, v.Lost
	for _, p := range v.problems {
		t.Errorf("%s (log %s)", p, r.mgr.LogPath())
	}
}

// metricSum adds up the samples of a counter on a metrics endpoint.
func metricSum(ctx context.Context, url, name string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
	}
	return int(sum), sc.Err()
}
