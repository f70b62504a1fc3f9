package dcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docListInstances is written from SPEC.md 16: the documented fields of
// InstanceListInfo, with the example's quirks: {} for publicip_id, a
// number for enterprise_project_id, a bool for no_password_access, a
// numeric tag key, and no cache_mode.
const docListInstances = `{
  "instance_num" : 2,
  "instances" : [ {
    "publicip_id" : { },
    "vpc_name" : "dcs-beta",
    "charging_mode" : 0,
    "enterprise_project_id" : 0,
    "vpc_id" : "7e95f4d1-1f2a-4b1b-b8f1-d7c6bd3b0f3e",
    "user_name" : "dcs-test",
    "created_at" : "2022-06-28T08:04:24.613Z",
    "description" : "orders cache",
    "security_group_id" : "securityGroupId",
    "enable_publicip" : false,
    "publicip_address" : "",
    "max_memory" : 128,
    "used_memory" : 2,
    "instance_id" : "2e803c25-1a1d-4b82-b5c4-8c1e0c5e3a2f",
    "name" : "dcs-orders",
    "capacity" : 0,
    "capacity_minor" : ".125",
    "ip" : "192.168.0.150",
    "port" : 6379,
    "status" : "RUNNING",
    "engine" : "Redis",
    "engine_version" : "5.0",
    "spec_code" : "redis.single.xu1.tiny.128",
    "no_password_access" : true,
    "tags" : [ { "key" : 1, "value" : "one" }, { "key" : "env", "value" : "prod" } ],
    "maintain_begin" : "18:00:00",
    "maintain_end" : "19:00:00",
    "az_codes" : [ "eu-de-01" ],
    "features" : { "support_acl" : true, "support_ssl" : false }
  }, {
    "instance_id" : "9c6f1a3e-55b1-4a8e-8f00-3d2f5b1e7a11",
    "name" : "dcs-sessions",
    "capacity" : 8,
    "ip" : "192.168.0.151,192.168.0.152,192.168.0.153",
    "port" : "6379",
    "status" : "running",
    "spec_code" : "redis.cluster.xu1.large.r2.8",
    "tags" : null
  } ]
}`

// docShowInstance is written from SPEC.md 2.7 and 16: ShowInstance adds
// cache_mode and sharding_count to the list's fields (its documented
// example is not valid JSON at all; this one is).
const docShowInstance = `{"instance_id":"9c6f1a3e-55b1-4a8e-8f00-3d2f5b1e7a11","name":"dcs-sessions","status":"RESTORING",
 "cache_mode":"cluster","sharding_count":3,"replica_count":2,"spec_code":"redis.cluster.xu1.large.r2.8","capacity":8,
 "engine":"Redis","engine_version":5.0,"ip":"192.168.0.151,192.168.0.152,192.168.0.153","port":6379,
 "tags":[{"key":"team","value":"shop"}],"task":"BACKUPING","sub_status":{},"created_at":"2022-06-28T08:04:24.613Z"}`

