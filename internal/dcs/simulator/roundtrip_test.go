package simulator

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// Client <-> simulator round trips, every operation in both API versions.

func TestBackupLifecycle(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, v, nil)
			id := e.create(instA, "nightly k8s:uid-1", dcs.FormatAOF)
			wantFormat := dcs.FormatAOF
			if v == dcs.V1 {
				wantFormat = dcs.FormatRDB // v1.0 has no backup_format
			}
			if b := e.backup(instA, id); !isFresh(b, wantFormat) {
				t.Fatalf("fresh backup %+v", b)
			}

			e.step(30 * time.Second)
			b1 := e.backup(instA, id)
			e.step(30 * time.Second)
			b2 := e.backup(instA, id)
			if !isRising(b1, b2) {
				t.Fatalf("running: %+v then %+v", b1, b2)
			}

			e.step(40 * time.Second)
			if b := e.backup(instA, id); !isDone(b) {
				t.Fatalf("done: %+v", b)
			}
		})
	}
}

func isFresh(b dcs.Backup, format dcs.BackupFormat) bool {
	return b.Status == dcs.BackupWaiting && b.Progress == "0.00" && !b.Restorable && b.Size == 0 &&
		b.Remark == "nightly k8s:uid-1" && b.Type == "manual" && b.UpdatedAt.IsZero() &&
		b.CreatedAt.Equal(t0) && b.Name == "backup_20261122075141" && b.InstanceID == instA && b.Format == format
}

func isRising(b1, b2 dcs.Backup) bool {
	p1, err1 := strconv.ParseFloat(b1.Progress, 64)
	p2, err2 := strconv.ParseFloat(b2.Progress, 64)
	return err1 == nil && err2 == nil && b1.Status == dcs.BackupRunning && b2.Status == dcs.BackupRunning &&
		0 < p1 && p1 < p2 && p2 < 100 && !b1.ExecutionAt.IsZero()
}

func isDone(b dcs.Backup) bool {
	return b.Status == dcs.BackupSucceeded && b.Progress == "100.00" && b.Restorable && b.Size > 0 &&
		b.UpdatedAt.Equal(t0.Add(100*time.Second)) && b.ErrorCode == ""
}

func TestFailingBackups(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, v, nil)
			e.sim.FailNextBackups(instA, 1)
			failed := e.create(instA, "will fail", "")
			e.step(100 * time.Second)
			ok := e.create(instA, "will work", "")
			e.step(100 * time.Second)
			if b := e.backup(instA, failed); b.Status != dcs.BackupFailed || b.ErrorCode != "dcs.08.0002" || b.Restorable {
				t.Fatalf("failed backup %+v", b)
			}
			if b := e.backup(instA, ok); b.Status != dcs.BackupSucceeded {
				t.Fatalf("next backup %+v", b)
			}
			_, err := e.client.RestoreBackup(e.ctx, instA, failed, "")
			wantAPIError(t, err, dcs.ClassTerminal, "DCS.4087")

			e.sim.SetFaults(Faults{BackupFailRate: 1})
			always := e.create(instA, "", "")
			e.step(100 * time.Second)
			if b := e.backup(instA, always); b.Status != dcs.BackupFailed {
				t.Fatalf("fail rate 1: %+v", b)
			}
		})
	}
}

