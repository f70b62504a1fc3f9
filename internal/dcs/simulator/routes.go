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
	// OpListInstances is the project's instance list (SPEC.md 16).
	OpListInstances Operation = "list-instances"
	// Backup import (migration) tasks, SPEC.md 14.
	OpImportCreate Operation = "create-import"
	OpImportShow   Operation = "show-import"
	OpImportList   Operation = "list-imports"
	OpImportDelete Operation = "delete-imports"
	OpImportStop   Operation = "stop-import"
	// OpDownload is a GET or HEAD of a download link (not an API request:
	// no signature, served under ObjectPrefix).
	OpDownload Operation = "download"
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
	taskID     string
}

// parseRoute matches /{v2|v1.0}/{project_id}/instances/{id}[/...], and
// under /v2 only the project-level instance list and migration tasks, and
// the method (SPEC.md 9, 14, 16). The project-level calls exist in v2
// only; under /v1.0 they are unknown [I]. Anything else is OpUnknown,
// answered like the gateway answers an unknown API or method: 404
// APIG.0101.
func parseRoute(method, escapedPath string) route {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	for i, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil || dec == "" {
			return route{op: OpUnknown}
		}
		segs[i] = dec
	}
	if len(segs) < 3 || (segs[0] != versionV2 && segs[0] != versionV1) {
		return route{op: OpUnknown}
	}
	rt := route{version: segs[0], project: segs[1]}
	switch {
	case segs[2] == "instances" && len(segs) >= 4:
		rt.instanceID = segs[3]
		rt.op = matchOperation(method, segs[4:])
		if len(segs) >= 6 {
			rt.backupID = segs[5]
		}
	case rt.version == versionV2:
		rt.op, rt.taskID = matchProjectOperation(method, segs[2:])
	default:
		rt.op = OpUnknown
	}
	rt.ok = rt.op != OpUnknown
	return rt
}

// projectOps are the v2 project-level paths: the instance list, and
// migration-task (singular: create, show, stop) and migration-tasks
// (plural: list, delete), as documented (SPEC.md 14, 16).
var projectOps = map[string]Operation{
	"GET instances":                 OpListInstances,
	"POST migration-task":           OpImportCreate,
	"GET migration-task/{id}":       OpImportShow,
	"POST migration-task/{id}/stop": OpImportStop,
	"GET migration-tasks":           OpImportList,
	"DELETE migration-tasks/delete": OpImportDelete,
}

// matchProjectOperation matches a project-level path and returns the
// operation and the task id in it, if any.
func matchProjectOperation(method string, rest []string) (Operation, string) {
	shape := append([]string(nil), rest...)
	var taskID string
	if len(shape) >= 2 && shape[0] == "migration-task" {
		taskID, shape[1] = shape[1], "{id}"
	}
	op, ok := projectOps[method+" "+strings.Join(shape, "/")]
	if !ok {
		return OpUnknown, ""
	}
	return op, taskID
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
	// base is scheme://host of the request (for download links).
	base string
	// after collects work to run outside the lock before the answer.
	after *[]func()
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
	case OpListInstances:
		return s.handleListInstances(rq)
	case OpImportCreate:
		return s.handleImportCreate(rq)
	case OpImportShow:
		return s.handleImportShow(rq)
	case OpImportList:
		return s.handleImportList(rq)
	case OpImportDelete:
		return s.handleImportDelete(rq)
	case OpImportStop:
		return s.handleImportStop(rq)
	default:
		return apigError(http.StatusNotFound, "APIG.0101", "The API does not exist or has not been published in the environment.")
	}
}
