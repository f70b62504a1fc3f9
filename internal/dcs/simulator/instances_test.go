package simulator

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// fleet is an env with tagged instances for the instance list.
func fleet(t *testing.T) *env {
	t.Helper()
	return newEnv(t, dcs.V1, func(o *Options) {
		o.Instances = []Instance{
			{ID: "i-0", Name: "orders-prod", Tags: map[string]string{"env": "prod", "team": "shop"}},
			{ID: "i-1", Name: "orders-dev", Tags: map[string]string{"env": "dev", "team": "shop"}},
			{ID: "i-2", Name: "sessions-prod", CacheMode: "cluster", ShardCount: 6, Tags: map[string]string{"env": "prod"}},
			{ID: "i-3", Name: "cache-prod", CacheMode: "single", Tags: map[string]string{"env": "prod", "team": "web"}},
			{ID: "i-4", Name: "untagged", Status: "ERROR"},
		}
	})
}

func ids(insts []dcs.Instance) string {
	out := make([]string, 0, len(insts))
	for _, i := range insts {
		out = append(out, i.ID)
	}
	return strings.Join(out, ",")
}

// TestListInstancesFilters runs the client (a V1 client: the list is
// v2-only and it uses the v2 path) against the simulator.
func TestListInstancesFilters(t *testing.T) {
	e := fleet(t)
	tests := []struct {
		name string
		opts dcs.ListInstancesOptions
		want string
	}{
		{"all, in creation order", dcs.ListInstancesOptions{}, "i-0,i-1,i-2,i-3,i-4"},
		{"one tag", dcs.ListInstancesOptions{Tags: map[string]string{"env": "prod"}}, "i-0,i-2,i-3"},
		{"two tags are AND", dcs.ListInstancesOptions{Tags: map[string]string{"env": "prod", "team": "shop"}}, "i-0"},
		{"no match", dcs.ListInstancesOptions{Tags: map[string]string{"env": "staging"}}, ""},
		{"fuzzy name", dcs.ListInstancesOptions{Name: "orders"}, "i-0,i-1"},
		{"exact name", dcs.ListInstancesOptions{Name: "orders", NameExact: true}, ""},
		{"exact name that exists", dcs.ListInstancesOptions{Name: "orders-dev", NameExact: true}, "i-1"},
		{"status", dcs.ListInstancesOptions{Status: "ERROR"}, "i-4"},
		{"small pages", dcs.ListInstancesOptions{PageSize: 2}, "i-0,i-1,i-2,i-3,i-4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.client.ListInstances(e.ctx, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != tc.want {
				t.Fatalf("got %s, want %s", ids(got), tc.want)
			}
		})
	}
	e.sim.ResetStats()
	if _, err := e.client.ListInstances(e.ctx, dcs.ListInstancesOptions{PageSize: 2}); err != nil || e.sim.Requests(OpListInstances) != 3 {
		t.Fatalf("%d requests for 5 instances in pages of 2: %v", e.sim.Requests(OpListInstances), err)
	}
}

func TestListInstancesFields(t *testing.T) {
	e := fleet(t)
	got, err := e.client.ListInstances(e.ctx, dcs.ListInstancesOptions{})
	if err != nil || len(got) != 5 {
		t.Fatalf("%+v %v", got, err)
	}
	for i, inst := range got {
		if inst.CacheMode != "" || inst.SingleNode() != (i == 3) {
			t.Errorf("the list has no cache_mode, only the spec_code hint: %+v", inst)
		}
	}
	if !hasSpecCodes(got) {
		t.Errorf("spec codes: %+v", got)
	}
	if !hasListFields(got) {
		t.Errorf("fields: %+v", got)
	}
	a := e.raw("GET", "/v2/"+DefaultProjectID+"/instances?limit=2&offset=1&tags=env%3Dprod", "", nil)
	if m := a.json(t); a.status != 200 || m["instance_num"] != float64(3) || len(m["instances"].([]any)) != 2 {
		t.Fatalf("raw page: %d %s", a.status, a.body)
	}
	if strings.Contains(a.body, "cache_mode") || strings.Contains(a.body, "{}") {
		t.Fatalf("raw page: %s", a.body)
	}
	show, err := e.client.ShowInstance(e.ctx, "i-2")
	if err != nil || !reflect.DeepEqual([]any{show.CacheMode, show.ShardingCount, show.Tags}, []any{"cluster", 6, map[string]string{"env": "prod"}}) {
		t.Fatalf("show %+v %v", show, err)
	}
}

func hasSpecCodes(got []dcs.Instance) bool {
	return got[0].SpecCode == "redis.ha.xu1.tiny.r2.128" && got[3].SpecCode == "redis.single.xu1.tiny.128" &&
		strings.HasPrefix(got[2].SpecCode, "redis.cluster.") && got[2].Capacity == 24
}

