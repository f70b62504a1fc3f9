package simulator

import (
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Instance facts the list and ShowInstance report (SPEC.md 2.7, 16).

const redisPort = 6379

// ip is the instance's address, derived from its id so that it is stable:
// 192.168.x.y. A cluster has one address per shard (ips).
func (i *instance) ip() string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(i.id))
	v := h.Sum32()
	return fmt.Sprintf("192.168.%d.%d", v%254+1, (v>>8)%190+1)
}

// ips lists one address per shard, comma-separated, as ShowInstance and
// the list do for a cluster (SPEC.md 16); consecutive hosts of ip.
func (i *instance) ips() string {
	return strings.Join(shardIPs(i.ip(), i.shardCount()), ",")
}

func shardIPs(first string, n int) []string {
	prefix, last, _ := strings.Cut(first[len("192.168."):], ".")
	host, _ := strconv.Atoi(last)
	out := make([]string, n)
	for k := range n {
		out[k] = fmt.Sprintf("192.168.%s.%d", prefix, host+k)
	}
	return out
}

// specCode is the flavour of the instance's cache mode, the only hint of
// single-node the list gives (SPEC.md 16; the single and ha codes are the
// documented examples, the others follow their pattern [I]), with its
// capacity in GB ("0" plus capacity_minor for the 128 MB flavours).
func (i *instance) specCode() (code string, capacity int, minor string) {
	switch i.cacheMode {
	case cacheModeSingle:
		return "redis.single.xu1.tiny.128", 0, ".125"
	case cacheModeCluster:
		n := i.shardCount()
		return fmt.Sprintf("redis.cluster.xu1.large.r2.s%d.%d", n, 4*n), 4 * n, ""
	case "proxy":
		return "redis.proxy.xu1.large.4", 4, ""
	case "ha_rw_split":
		return "redis.ha.xu1.large.p2.4", 4, ""
	default:
		return "redis.ha.xu1.tiny.r2.128", 0, ".125"
	}
}

func (i *instance) replicas() int {
	if i.cacheMode == cacheModeSingle {
		return 1
	}
	return 2
}

// wireTags lists tags sorted by key, as {key, value} objects.
func wireTags(tags map[string]string) []wireTag {
	out := make([]wireTag, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, wireTag{Key: k, Value: tags[k]})
	}
	return out
}

// listInfo is the instance as the list shows it: no cache_mode, a
// spec_code instead (SPEC.md 16). Strings are strings, unlike the
// documented example ({} for publicip_id, 0 for enterprise_project_id, a
// bool for no_password_access): the SDK declares strings and the official
// SDK cannot decode the example, so a faithful server sends what the SDK
// reads (as SPEC.md 2.2 decides for {}).
func (s *Simulator) listInfo(inst *instance, status string) wireInstanceInfo {
	spec, capacity, minor := inst.specCode()
	noPassword := "true"
	if inst.password != "" {
		noPassword = "false"
	}
	return wireInstanceInfo{
		InstanceID: inst.id, Name: inst.name, Status: status, Engine: "Redis", EngineVersion: "5.0",
		SpecCode: spec, Capacity: capacity, CapacityMinor: minor, MaxMemory: max(capacity*1024, 128), UsedMemory: 1,
		IP: inst.ips(), Port: redisPort, DomainName: "redis-" + inst.id + ".dcs.example.invalid",
		MaintainBegin: "18:00:00", MaintainEnd: "19:00:00", Tags: wireTags(inst.tags), EnterpriseProjectID: "0",
		ChargingMode: 0, NoPasswordAccess: noPassword, VPCID: "vpc-simulator", SubnetID: "subnet-simulator",
		SecurityGroupID: "sg-simulator", CreatedAt: isoTime(inst.created), AZCodes: []string{"eu-de-01"},
		Features: wireFeatures{SupportACL: true}, UserName: "simulator",
	}
}

// handleShowInstance is ShowInstance (SPEC.md 2.7, 16): the list's fields
// plus cache_mode, sharding_count and replica_count.
func (s *Simulator) handleShowInstance(rq apiRequest) response {
	inst, r := s.instanceOf(rq)
	if r.isError() {
		return r
	}
	return response{status: http.StatusOK, body: wireInstance{
		wireInstanceInfo: s.listInfo(inst, s.effectiveStatus(inst, rq.now)),
		CacheMode:        inst.cacheMode,
		ShardingCount:    inst.shardCount(),
		ReplicaCount:     inst.replicas(),
	}}
}

// instanceFilter is the instance list's query (SPEC.md 16).
type instanceFilter struct {
	id, name, status, ip, capacity string
	nameEqual                      bool
	tags                           map[string]string
}

// parseInstanceFilter reads the filters. tags=k=v,k2=v2 must hold every
// pair (AND, SPEC.md 16 [I]); a pair without '=' is invalid. The example
// URL's id= is accepted as instance_id=.
func parseInstanceFilter(q url.Values) (instanceFilter, response) {
	f := instanceFilter{id: q.Get("instance_id"), name: q.Get("name"), status: q.Get("status"),
		ip: q.Get("ip"), capacity: q.Get("capacity"), nameEqual: q.Get("name_equal") == "true"}
	if f.id == "" {
		f.id = q.Get("id")
	}
	if raw := q.Get("tags"); raw != "" {
		f.tags = map[string]string{}
		for _, pair := range strings.Split(raw, ",") {
			k, v, ok := strings.Cut(pair, "=")
			if !ok || k == "" {
				return f, invalidParam("tags must be key=value pairs separated by commas")
			}
			f.tags[k] = v
		}
	}
	return f, response{}
}

func (f instanceFilter) match(inst *instance, info wireInstanceInfo) bool {
	switch {
	case f.id != "" && inst.id != f.id,
		f.status != "" && info.Status != f.status,
		f.nameEqual && f.name != "" && inst.name != f.name,
		!f.nameEqual && !strings.Contains(inst.name, f.name),
		f.ip != "" && !slices.Contains(strings.Split(info.IP, ","), f.ip),
		f.capacity != "" && f.capacity != strconv.Itoa(info.Capacity):
		return false
	}
	for k, v := range f.tags {
		if got, ok := inst.tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// handleListInstances is ListInstances (SPEC.md 16): filters, then offset
// (>= 0) and limit (1..1000, default 10; else 400 DCS.4800), in creation
// order. instance_num is the number of matches [I] (the docs do not say
// whether it is the total or the page size). No match is 200 with an
// empty list: the list documents no 204. include_failure and
// include_delete are accepted and change nothing (no instance fails or is
// deleted here: a removed instance is gone).
func (s *Simulator) handleListInstances(rq apiRequest) response {
	var r response
	p := listParams{}
	if p.offset, r = intParam(rq.query, "offset", 0, 0, 1<<30); r.isError() {
		return r
	}
	if p.limit, r = intParam(rq.query, "limit", defaultLimit, 1, maxLimit); r.isError() {
		return r
	}
	f, r := parseInstanceFilter(rq.query)
	if r.isError() {
		return r
	}
	insts := slices.SortedFunc(maps.Values(s.instances), func(a, b *instance) int { return a.seq - b.seq })
	var matches []wireInstanceInfo
	for _, inst := range insts {
		if info := s.listInfo(inst, s.effectiveStatus(inst, rq.now)); f.match(inst, info) {
			matches = append(matches, info)
		}
	}
	from, to := p.window(len(matches))
	return response{status: http.StatusOK, body: wireInstanceList{InstanceNum: len(matches),
		Instances: append([]wireInstanceInfo{}, matches[from:to]...)}}
}
