package dcs

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Lenient JSON types. The docs' own v2 examples put {} where a string
// belongs (period, error_code, backup_remark), the official SDK then fails
// to decode (SPEC.md 2.2, 10), and v1 returns upper-case enums. These types
// accept any JSON value and keep what makes sense; encoding/json has
// already checked that the input is valid JSON when UnmarshalJSON runs, so
// none of them can fail.

// looseString is a string; any other JSON value (null, {}, a number) is "".
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	var v string
	if len(b) > 0 && b[0] == '"' && json.Unmarshal(b, &v) == nil {
		*s = looseString(v)
		return nil
	}
	*s = ""
	return nil
}

// looseCode is an error code: a string, or a number (the v1.0 error shape
// uses numeric codes such as 111404022, SPEC.md 4.1).
type looseCode string

func (s *looseCode) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		*s = looseCode(b)
		return nil
	}
	var ls looseString
	_ = ls.UnmarshalJSON(b)
	*s = looseCode(ls)
	return nil
}

// looseProgress is a string ("42.50"); a number is formatted with two
// decimals as DCS does.
type looseProgress string

func (s *looseProgress) UnmarshalJSON(b []byte) error {
	if f, ok := parseNumber(b); ok {
		*s = looseProgress(strconv.FormatFloat(f, 'f', 2, 64))
		return nil
	}
	var ls looseString
	_ = ls.UnmarshalJSON(b)
	*s = looseProgress(strings.TrimSpace(string(ls)))
	return nil
}

// looseInt64 is a number, or a numeric string; anything else is 0.
type looseInt64 int64

func (n *looseInt64) UnmarshalJSON(b []byte) error {
	f, ok := parseNumber(b)
	if !ok {
		var ls looseString
		_ = ls.UnmarshalJSON(b)
		f, ok = parseNumber([]byte(strings.TrimSpace(string(ls))))
	}
	*n = 0
	if ok {
		*n = looseInt64(clampInt64(f))
	}
	return nil
}

// looseBool is "TRUE"/"FALSE" in any case, or a JSON bool; else false.
type looseBool bool

func (v *looseBool) UnmarshalJSON(b []byte) error {
	switch s := strings.TrimSpace(string(b)); {
	case s == jsonTrue:
		*v = true
	case len(s) > 0 && s[0] == '"':
		var ls looseString
		_ = ls.UnmarshalJSON(b)
		*v = looseBool(strings.EqualFold(strings.TrimSpace(string(ls)), "true"))
	default:
		*v = false
	}
	return nil
}

// looseText is a string, or the literal text of a number or a bool: the
// documented instance list puts 0, true and a numeric tag key where the
// SDK declares strings (SPEC.md 16). null, objects and arrays are "".
type looseText string

func (s *looseText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		*s = ""
	case b[0] == '"':
		var ls looseString
		_ = ls.UnmarshalJSON(b)
		*s = looseText(ls)
	case string(b) == jsonTrue || string(b) == "false" || b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		*s = looseText(b)
	default:
		*s = ""
	}
	return nil
}

// looseList is a JSON array of objects; anything else is an empty list,
// and elements that are not objects are skipped, so one odd element does
// not cost the whole answer.
type looseList[T any] []T

func (l *looseList[T]) UnmarshalJSON(b []byte) error {
	*l = nil
	var raw []json.RawMessage
	if json.Unmarshal(b, &raw) != nil {
		return nil
	}
	for _, r := range raw {
		var v looseObject[T]
		if v.decode(r) {
			*l = append(*l, v.Value)
		}
	}
	return nil
}

// looseObject is a JSON object decoded into T (whose fields are loose
// types); anything else leaves the zero T.
type looseObject[T any] struct {
	Value T
	Set   bool
}

func (o *looseObject[T]) UnmarshalJSON(b []byte) error {
	o.decode(b)
	return nil
}

func (o *looseObject[T]) decode(b []byte) bool {
	var zero T
	o.Value, o.Set = zero, false
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	if json.Unmarshal(b, &o.Value) != nil {
		o.Value = zero
		return false
	}
	o.Set = true
	return true
}

// looseTime is an ISO-8601 string ("2019-05-10T08:31:16.166Z"), leniently
// parsed; empty, null or unparsable values are the zero time.
type looseTime time.Time

func (t looseTime) time() time.Time { return time.Time(t) }