func hasListFields(got []dcs.Instance) bool {
	return got[0].Name == "orders-prod" && got[0].Tags["team"] == "shop" && got[0].Port == 6379 &&
		got[0].Status == "RUNNING" && !got[0].CreatedAt.IsZero() && got[4].Tags == nil && strings.Count(got[2].IP, ",") == 5
}

func TestListInstancesBadRequests(t *testing.T) {
	e := fleet(t)
	base := "/v2/" + DefaultProjectID + "/instances"
	for _, q := range []string{"?offset=-1", "?offset=x", "?limit=0", "?limit=1001", "?tags=env", "?tags=%3Dprod", "?tags=a%3D1%2C"} {
		a := e.raw("GET", base+q, "", nil)
		if m := a.json(t); a.status != 400 || m["error_code"] != "DCS.4800" {
			t.Errorf("%s: %d %s", q, a.status, a.body)
		}
	}
	// The project-level calls exist in v2 only.
	if a := e.raw("GET", "/v1.0/"+DefaultProjectID+"/instances", "", nil); a.status != 404 || a.json(t)["error_code"] != "APIG.0101" {
		t.Errorf("v1.0 list: %d %s", a.status, a.body)
	}
	if a := e.raw("GET", base+"?limit=1000&offset=99", "", nil); a.status != 200 || !strings.Contains(a.body, `"instances":[]`) {
		t.Errorf("past the end: %d %s", a.status, a.body)
	}
}

func TestTagsAndRemovalChangeTheList(t *testing.T) {
	e := fleet(t)
	prod := dcs.ListInstancesOptions{Tags: map[string]string{"env": "prod"}}
	list := func() string {
		t.Helper()
		got, err := e.client.ListInstances(e.ctx, prod)
		if err != nil {
			t.Fatal(err)
		}
		return ids(got)
	}
	if err := e.sim.TagInstance("i-4", map[string]string{"env": "prod"}); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "i-0,i-2,i-3,i-4" {
		t.Fatalf("after tag: %s", got)
	}
	if err := e.sim.UntagInstance("i-0", "env", "nope"); err != nil {
		t.Fatal(err)
	}
	bid := e.create("i-2", "", "")
	if err := e.sim.RemoveInstance("i-2"); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "i-3,i-4" {
		t.Fatalf("after untag and remove: %s", got)
	}
	_, err := e.client.ShowInstance(e.ctx, "i-2")
	wantAPIError(t, err, dcs.ClassNotFound, "DCS.3022")
	if recs := e.sim.Backups(); len(recs) != 1 || recs[0].ID != bid || recs[0].Status != "deleted" {
		t.Fatalf("the removed instance's backup: %+v", recs)
	}
	for _, err := range []error{e.sim.TagInstance("nope", nil), e.sim.UntagInstance("nope"), e.sim.RemoveInstance("i-2")} {
		if err == nil {
			t.Error("unknown instance accepted")
		}
	}
	insts := e.sim.Instances()
	if len(insts) != 4 || insts[3].ID != "i-4" || insts[3].Tags["env"] != "prod" {
		t.Fatalf("Instances %+v", insts)
	}
}

func TestAdminTagsAndInstances(t *testing.T) {
	e := fleet(t)
	a := admin{t, e.srv.URL}
	a.post("instances", `{"instance_id":"i-9","cache_mode":"cluster","shard_count":4,"backup_size":4096,"tags":{"env":"prod"},"password":"pw-1234"}`)
	a.post("tags", `{"instance_id":"i-9","tags":{"team":"shop"}}`)
	a.post("untag", `{"instance_id":"i-0","keys":["team"]}`)
	a.post("instances/remove", `{"instance_id":"i-1"}`)
	var insts []Instance
	a.get("instances", &insts)
	byID := map[string]Instance{}
	for _, i := range insts {
		byID[i.ID] = i
	}
	i9 := byID["i-9"]
	if len(insts) != 5 || i9.ShardCount != 4 || i9.BackupSize != 4096 || !i9.HasPassword || i9.Password != "" ||
		fmt.Sprint(i9.Tags) != "map[env:prod team:shop]" || len(byID["i-0"].Tags) != 1 || byID["i-1"].ID != "" {
		t.Fatalf("instances %+v", insts)
	}
	a.post("instances", `{"instance_id":"i-9","password":""}`)
	var after []Instance
	a.get("instances", &after)
	for _, i := range after {
		if i.ID == "i-9" && i.HasPassword {
			t.Fatal("password not cleared")
		}
	}
	for _, tc := range []struct{ path, body string }{
		{"instances/remove", `{"instance_id":"nope"}`},
		{"tags", `{"instance_id":"nope","tags":{"a":"b"}}`},
		{"untag", `{"instance_id":"nope"}`},
		{"instances", `{"instance_id":"x","shard_count":65}`},
		{"instances", `{"instance_id":"x","backup_size":-1}`},
	} {
		if got := a.status("POST", tc.path, tc.body); got < 400 {
			t.Errorf("%s %s: %d", tc.path, tc.body, got)
		}
	}
}