func TestOneOperationAtATime(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, v, nil)
			first := e.create(instA, "", "")
			_, err := e.client.CreateBackup(e.ctx, instA, dcs.CreateBackupRequest{})
			wantAPIError(t, err, dcs.ClassBusy, "DCS.4096")
			e.create(instB, "", "") // other instances are independent
			if n := e.sim.CodeCount("DCS.4096"); n != 1 {
				t.Fatalf("%d DCS.4096 answers", n)
			}

			e.step(100 * time.Second)
			if _, err := e.client.RestoreBackup(e.ctx, instA, first, "roll back"); err != nil {
				t.Fatal(err)
			}
			_, err = e.client.CreateBackup(e.ctx, instA, dcs.CreateBackupRequest{})
			wantAPIError(t, err, dcs.ClassBusy, "DCS.4097")
			_, err = e.client.RestoreBackup(e.ctx, instA, first, "")
			wantAPIError(t, err, dcs.ClassBusy, "DCS.4097")

			e.step(50 * time.Second)
			if err := e.sim.SetInstanceStatus(instA, "RESTARTING"); err != nil {
				t.Fatal(err)
			}
			_, err = e.client.CreateBackup(e.ctx, instA, dcs.CreateBackupRequest{})
			wantAPIError(t, err, dcs.ClassBusy, "DCS.4049")
			if inst, err := e.client.ShowInstance(e.ctx, instA); err != nil || inst.Status != "RESTARTING" {
				t.Fatalf("%+v %v", inst, err)
			}
			if err := e.sim.SetInstanceStatus(instA, "RUNNING"); err != nil {
				t.Fatal(err)
			}
			e.create(instA, "", "")
		})
	}
}

func TestSingleNodeAndUnknownInstances(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, v, nil)
			inst, err := e.client.ShowInstance(e.ctx, instSingle)
			if err != nil || inst.CacheMode != "single" || inst.Status != "RUNNING" || inst.ID != instSingle {
				t.Fatalf("%+v %v", inst, err)
			}
			_, err = e.client.CreateBackup(e.ctx, instSingle, dcs.CreateBackupRequest{})
			wantAPIError(t, err, dcs.ClassUnsupported, "DCS.4095")
			_, err = e.client.RestoreBackup(e.ctx, instSingle, "b", "")
			wantAPIError(t, err, dcs.ClassUnsupported, "DCS.4095")

			_, err = e.client.ShowInstance(e.ctx, instNone)
			wantAPIError(t, err, dcs.ClassNotFound, "DCS.3022")
			_, err = e.client.CreateBackup(e.ctx, instNone, dcs.CreateBackupRequest{})
			wantAPIError(t, err, dcs.ClassNotFound, "DCS.3022")
			_, err = e.client.ListBackups(e.ctx, instNone, dcs.ListOptions{})
			wantAPIError(t, err, dcs.ClassNotFound, "DCS.3022")
			_, err = e.client.ListRestores(e.ctx, instNone, dcs.ListOptions{})
			wantAPIError(t, err, dcs.ClassNotFound, "DCS.3022")
			_, err = e.client.RestoreBackup(e.ctx, instNone, "b", "")
			wantAPIError(t, err, dcs.ClassNotFound, "DCS.3022")
			err = e.client.DeleteBackup(e.ctx, instNone, "b")
			wantAPIError(t, err, dcs.ClassNotFound, "DCS.3022")
		})
	}
}

// makeBackups creates n finished backups on inst, one every 2 minutes.
func (e *env) makeBackups(inst string, n int) []string {
	ids := make([]string, 0, n)
	for i := range n {
		ids = append(ids, e.create(inst, fmt.Sprintf("backup %d", i), ""))
		e.step(2 * time.Minute)
	}
	return ids
}

func TestPagingAnd204(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, v, nil)
			if got := e.backups(instA, dcs.ListOptions{}); len(got) != 0 {
				t.Fatalf("%d records on an empty instance", len(got))
			}
			if got := e.restores(); len(got) != 0 {
				t.Fatalf("%d restores", len(got))
			}
			if n := e.sim.Stats().Outcomes[OpListBackups]["204"]; n != 1 {
				t.Fatalf("%d 204 answers", n)
			}

			ids := e.makeBackups(instA, 7)
			e.sim.ResetStats()
			got := e.backups(instA, dcs.ListOptions{PageSize: 2})
			if len(got) != 7 {
				t.Fatalf("%d records", len(got))
			}
			for i, b := range got { // newest first
				if b.ID != ids[6-i] {
					t.Fatalf("record %d is %s, want %s", i, b.ID, ids[6-i])
				}
			}
			if n := e.sim.Requests(OpListBackups); n != 4 {
				t.Fatalf("%d list requests for 7 records in pages of 2", n)
			}
			e.sim.ResetStats()
			if got := e.backups(instA, dcs.ListOptions{}); len(got) != 7 || e.sim.Requests(OpListBackups) != 1 {
				t.Fatalf("default page size: %d records in %d requests", len(got), e.sim.Requests(OpListBackups))
			}
		})
	}
}

