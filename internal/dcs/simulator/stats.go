package simulator

import "strconv"

// Stats are request counters since the start or the last ResetStats.
// Admin requests are not counted.
type Stats struct {
	// Total is the number of API requests.
	Total int `json:"total"`
	// Requests counts requests per operation.
	Requests map[Operation]int `json:"requests"`
	// Statuses counts answers per HTTP status.
	Statuses map[int]int `json:"statuses"`
	// Codes counts error answers per error code (DCS.4096, APIG.0308, ...).
	Codes map[string]int `json:"codes"`
	// Outcomes counts per operation the error code, or the status of a
	// successful answer ("200", "204").
	Outcomes map[Operation]map[string]int `json:"outcomes"`
	// Evictions counts backups the per-instance cap deleted (SPEC.md 17).
	Evictions int `json:"evictions"`
	// DownloadBytes counts the body bytes served by download links. Link
	// requests are counted under OpDownload in Requests, Statuses, Codes
	// and Outcomes, but not in Total: they are not API requests.
	DownloadBytes int64 `json:"download_bytes"`
}

type statsData struct{ Stats }

func newStatsData() statsData {
	return statsData{Stats{
		Requests: map[Operation]int{},
		Statuses: map[int]int{},
		Codes:    map[string]int{},
		Outcomes: map[Operation]map[string]int{},
	}}
}

func (d *statsData) record(op Operation, resp response) {
	d.Total++
	d.count(op, resp)
}

// recordDownload counts a link request and its body bytes.
func (d *statsData) recordDownload(status int, code string, n int64) {
	d.count(OpDownload, response{status: status, code: code})
	d.DownloadBytes += n
}

func (d *statsData) count(op Operation, resp response) {
	d.Requests[op]++
	d.Statuses[resp.status]++
	outcome := strconv.Itoa(resp.status)
	if resp.isError() {
		d.Codes[resp.code]++
		outcome = resp.code
	}
	if d.Outcomes[op] == nil {
		d.Outcomes[op] = map[string]int{}
	}
	d.Outcomes[op][outcome]++
}

func (d *statsData) snapshot() Stats {
	out := newStatsData().Stats
	out.Total, out.Evictions, out.DownloadBytes = d.Total, d.Evictions, d.DownloadBytes
	for k, v := range d.Requests {
		out.Requests[k] = v
	}
	for k, v := range d.Statuses {
		out.Statuses[k] = v
	}
	for k, v := range d.Codes {
		out.Codes[k] = v
	}
	for op, m := range d.Outcomes {
		out.Outcomes[op] = map[string]int{}
		for k, v := range m {
			out.Outcomes[op][k] = v
		}
	}
	return out
}

// Stats returns a copy of the counters.
func (s *Simulator) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.snapshot()
}

// Requests returns how many requests of op were answered.
func (s *Simulator) Requests(op Operation) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Requests[op]
}

// CodeCount returns how many answers carried the error code (e.g. how many
// DCS.4096 the simulator answered).
func (s *Simulator) CodeCount(code string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Codes[code]
}

// ResetStats zeroes the counters.
func (s *Simulator) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStatsData()
}