func (t *looseTime) UnmarshalJSON(b []byte) error {
	var ls looseString
	_ = ls.UnmarshalJSON(b)
	*t = looseTime(parseTime(string(ls)))
	return nil
}

// timeLayouts are tried in order. RFC3339Nano covers the documented form
// and offsets; the rest are variants seen from other Huawei services.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"20060102150405",
	SdkDateLayout,
	// Migration tasks: "2019/10/22 14:44:30" in the show body and
	// "202404011057" as released_at in the list (SPEC.md 14). Neither has
	// a zone; they are read as UTC [I] and may be off by the region's
	// offset, like backup_name (SPEC.md 2.2).
	"2006/01/02 15:04:05",
	"200601021504",
}

func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func parseNumber(b []byte) (float64, bool) {
	s := strings.TrimSpace(string(b))
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func clampInt64(f float64) int64 {
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	default:
		return int64(f)
	}
}

// wireBackup is BackupRecordResponse (SPEC.md 2.2).
type wireBackup struct {
	BackupID         looseString   `json:"backup_id"`
	Period           looseString   `json:"period"`
	BackupName       looseString   `json:"backup_name"`
	InstanceID       looseString   `json:"instance_id"`
	Size             looseInt64    `json:"size"`
	BackupType       looseString   `json:"backup_type"`
	CreatedAt        looseTime     `json:"created_at"`
	UpdatedAt        looseTime     `json:"updated_at"`
	Progress         looseProgress `json:"progress"`
	ErrorCode        looseString   `json:"error_code"`
	Remark           looseString   `json:"remark"`
	Status           looseString   `json:"status"`
	IsSupportRestore looseBool     `json:"is_support_restore"`
	BackupFormat     looseString   `json:"backup_format"`
	ExecutionAt      looseTime     `json:"execution_at"`
}

type wireBackupList struct {
	TotalNum *looseInt64  `json:"total_num"`
	Records  []wireBackup `json:"backup_record_response"`
}

// wireRestore is InstanceRestoreInfo (SPEC.md 2.5).
type wireRestore struct {
	BackupID      looseString   `json:"backup_id"`
	RestoreID     looseString   `json:"restore_id"`
	BackupName    looseString   `json:"backup_name"`
	UpdatedAt     looseTime     `json:"updated_at"`
	RestoreRemark looseString   `json:"restore_remark"`
	CreatedAt     looseTime     `json:"created_at"`
	Progress      looseProgress `json:"progress"`
	ErrorCode     looseString   `json:"error_code"`
	RestoreName   looseString   `json:"restore_name"`
	BackupRemark  looseString   `json:"backup_remark"`
	Status        looseString   `json:"status"`
}

type wireRestoreList struct {
	TotalNum *looseInt64   `json:"total_num"`
	Records  []wireRestore `json:"restore_record_response"`
}

func enumValue(s looseString) string { return strings.ToLower(strings.TrimSpace(string(s))) }

func (w wireBackup) backup() Backup {
	return Backup{
		ID:          string(w.BackupID),
		Name:        string(w.BackupName),
		InstanceID:  string(w.InstanceID),
		Size:        int64(w.Size),
		Type:        enumValue(w.BackupType),
		Format:      BackupFormat(enumValue(w.BackupFormat)), // v1 sends "AOF" (SPEC.md 3)
		Status:      BackupStatus(enumValue(w.Status)),
		Progress:    string(w.Progress),
		ErrorCode:   string(w.ErrorCode),
		Remark:      string(w.Remark),
		Period:      string(w.Period),
		Restorable:  bool(w.IsSupportRestore),
		CreatedAt:   time.Time(w.CreatedAt),
		UpdatedAt:   time.Time(w.UpdatedAt),
		ExecutionAt: time.Time(w.ExecutionAt),
	}
}

func (w wireRestore) restore() Restore {
	return Restore{
		ID:           string(w.RestoreID),
		Name:         string(w.RestoreName),
		BackupID:     string(w.BackupID),
		BackupName:   string(w.BackupName),
		BackupRemark: string(w.BackupRemark),
		Remark:       string(w.RestoreRemark),
		Status:       RestoreStatus(enumValue(w.Status)),
		Progress:     string(w.Progress),
		ErrorCode:    string(w.ErrorCode),
		CreatedAt:    time.Time(w.CreatedAt),
		UpdatedAt:    time.Time(w.UpdatedAt),
	}
}