func TestTimeWindows(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, v, nil)
			ids := make([]string, 0, 3)
			for range 3 {
				ids = append(ids, e.create(instA, "", ""))
				e.step(time.Hour)
			}
			got := e.backups(instA, dcs.ListOptions{Begin: t0.Add(30 * time.Minute), End: t0.Add(90 * time.Minute)})
			if len(got) != 1 || got[0].ID != ids[1] {
				t.Fatalf("window: %+v", got)
			}
			// Both ends are inclusive at second precision.
			got = e.backups(instA, dcs.ListOptions{Begin: t0, End: t0.Add(time.Hour)})
			if len(got) != 2 {
				t.Fatalf("inclusive window: %d records", len(got))
			}
			if got := e.backups(instA, dcs.ListOptions{Begin: t0.Add(3 * time.Hour)}); len(got) != 0 {
				t.Fatalf("future window: %d records", len(got))
			}
			if _, err := e.client.RestoreBackup(e.ctx, instA, ids[0], ""); err != nil {
				t.Fatal(err)
			}
			rs, err := e.client.ListRestores(e.ctx, instA, dcs.ListOptions{Begin: t0.Add(3 * time.Hour), End: t0.Add(4 * time.Hour)})
			if err != nil || len(rs) != 1 {
				t.Fatalf("restore window: %+v %v", rs, err)
			}
			rs, err = e.client.ListRestores(e.ctx, instA, dcs.ListOptions{End: t0.Add(2 * time.Hour)})
			if err != nil || len(rs) != 0 {
				t.Fatalf("restore window before: %+v %v", rs, err)
			}
		})
	}
}

func TestRestoreLifecycle(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, v, nil)
			bid := e.create(instA, "before upgrade", "")
			_, err := e.client.RestoreBackup(e.ctx, instA, bid, "")
			wantAPIError(t, err, dcs.ClassBusy, "DCS.4096") // the backup itself still runs
			e.step(100 * time.Second)

			rid, err := e.client.RestoreBackup(e.ctx, instA, bid, "after incident")
			if err != nil {
				t.Fatal(err)
			}
			e.wantInstanceStatus(instA, "RESTORING")
			if rs := e.restores(); len(rs) != 1 || !isFreshRestore(rs[0], rid, bid) {
				t.Fatalf("restore %+v", rs)
			}
			e.step(25 * time.Second)
			if rs := e.restores(); rs[0].Status != dcs.RestoreRunning || rs[0].Progress == "0.00" {
				t.Fatalf("running restore %+v", rs[0])
			}
			e.step(25 * time.Second)
			if rs := e.restores(); rs[0].Status != dcs.RestoreSucceeded || rs[0].Progress != "100.00" || rs[0].UpdatedAt.IsZero() {
				t.Fatalf("finished restore %+v", rs[0])
			}
			e.wantInstanceStatus(instA, "RUNNING")
		})
	}
}

func isFreshRestore(r dcs.Restore, rid, bid string) bool {
	return r.ID == rid && r.Status == dcs.RestoreWaiting && r.BackupID == bid &&
		r.BackupRemark == "before upgrade" && r.Remark == "after incident" &&
		r.Name == "restore_20261122075321" && strings.HasPrefix(r.BackupName, "backup_")
}

func (e *env) wantInstanceStatus(id, status string) {
	e.t.Helper()
	if inst, err := e.client.ShowInstance(e.ctx, id); err != nil || inst.Status != status {
		e.t.Fatalf("instance %+v (%v), want status %s", inst, err, status)
	}
}

