package dcs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// ListInstances returns every instance of the project matching opts
// (GET /v2/{project_id}/instances, SPEC.md 16). The call has no v1.0 form
// here: a V1 client uses the v2 path on the same host (SPEC.md 1, 3).
//
// instance_num is "Number of instances", total or page size is not
// stated, so the client ignores it and pages until a short or empty page
// (or a page with nothing new), at most maxPages times. The list carries
// no cache_mode; Instance.SingleNode reads the spec_code hint.
func (c *Client) ListInstances(ctx context.Context, opts ListInstancesOptions) ([]Instance, error) {
	tags, err := encodeTags(opts.Tags)
	if err != nil {
		return nil, argError(OpListInstances, err)
	}
	limit := opts.PageSize
	if limit <= 0 || limit > MaxPageSize {
		limit = DefaultPageSize
	}
	query := func(offset int) map[string][]string {
		q := map[string][]string{paramOffset: {strconv.Itoa(offset)}, paramLimit: {strconv.Itoa(limit)}}
		if tags != "" {
			q["tags"] = []string{tags}
		}
		if opts.Name != "" {
			q["name"] = []string{opts.Name}
			if opts.NameExact {
				q["name_equal"] = []string{jsonTrue}
			}
		}
		if opts.Status != "" {
			q["status"] = []string{opts.Status}
		}
		return q
	}
	var out []Instance
	base := request{op: OpListInstances, method: http.MethodGet, projectLevel: true, v2Only: true, segments: []string{"instances"}}
	err = c.pages(ctx, base, pager{limit: limit, shortPageEnds: true}, query,
		collect(&out, decodeInstanceList, func(i Instance) string { return i.ID }))
	return out, err
}

// encodeTags writes tags as k=v pairs joined by commas, sorted by key so
// that the query (and its signature) is the same every time (SPEC.md 16).
// The format cannot carry a comma, nor an '=' in a key.
func encodeTags(tags map[string]string) (string, error) {
	keys := make([]string, 0, len(tags))
	for k, v := range tags {
		if k == "" || strings.ContainsAny(k, ",=") || strings.Contains(v, ",") {
			return "", fmt.Errorf("%w: tag %q=%q cannot be sent as tags=k=v,...: empty key, or ',' or '=' in it", ErrInvalidArgument, k, v)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, k+"="+tags[k])
	}
	return strings.Join(pairs, ","), nil
}

// wireInstance is the part of InstanceListInfo and ShowInstanceResponse
// the client reads (SPEC.md 2.7, 16). The documented list example has
// {}, numbers and bools where strings are declared; every field is loose.
type wireInstance struct {
	InstanceID    looseString        `json:"instance_id"`
	Name          looseString        `json:"name"`
	Status        looseString        `json:"status"`
	CacheMode     looseString        `json:"cache_mode"`
	Engine        looseString        `json:"engine"`
	EngineVersion looseText          `json:"engine_version"`
	SpecCode      looseString        `json:"spec_code"`
	Capacity      looseInt64         `json:"capacity"`
	ShardingCount looseInt64         `json:"sharding_count"`
	IP            looseText          `json:"ip"`
	Port          looseInt64         `json:"port"`
	Description   looseString        `json:"description"`
	Tags          looseList[wireTag] `json:"tags"`
	CreatedAt     looseTime          `json:"created_at"`
}

// wireTag is {key, value}; the documented example has "key": 1.
type wireTag struct {
	Key   looseText `json:"key"`
	Value looseText `json:"value"`
}

type wireInstanceList struct {
	Instances looseList[wireInstance] `json:"instances"`
}

func (w wireInstance) instance() Instance {
	inst := Instance{
		ID:            strings.TrimSpace(string(w.InstanceID)),
		Name:          string(w.Name),
		Status:        strings.ToUpper(strings.TrimSpace(string(w.Status))),
		CacheMode:     enumValue(w.CacheMode),
		Engine:        string(w.Engine),
		EngineVersion: string(w.EngineVersion),
		SpecCode:      strings.TrimSpace(string(w.SpecCode)),
		Capacity:      int64(w.Capacity),
		ShardingCount: int(max(0, min(int64(w.ShardingCount), 1<<20))),
		IP:            string(w.IP),
		Port:          int(max(0, min(int64(w.Port), 65535))),
		Description:   string(w.Description),
		CreatedAt:     w.CreatedAt.time(),
	}
	for _, t := range w.Tags {
		if t.Key == "" {
			continue
		}
		if inst.Tags == nil {
			inst.Tags = map[string]string{}
		}
		inst.Tags[string(t.Key)] = string(t.Value)
	}
	return inst
}

// decodeInstance decodes ShowInstance (SPEC.md 2.7). Status keeps its
// upper case (RUNNING); cache_mode is lower-cased.
func decodeInstance(body []byte) (Instance, error) {
	var w wireInstance
	if err := json.Unmarshal(body, &w); err != nil {
		return Instance{}, &DecodeError{Err: err}
	}
	return w.instance(), nil
}

// decodeInstanceList decodes one page of the instance list. instance_num
// is not used (see ListInstances), so the total is always unknown.
func decodeInstanceList(body []byte) ([]Instance, int64, error) {
	if isEmptyBody(body) {
		return nil, totalUnknown, nil
	}
	var w wireInstanceList
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, totalUnknown, &DecodeError{Err: err}
	}
	out := make([]Instance, 0, len(w.Instances))
	for _, i := range w.Instances {
		out = append(out, i.instance())
	}
	return out, totalUnknown, nil
}
