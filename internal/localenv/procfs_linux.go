package localenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of CPU times in /proc/PID/stat: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// ChildPIDs returns the live direct children of the current process, from
// /proc. After Env.Stop it is empty unless something else started
// children.
func ChildPIDs() ([]int, error) {
	return childPIDsOf(os.Getpid())
}

// childPIDsOf returns the live direct children of process parent.
func childPIDsOf(parent int) ([]int, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, path := range stats {
		fields, err := readStat(path)
		if err != nil || len(fields) < 2 || fields[0] == "Z" {
			continue // gone meanwhile, or a zombie about to be reaped
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == parent {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			out = append(out, pid)
		}
	}
	return out, nil
}

// readStat returns the fields of /proc/PID/stat after the command name:
// state, ppid, pgrp, ... (the name may contain spaces and parentheses).
func readStat(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("%s: unexpected format", path)
	}
	return strings.Fields(s[i+1:]), nil
}

// Usage is a process's resource use as the kernel counts it.
type Usage struct {
	// RSSBytes is the resident set size (VmRSS).
	RSSBytes int64
	// CPU is the user plus system time consumed so far.
	CPU time.Duration
}

// ProcUsage reads the memory and CPU use of a live process from /proc.
func ProcUsage(pid int) (Usage, error) {
	var u Usage
	fields, err := readStat(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// After the name: state(0) ppid(1) ... utime(11) stime(12).
	if len(fields) < 13 {
		return u, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	u.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	u.RSSBytes, err = vmRSS(pid)
	return u, err
}

func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}