func TestDecodeInstanceDocExamples(t *testing.T) {
	got, total, err := decodeInstanceList([]byte(docListInstances))
	if err != nil || total != totalUnknown || len(got) != 2 {
		t.Fatalf("%d instances, total %d, %v", len(got), total, err)
	}
	created := time.Date(2022, 6, 28, 8, 4, 24, 613e6, time.UTC)
	want := []Instance{{
		ID: "2e803c25-1a1d-4b82-b5c4-8c1e0c5e3a2f", Name: "dcs-orders", Status: "RUNNING", Engine: "Redis",
		EngineVersion: "5.0", SpecCode: "redis.single.xu1.tiny.128", IP: "192.168.0.150", Port: 6379,
		Description: "orders cache", Tags: map[string]string{"1": "one", "env": "prod"}, CreatedAt: created,
	}, {
		ID: "9c6f1a3e-55b1-4a8e-8f00-3d2f5b1e7a11", Name: "dcs-sessions", Status: "RUNNING", Capacity: 8,
		SpecCode: "redis.cluster.xu1.large.r2.8", IP: "192.168.0.151,192.168.0.152,192.168.0.153", Port: 6379,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if !got[0].SingleNode() || got[1].SingleNode() {
		t.Fatal("spec_code hint not read")
	}

	show, err := decodeInstance([]byte(docShowInstance))
	if err != nil {
		t.Fatal(err)
	}
	wantShow := Instance{ID: "9c6f1a3e-55b1-4a8e-8f00-3d2f5b1e7a11", Name: "dcs-sessions", Status: "RESTORING",
		CacheMode: "cluster", ShardingCount: 3, SpecCode: "redis.cluster.xu1.large.r2.8", Capacity: 8, Engine: "Redis",
		EngineVersion: "5.0", IP: "192.168.0.151,192.168.0.152,192.168.0.153", Port: 6379,
		Tags: map[string]string{"team": "shop"}, CreatedAt: created}
	if !reflect.DeepEqual(show, wantShow) {
		t.Fatalf("got  %+v\nwant %+v", show, wantShow)
	}
}

func TestSingleNode(t *testing.T) {
	tests := []struct {
		inst Instance
		want bool
	}{
		{Instance{CacheMode: "single"}, true},
		{Instance{CacheMode: "ha", SpecCode: "redis.single.xu1.tiny.128"}, false}, // cache_mode wins
		{Instance{SpecCode: "redis.single.xu1.tiny.128"}, true},
		{Instance{SpecCode: "REDIS.SINGLE.X"}, true},
		{Instance{SpecCode: "redis.ha.xu1.tiny.r2.128"}, false},
		{Instance{SpecCode: "redis.singlex.y"}, false},
		{Instance{}, false},
	}
	for _, tc := range tests {
		if got := tc.inst.SingleNode(); got != tc.want {
			t.Errorf("%+v: %t, want %t", tc.inst, got, tc.want)
		}
	}
}

// instanceServer serves total instances in pages, answering instance_num
// as the page size (one of the two readings of SPEC.md 16) unless
// totalNum is set, and capping the page at maxLimit.
func instanceServer(total, maxLimit int, totalNum bool) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		offset, _ := strconv.Atoi(q.Get("offset"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		limit = min(limit, maxLimit)
		var items []string
		for i := offset; i < total && i < offset+limit; i++ {
			items = append(items, fmt.Sprintf(`{"instance_id":"i%d"}`, i))
		}
		n := len(items)
		if totalNum {
			n = total
		}
		writeJSON(w, 200, fmt.Sprintf(`{"instance_num":%d,"instances":[%s]}`, n, strings.Join(items, ",")))
	}
}

func TestListInstancesPaging(t *testing.T) {
	tests := []struct {
		name       string
		total, cap int
		totalNum   bool
		pageSize   int
		wantN      int
		wantCalls  int
	}{
		{"none", 0, 1000, false, 0, 0, 1},
		{"one page", 5, 1000, false, 0, 5, 1},
		{"instance_num is the page size", 7, 1000, false, 3, 7, 3},
		{"instance_num is the total", 7, 1000, true, 3, 7, 3},
		{"exact pages end with an empty one", 6, 1000, false, 3, 6, 3},
		// A server that caps the page below the limit looks like a short
		// page: the client stops (SPEC.md 16 gives the cap, 1000).
		{"server caps the page", 7, 2, true, 5, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub(t, instanceServer(tc.total, tc.cap, tc.totalNum))
			got, err := s.client(t, nil).ListInstances(context.Background(), ListInstancesOptions{PageSize: tc.pageSize})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.wantN || len(s.requests()) != tc.wantCalls {
				t.Fatalf("%d instances in %d requests, want %d in %d", len(got), len(s.requests()), tc.wantN, tc.wantCalls)
			}
			for i, inst := range got {
				if inst.ID != fmt.Sprintf("i%d", i) {
					t.Fatalf("instance %d is %s", i, inst.ID)
				}
			}
		})
	}
}

func TestListInstancesStopsOnLyingServer(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, `{"instance_num":100000,"instances":[{"instance_id":"a"},{"instance_id":"b"}]}`)
	})
	got, err := s.client(t, nil).ListInstances(context.Background(), ListInstancesOptions{PageSize: 2})
	if err != nil || len(got) != 2 || len(s.requests()) != 2 {
		t.Fatalf("%d instances in %d requests: %v", len(got), len(s.requests()), err)
	}
}

func TestEncodeTags(t *testing.T) {
	tests := []struct {
		tags map[string]string
		want string
		ok   bool
	}{
		{nil, "", true},
		{map[string]string{"env": "prod"}, "env=prod", true},
		{map[string]string{"team": "shop", "env": "prod", "a": ""}, "a=,env=prod,team=shop", true},
		{map[string]string{"k": "a=b"}, "k=a=b", true},
		{map[string]string{"": "x"}, "", false},
		{map[string]string{"a,b": "x"}, "", false},
		{map[string]string{"a=b": "x"}, "", false},
		{map[string]string{"a": "x,y"}, "", false},
	}
	for _, tc := range tests {
		got, err := encodeTags(tc.tags)
		if got != tc.want || (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidArgument)) {
			t.Errorf("encodeTags(%v) = %q, %v", tc.tags, got, err)
		}
	}
}
