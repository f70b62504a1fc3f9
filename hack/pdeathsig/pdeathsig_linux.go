package main

import (
	"errors"
	"os"
	"runtime"
	"syscall"
)

func init() {
	// The parent-death signal is an attribute of the calling thread, and
	// execve keeps the attributes of the thread that calls it: both calls
	// must come from one OS thread.
	runtime.LockOSThread()
}

// dieWithParent sets the parent-death signal to SIGKILL. The kernel keeps
// it across execve (the real binary is not set-uid). A parent that dies
// between the two Getppid calls is caught by the second (the process was
// re-parented to init or a subreaper) and no signal would ever come; one
// that died before this process got this far is not: that window is the
// start of a Go program, milliseconds.
func dieWithParent() error {
	parent := os.Getppid()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); errno != 0 {
		return errno
	}
	if os.Getppid() != parent {
		return errors.New("the parent exited before the parent-death signal was set")
	}
	return nil
}
