// Command pdeathsig stands in for a control-plane binary (kube-apiserver,
// etcd) in the directory hack/controlplane.sh prints for
// KUBEBUILDER_ASSETS. It asks the kernel to SIGKILL it when its parent
// dies, then executes the real binary in the same process, with the same
// arguments and environment.
//
// envtest starts kube-apiserver and etcd in their own process groups and
// without a parent-death signal, so a test binary that is SIGKILLed (a
// `go test` timeout, an OOM kill, a killed CI job) leaves them running
// for ever. The real binaries' directory is compiled in:
//
//	go build -ldflags "-X main.targetDir=/path/to/real/binaries" ./hack/pdeathsig
//
// and the wrapper, copied or linked under a binary's name, executes
// <targetDir>/<its own name>.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// targetDir is the directory of the real binaries, set at build time.
var targetDir string

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "pdeathsig: %v\n", err)
		os.Exit(127)
	}
}

func run() error {
	if targetDir == "" {
		return fmt.Errorf("built without -X main.targetDir")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	target := filepath.Join(targetDir, filepath.Base(self))
	if err := dieWithParent(); err != nil {
		return err
	}
	// Exec keeps the pid, so envtest signals and waits for the real
	// binary as it would without the wrapper.
	return syscall.Exec(target, append([]string{target}, os.Args[1:]...), os.Environ())
}