// totalUnknown is the total of a page without total_num.
const totalUnknown = -1

func totalOf(n *looseInt64) int64 {
	if n == nil {
		return totalUnknown
	}
	return int64(*n)
}

// isEmptyBody reports a body that means "no records": the 204 answer has
// none (SPEC.md 2.2), and some gateways send a bare null.
func isEmptyBody(body []byte) bool {
	b := bytes.TrimSpace(body)
	return len(b) == 0 || string(b) == "null"
}

// decodeBackupList decodes one page of ListBackupRecords. total is
// total_num, or totalUnknown when absent.
func decodeBackupList(body []byte) (records []Backup, total int64, err error) {
	if isEmptyBody(body) {
		return nil, 0, nil
	}
	var w wireBackupList
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, 0, &DecodeError{Err: err}
	}
	records = make([]Backup, 0, len(w.Records))
	for _, r := range w.Records {
		records = append(records, r.backup())
	}
	return records, totalOf(w.TotalNum), nil
}

// decodeRestoreList decodes one page of ListRestoreRecords.
func decodeRestoreList(body []byte) (records []Restore, total int64, err error) {
	if isEmptyBody(body) {
		return nil, 0, nil
	}
	var w wireRestoreList
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, 0, &DecodeError{Err: err}
	}
	records = make([]Restore, 0, len(w.Records))
	for _, r := range w.Records {
		records = append(records, r.restore())
	}
	return records, totalOf(w.TotalNum), nil
}

// decodeID reads {"<field>": "<id>"} from a create or restore answer.
func decodeID(body []byte, field string) (string, error) {
	var m map[string]looseString
	if err := json.Unmarshal(body, &m); err != nil {
		return "", &DecodeError{Err: err}
	}
	id := strings.TrimSpace(string(m[field]))
	if id == "" {
		return "", &DecodeError{Err: &missingFieldError{field: field}}
	}
	return id, nil
}

type missingFieldError struct{ field string }

func (e *missingFieldError) Error() string { return "no " + e.field + " in the answer" }

// errorBody is the part of an error answer the client reads.
type errorBody struct {
	Code      string
	Message   string
	RequestID string
}

type wireError struct {
	ErrorCode looseCode   `json:"error_code"`
	ErrorMsg  looseString `json:"error_msg"`
	Code      looseCode   `json:"code"`
	Message   looseString `json:"message"`
	RequestID looseString `json:"request_id"`
}

func (w wireError) pick() errorBody {
	e := errorBody{Code: string(w.ErrorCode), Message: string(w.ErrorMsg), RequestID: string(w.RequestID)}
	if e.Code == "" || e.Message == "" {
		if c := string(w.Code); c != "" && e.Code == "" {
			e.Code = c
		}
		if m := string(w.Message); m != "" && e.Message == "" {
			e.Message = m
		}
	}
	return e
}

// parseErrorBody reads an error answer the way the SDK does (SPEC.md 5):
// error_code + error_msg, else code + message, else one level into nested
// objects (the v1.0 shape {"error":{"code":"111404022","message":...}}).
// A body that is not JSON becomes the message, on one line and shortened.
func parseErrorBody(body []byte) errorBody {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return errorBody{Message: oneLine(string(body), maxMessageLen)}
	}
	var w wireError
	_ = json.Unmarshal(body, &w) // top is an object, so this cannot fail
	e := w.pick()
	if e.Code == "" && e.Message == "" {
		e = nestedError(top, e.RequestID)
	}
	e.Code = oneLine(e.Code, 64)
	e.Message = oneLine(e.Message, maxMessageLen)
	e.RequestID = oneLine(e.RequestID, 128)
	return e
}

func nestedError(top map[string]json.RawMessage, requestID string) errorBody {
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic when several nested objects exist
	for _, k := range keys {
		raw := bytes.TrimSpace(top[k])
		if len(raw) == 0 || raw[0] != '{' {
			continue
		}
		var w wireError
		if json.Unmarshal(raw, &w) != nil {
			continue
		}
		if e := w.pick(); e.Code != "" || e.Message != "" {
			if e.RequestID == "" {
				e.RequestID = requestID
			}
			return e
		}
	}
	return errorBody{RequestID: requestID}
}
