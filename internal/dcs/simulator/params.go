package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// List paging limits (SPEC.md 2.2: limit 1-1000, default 10; offset >= 0).
const (
	defaultLimit = 10
	maxLimit     = 1000
)

// listParams are the parsed list query parameters.
type listParams struct {
	offset     int
	limit      int
	begin, end time.Time
}

// parseListParams reads v2 offset/limit/begin_time/end_time or v1.0
// start/limit/beginTime/endTime (SPEC.md 2.2, 3). Parameters of the other
// version are ignored, as a server ignores unknown parameters [I]; the v1.0
// limit range is taken to be the v2 one [I].
func parseListParams(q url.Values, v1 bool) (listParams, response) {
	p := listParams{limit: defaultLimit}
	var r response
	if v1 {
		var start int
		if start, r = intParam(q, "start", 1, 1, 1<<30); r.isError() {
			return p, r
		}
		p.offset = start - 1
	} else if p.offset, r = intParam(q, "offset", 0, 0, 1<<30); r.isError() {
		return p, r
	}
	if p.limit, r = intParam(q, "limit", defaultLimit, 1, maxLimit); r.isError() {
		return p, r
	}
	beginName, endName := "begin_time", "end_time"
	if v1 {
		beginName, endName = "beginTime", "endTime"
	}
	if p.begin, r = timeParam(q, beginName); r.isError() {
		return p, r
	}
	p.end, r = timeParam(q, endName)
	return p, r
}

func intParam(q url.Values, name string, def, lo, hi int) (int, response) {
	raw, ok := q[name]
	if !ok || raw[0] == "" {
		return def, response{}
	}
	n, err := strconv.Atoi(raw[0])
	if err != nil {
		return 0, invalidParam("%s must be an integer", name)
	}
	if n < lo || n > hi {
		if hi == 1<<30 {
			return 0, invalidParam("%s must be greater than or equal to %d", name, lo)
		}
		return 0, invalidParam("%s must be between %d and %d", name, lo, hi)
	}
	return n, response{}
}

func timeParam(q url.Values, name string) (time.Time, response) {
	raw := q.Get(name)
	if raw == "" {
		return time.Time{}, response{}
	}
	t, err := time.Parse(nameTimeLayout, raw)
	if err != nil {
		return time.Time{}, invalidParam("%s must be yyyyMMddHHmmss (UTC)", name)
	}
	return t, response{}
}

// inWindow compares at second precision, both ends inclusive [I].
func (p listParams) inWindow(created time.Time) bool {
	c := created.UTC().Truncate(time.Second)
	return (p.begin.IsZero() || !c.Before(p.begin)) && (p.end.IsZero() || !c.After(p.end))
}

// window returns the indexes [from, to) of the page within n matches.
func (p listParams) window(n int) (from, to int) {
	from = min(p.offset, n)
	return from, min(from+p.limit, n)
}

// decodeBody decodes a JSON request body into v. Malformed JSON answers
// DCS.4005; a well-formed body with a wrong type answers DCS.4800.
func decodeBody(body []byte, v any) response {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return invalidParam("%s has the wrong type", typeErr.Field)
		}
		return dcsError(http.StatusBadRequest, codeBadJSON, "The message body contains invalid characters or is not in JSON format.")
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		return dcsError(http.StatusBadRequest, codeBadJSON, "The message body contains invalid characters or is not in JSON format.")
	}
	return response{}
}

func emptyBody(body []byte) bool { return len(bytes.TrimSpace(body)) == 0 }
