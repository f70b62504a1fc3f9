package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// build builds the wrapper with targetDir (none if empty) as dir/name.
func build(g Gomega, targetDir, dir, name string) string {
	out := filepath.Join(dir, name)
	b, err := exec.Command("go", "build", "-ldflags", "-X main.targetDir="+targetDir, "-o", out, ".").CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(b))
	return out
}

// alive reports whether pid runs (exists and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// TestWrappedProcessDiesWithItsParent starts two sleeps from a shell, one
// through the wrapper and one directly, SIGKILLs the shell, and checks
// that only the wrapped one died with it. It also checks that the wrapper
// became the real binary, in the same process.
func TestWrappedProcessDiesWithItsParent(t *testing.T) {
	g := NewWithT(t)
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("the parent-death signal is Linux's")
	}
	sleep, err := exec.LookPath("sleep")
	g.Expect(err).NotTo(HaveOccurred())
	sleep, err = filepath.EvalSymlinks(sleep)
	g.Expect(err).NotTo(HaveOccurred())
	real, wrapped := t.TempDir(), t.TempDir()
	g.Expect(os.Symlink(sleep, filepath.Join(real, "sleep"))).To(Succeed())
	wrapper := build(g, real, wrapped, "sleep")

	sh := exec.Command("/bin/sh", "-c", wrapper+" 300 & echo $!; "+sleep+" 300 & echo $!; wait")
	stdout, err := sh.StdoutPipe()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(sh.Start()).To(Succeed())
	lines := bufio.NewScanner(stdout)
	var pids []int
	for len(pids) < 2 && lines.Scan() {
		pid, err := strconv.Atoi(lines.Text())
		g.Expect(err).NotTo(HaveOccurred())
		pids = append(pids, pid)
	}
	g.Expect(pids).To(HaveLen(2))
	withWrapper, without := pids[0], pids[1]
	t.Cleanup(func() {
		_ = syscall.Kill(without, syscall.SIGKILL)
		_ = syscall.Kill(withWrapper, syscall.SIGKILL)
	})

	g.Eventually(func() (string, error) { return os.Readlink("/proc/" + strconv.Itoa(withWrapper) + "/exe") }).
		WithTimeout(10*time.Second).Should(Equal(sleep), "the wrapper executes the real binary in its own process")

	g.Expect(sh.Process.Kill()).To(Succeed())
	_ = sh.Wait()
	g.Eventually(func() bool { return alive(withWrapper) }).WithTimeout(10*time.Second).Should(BeFalse(),
		"the wrapped process dies with its parent")
	g.Expect(alive(without)).To(BeTrue(), "the process started without the wrapper lives on: without the wrapper, "+
		"the test would fail")
}

func TestWrapperWithoutTargetFails(t *testing.T) {
	g := NewWithT(t)
	wrapper := build(g, "", t.TempDir(), "kube-apiserver")
	out, err := exec.Command(wrapper, "--version").CombinedOutput()
	var exit *exec.ExitError
	g.Expect(errors.As(err, &exit)).To(BeTrue())
	g.Expect(exit.ExitCode()).To(Equal(127))
	g.Expect(string(out)).To(ContainSubstring("built without -X main.targetDir"))
}
