//go:build !linux

package localenv

import (
	"errors"
	"time"
)

var errNoProcfs = errors.New("localenv: /proc is only read on Linux")

// ChildPIDs is only implemented on Linux.
func ChildPIDs() ([]int, error) { return nil, errNoProcfs }

// Usage is a process's resource use as the kernel counts it.
type Usage struct {
	RSSBytes int64
	CPU      time.Duration
}

// ProcUsage is only implemented on Linux.
func ProcUsage(int) (Usage, error) { return Usage{}, errNoProcfs }