func TestFailingRestores(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, v, nil)
			bid := e.create(instA, "", "")
			e.step(100 * time.Second)
			e.sim.FailNextRestores("", 1)
			if _, err := e.client.RestoreBackup(e.ctx, instA, bid, ""); err != nil {
				t.Fatal(err)
			}
			e.step(50 * time.Second)
			if rs := e.restores(); len(rs) != 1 || rs[0].Status != dcs.RestoreFailed || rs[0].ErrorCode != "dcs.08.0007" {
				t.Fatalf("failed restore %+v", rs)
			}
			e.wantInstanceStatus(instA, "RUNNING")
			_, err := e.client.RestoreBackup(e.ctx, instA, "no-such-backup", "")
			wantAPIError(t, err, dcs.ClassTerminal, "DCS.4031")
		})
	}
}

func TestConsoleRestoreShowsUp(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	bid := e.create(instA, "", "")
	e.step(100 * time.Second)
	rid, err := e.sim.StartRestore(instA, bid, "from the console")
	if err != nil {
		t.Fatal(err)
	}
	if rs := e.restores(); len(rs) != 1 || rs[0].ID != rid || rs[0].Remark != "from the console" {
		t.Fatalf("%+v", rs)
	}
	var ae *APIError
	if _, err := e.sim.StartRestore(instA, bid, ""); !errors.As(err, &ae) || ae.Code != "DCS.4097" {
		t.Fatalf("second restore: %v", err)
	}
}

func TestDelete(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, v, nil)
			running := e.create(instA, "", "")
			err := e.client.DeleteBackup(e.ctx, instA, running)
			wantAPIError(t, err, dcs.ClassBusy, "DCS.4096")
			e.step(100 * time.Second)

			if err := e.client.DeleteBackup(e.ctx, instA, running); err != nil {
				t.Fatal(err)
			}
			b := e.backup(instA, running)
			if b.Status != dcs.BackupDeleted || b.Restorable {
				t.Fatalf("deleted backup %+v", b)
			}
			wantStatus := "204"
			if v == dcs.V1 {
				wantStatus = "200"
			}
			if n := e.sim.Stats().Outcomes[OpDelete][wantStatus]; n != 1 {
				t.Fatalf("%d delete answers with %s: %v", n, wantStatus, e.sim.Stats().Outcomes[OpDelete])
			}
			err = e.client.DeleteBackup(e.ctx, instA, running)
			if !dcs.IsBackupGone(err) {
				t.Fatalf("second delete: %v", err)
			}
			if err := e.client.DeleteBackup(e.ctx, instA, "no-such-backup"); !dcs.IsBackupGone(err) {
				t.Fatalf("unknown backup: %v", err)
			}
			_, err = e.client.RestoreBackup(e.ctx, instA, running, "")
			wantAPIError(t, err, dcs.ClassTerminal, "DCS.4087")
		})
	}
}

func TestThrottling(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, v, func(o *Options) { o.RateLimit = 1; o.RateBurst = 2 })
			for range 2 {
				if _, err := e.client.ShowInstance(e.ctx, instA); err != nil {
					t.Fatal(err)
				}
			}
			_, err := e.client.ShowInstance(e.ctx, instA)
			de := wantAPIError(t, err, dcs.ClassThrottled, "APIG.0308")
			if de.RetryAfter != time.Second || de.StatusCode != 429 ||
				!strings.Contains(de.Message, "policy user over ratelimit,limit:60,time:1 minute") {
				t.Fatalf("throttle answer %+v", de)
			}
			e.step(time.Second)
			if _, err := e.client.ShowInstance(e.ctx, instA); err != nil {
				t.Fatalf("after refill: %v", err)
			}

			e.step(time.Minute)
			e.sim.FailNextRequests(1, Fault{Operation: OpCreate, Status: 429, RetryAfter: 7 * time.Second})
			_, err = e.client.CreateBackup(e.ctx, instA, dcs.CreateBackupRequest{})
			if de := wantAPIError(t, err, dcs.ClassThrottled, "APIG.0308"); de.RetryAfter != 7*time.Second {
				t.Fatalf("retry after %s", de.RetryAfter)
			}

			e.step(time.Minute)
			e.sim.SetFaults(Faults{ThrottleRate: 1, RetryAfter: 3 * time.Second})
			_, err = e.client.ListBackups(e.ctx, instA, dcs.ListOptions{})
			if de := wantAPIError(t, err, dcs.ClassThrottled, "APIG.0308"); de.RetryAfter != 3*time.Second {
				t.Fatalf("retry after %s", de.RetryAfter)
			}
			if len(e.sim.Backups()) != 0 {
				t.Fatal("a throttled create made a backup")
			}
		})
	}
}

