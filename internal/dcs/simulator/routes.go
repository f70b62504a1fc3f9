package simulator

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Operation names an API operation in the statistics.
type Operation string

// Operations counted by the simulator.
const (
	OpCreate       Operation = "create"
	OpListBackups  Operation = "list-backups"
	OpListRestores Operation = "list-restores"
	OpDelete       Operation = "delete"
	OpRestore      Operation = "restore"
	OpShowInstance Operation = "show-instance"
	OpLinks        Operation = "links"
	// OpUnknown counts requests to routes that do not exist.
	OpUnknown Operation = "unknown"
)

// API path prefixes (SPEC.md 2, 3).
const (
	versionV2 = "v2"
	versionV1 = "v1.0"
)

// route is a parsed API path.
type route struct {
	ok         bool
	op         Operation
	version    string
	project    string
	instanceID string
	backupID   string
}

// parseRoute matches /{v2|v1.0}/{project_id}/instances/{id}[/...] and the
// method (SPEC.md 9, routes). Anything else is OpUnknown, answered like the
// gateway answers an unknown API or method: 404 APIG.0101.
func parseRoute(method, escapedPath string) route {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	for i, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil || dec == "" {
			return route{op: OpUnknown}
		}
		segs[i] = dec
	}
	if len(segs) < 4 || (segs[0] != versionV2 && segs[0] != versionV1) || segs[2] != "instances" {
		return route{op: OpUnknown}
	}
	rt := route{version: segs[0], project: segs[1], instanceID: segs[3]}
	rt.op = matchOperation(method, segs[4:])
	if len(segs) >= 6 {
		rt.backupID = segs[5]
	}
	rt.ok = rt.op != OpUnknown
	return rt
}

func matchOperation(method string, rest []string) Operation {
	key := method + " " + strings.Join(shape(rest), "/")
	switch key {
	case "GET ":
		return OpShowInstance
	case "POST backups":
		return OpCreate
	case "GET backups":
		return OpListBackups
	case "DELETE backups/{id}":
		return OpDelete
	case "POST backups/{id}/links":
		return OpLinks
	case "POST restores":
		return OpRestore
	case "GET restores":
		return OpListRestores
	default:
		return OpUnknown
	}
}

// shape replaces the backup id position with a placeholder.
func shape(rest []string) []string {
	out := append([]string(nil), rest...)
	if len(out) >= 2 && out[0] == "backups" {
		out[1] = "{id}"
	}
	return out
}

// apiRequest is an authenticated request on its way to a handler.
type apiRequest struct {
	route route
	query url.Values
	body  []byte
	now   time.Time
}

func (rq apiRequest) v1() bool { return rq.route.version == versionV1 }

// dispatch calls the operation's handler. Callers hold s.mu.
func (s *Simulator) dispatch(rq apiRequest) response {
	switch rq.route.op {
	case OpCreate:
		return s.handleCreate(rq)
	case OpListBackups:
		return s.handleListBackups(rq)
	case OpDelete:
		return s.handleDelete(rq)
	case OpLinks:
		return s.handleLinks(rq)
	case OpRestore:
		return s.handleRestore(rq)
	case OpListRestores:
		return s.handleListRestores(rq)
	case OpShowInstance:
		return s.handleShowInstance(rq)
	default:
		return apigError(http.StatusNotFound, "APIG.0101", "The API does not exist or has not been published in the environment.")
	}
}
