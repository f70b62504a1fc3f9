package localenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcPeakRSS returns the peak resident set size of a live process
// (VmHWM in /proc/PID/status): the high-water mark since it started, so a
// benchmark sees the peak of a burst it did not sample at the right moment.
func ProcPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

// ResetPeakRSS sets the peak resident set size of a live process back to
// its current size (writing 5 to /proc/PID/clear_refs, Linux 4.0 and
// later), so that ProcPeakRSS afterwards is the peak of what came since:
// a benchmark measures one phase of a long-lived process.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