func TestServerFaults(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	e.sim.SetFaults(Faults{ErrorRate: 1})
	codes := map[string]bool{}
	for range 30 {
		_, err := e.client.ListBackups(e.ctx, instA, dcs.ListOptions{})
		var de *dcs.Error
		if !errors.As(err, &de) || dcs.Classify(err) != dcs.ClassTransient {
			t.Fatalf("%v", err)
		}
		codes[strconv.Itoa(de.StatusCode)+" "+de.Code] = true
	}
	for _, want := range []string{"500 DCS.5000", "502 APIG.0201", "504 APIG.0201"} {
		if !codes[want] {
			t.Errorf("never saw %s (saw %v)", want, codes)
		}
	}

	e.sim.SetFaults(Faults{})
	e.sim.FailNextRequests(2, Fault{Operation: OpCreate, Status: 400, Code: "DCS.4026"})
	for range 2 {
		_, err := e.client.CreateBackup(e.ctx, instA, dcs.CreateBackupRequest{})
		wantAPIError(t, err, dcs.ClassBusy, "DCS.4026")
	}
	e.create(instA, "", "")

	e.sim.SetFaults(Faults{Latency: 300 * time.Millisecond})
	slow := e.newClient(func(c *dcs.Config) { c.Timeout = time.Millisecond })
	_, err := slow.ListBackups(e.ctx, instA, dcs.ListOptions{})
	if dcs.Classify(err) != dcs.ClassTransient || !errors.Is(err, dcs.ErrTimeout) {
		t.Fatalf("latency: %v", err)
	}
}

func TestLostResponseLeavesTheBackup(t *testing.T) {
	e := newEnv(t, dcs.V2, func(o *Options) { o.Faults.LostResponseRate = 1 })
	_, err := e.client.CreateBackup(e.ctx, instA, dcs.CreateBackupRequest{Remark: "k8s:uid-42"})
	wantAPIError(t, err, dcs.ClassTransient, "APIG.0201")
	recs := e.sim.Backups()
	if len(recs) != 1 || recs[0].Remark != "k8s:uid-42" {
		t.Fatalf("records %+v", recs)
	}
	// The operator adopts it by its remark.
	e.sim.SetFaults(Faults{})
	if b := e.backups(instA, dcs.ListOptions{}); len(b) != 1 || b[0].Remark != "k8s:uid-42" {
		t.Fatalf("listed %+v", b)
	}
}

func TestAuthFailures(t *testing.T) {
	e := newEnv(t, dcs.V2, nil)
	wrong := e.newClient(func(c *dcs.Config) { c.Credentials.SecretKey = "wrong-secret-key-000000000000" })
	_, err := wrong.ShowInstance(e.ctx, instA)
	de := wantAPIError(t, err, dcs.ClassUnauthorized, "APIG.0301")
	if de.StatusCode != 401 || de.Message != "Incorrect IAM authentication information: verify aksk signature fail" {
		t.Fatalf("%+v", de)
	}

	unknown := e.newClient(func(c *dcs.Config) { c.Credentials.AccessKey = "UNKNOWNACCESSKEY0001" })
	_, err = unknown.ShowInstance(e.ctx, instA)
	wantAPIError(t, err, dcs.ClassUnauthorized, "APIG.0301")

	skewed := e.newClient(func(c *dcs.Config) { c.Clock = fixedClock(t0.Add(-16 * time.Minute)) })
	_, err = skewed.ShowInstance(e.ctx, instA)
	de = wantAPIError(t, err, dcs.ClassUnauthorized, "APIGW.0303")
	if !strings.Contains(de.Message, "20261122T073541Z") || !strings.Contains(de.Message, "20261122T075141Z") {
		t.Fatalf("skew message %q", de.Message)
	}
	within := e.newClient(func(c *dcs.Config) { c.Clock = fixedClock(t0.Add(14 * time.Minute)) })
	if _, err := within.ShowInstance(e.ctx, instA); err != nil {
		t.Fatalf("14 minutes of skew: %v", err)
	}

	otherProject := e.newClient(func(c *dcs.Config) { c.ProjectID = "ffffffffffffffffffffffffffffffff" })
	_, err = otherProject.ShowInstance(e.ctx, instA)
	wantAPIError(t, err, dcs.ClassUnauthorized, "DCS.2003")

	if a := e.raw("GET", path(versionV2, instA), "", nil); a.status != 200 {
		t.Fatalf("raw request: %d %s", a.status, a.body)
	}
}

func TestTemporaryCredentials(t *testing.T) {
	e := newEnv(t, dcs.V2, func(o *Options) {
		o.Credentials = map[string]Credential{"ASIATEMPORARYKEY0001": {SecretKey: "temp-secret-key-0000000000", SecurityToken: "token+/="}}
	})
	if _, err := e.client.ShowInstance(e.ctx, instA); err != nil {
		t.Fatal(err)
	}
	noToken := e.newClient(func(c *dcs.Config) { c.Credentials.SecurityToken = "" })
	_, err := noToken.ShowInstance(e.ctx, instA)
	wantAPIError(t, err, dcs.ClassUnauthorized, "APIG.0301")
	badToken := e.newClient(func(c *dcs.Config) { c.Credentials.SecurityToken = "forged" })
	_, err = badToken.ShowInstance(e.ctx, instA)
	wantAPIError(t, err, dcs.ClassUnauthorized, "APIG.0301")
}

func TestAutomaticBackups(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, v, func(o *Options) { o.AutoBackupInterval = time.Hour })
			e.step(3*time.Hour + 2*time.Minute)
			got := e.backups(instA, dcs.ListOptions{})
			if len(got) != 3 {
				t.Fatalf("%d automatic backups after 3h", len(got))
			}
			for _, b := range got {
				if b.Type != "auto" || b.Status != dcs.BackupSucceeded || b.Period == "" {
					t.Fatalf("automatic backup %+v", b)
				}
			}
			if got := e.backups(instSingle, dcs.ListOptions{}); len(got) != 0 {
				t.Fatalf("single-node instance got %d automatic backups", len(got))
			}
			// A manual backup that runs over the next slot makes that
			// automatic backup fail with dcs.08.0008.
			e.step(time.Hour - 2*time.Minute - 50*time.Second)
			e.create(instA, "manual", "")
			e.step(time.Minute)
			got = e.backups(instA, dcs.ListOptions{})
			if len(got) != 5 || got[0].Type != "auto" || got[0].Status != dcs.BackupFailed || got[0].ErrorCode != "dcs.08.0008" {
				t.Fatalf("busy slot: %+v", got[0])
			}
			if id, err := e.sim.AddAutoBackup(instB); err != nil || e.backup(instB, id).Type != "auto" {
				t.Fatalf("AddAutoBackup: %v", err)
			}
		})
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time                  { return time.Time(c) }
func (c fixedClock) Since(t time.Time) time.Duration { return time.Time(c).Sub(t) }
