package localenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// lockedBuffer is a bytes.Buffer safe for the process's output goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A shell that starts a grandchild and writes its pid once its TERM trap
// is set: Kill and Stop must reach the whole process group.
const forkingShell = `trap 'echo got TERM; kill $!; exit 0' TERM; sleep 300 & echo "grandchild $!"; wait`

// grandchildPID waits for the run-th "grandchild PID" line of the log and
// returns its pid.
func grandchildPID(g Gomega, log func() string, run int) int {
	var pids []int
	g.Eventually(func() []int {
		pids = nil
		for _, line := range strings.Split(log(), "\n") {
			if rest, ok := strings.CutPrefix(line, "grandchild "); ok {
				pid, _ := strconv.Atoi(strings.TrimSpace(rest))
				pids = append(pids, pid)
			}
		}
		return pids
	}).WithTimeout(10 * time.Second).Should(HaveLen(run))
	return pids[run-1]
}

func readFile(path string) func() string {
	return func() string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
}

func TestProcessKillReachesTheGroupAndStartsAgain(t *testing.T) {
	g := NewWithT(t)
	logPath := filepath.Join(t.TempDir(), "sh.log")
	var out lockedBuffer
	p, err := StartProcess(ProcessSpec{Name: "sh", Path: "/bin/sh", Args: []string{"-c", forkingShell},
		LogPath: logPath, Output: &out})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = p.Kill() })

	first := p.PID()
	grandchild := grandchildPID(g, readFile(logPath), 1)
	g.Expect(out.String()).To(ContainSubstring("grandchild"), "Output gets the output too")

	g.Expect(p.Kill()).To(Succeed())
	g.Expect(p.Exited()).To(BeTrue())
	g.Expect(p.Wait()).To(MatchError(ContainSubstring("killed")))
	g.Eventually(func() bool { return processExists(grandchild) }).WithTimeout(10*time.Second).Should(BeFalse(),
		"SIGKILL went to the process group")

	g.Expect(p.Start()).To(Succeed())
	g.Expect(p.PID()).NotTo(Equal(first))
	g.Expect(p.Start()).To(MatchError(ContainSubstring("still running")))
	grandchildPID(g, readFile(logPath), 2) // the log is appended across runs
}

func TestProcessStopAndRestart(t *testing.T) {
	g := NewWithT(t)
	logPath := filepath.Join(t.TempDir(), "sh.log")
	p, err := StartProcess(ProcessSpec{Name: "sh", Path: "/bin/sh", Args: []string{"-c", forkingShell},
		LogPath: logPath, StopTimeout: 10 * time.Second})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = p.Kill() })
	grandchildPID(g, readFile(logPath), 1)

	first := p.PID()
	g.Expect(p.Restart()).To(Succeed())
	g.Expect(p.PID()).NotTo(Equal(first))
	g.Expect(readFile(logPath)()).To(ContainSubstring("got TERM"), "Restart stops with SIGTERM")
	grandchildPID(g, readFile(logPath), 2)

	g.Expect(p.Stop()).To(Succeed())
	g.Expect(p.Wait()).To(Succeed(), "the shell exits 0 on TERM")
	g.Expect(p.Stop()).To(Succeed(), "stopping an exited process is a no-op")
}

func TestProcessStopKillsAfterTheTimeout(t *testing.T) {
	g := NewWithT(t)
	var out lockedBuffer
	p, err := StartProcess(ProcessSpec{Name: "stubborn", Path: "/bin/sh", Output: &out,
		Args: []string{"-c", `trap '' TERM; echo ready; while :; do sleep 1; done`}, StopTimeout: 500 * time.Millisecond})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = p.Kill() })
	g.Eventually(out.String).Should(ContainSubstring("ready"))
	g.Expect(p.Stop()).To(MatchError(ContainSubstring("did not stop within 500ms")))
	g.Expect(p.Exited()).To(BeTrue())
}

func TestProcUsageAndChildPIDs(t *testing.T) {
	g := NewWithT(t)
	p, err := StartProcess(ProcessSpec{Name: "sleep", Path: "/bin/sleep", Args: []string{"300"}})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = p.Kill() })

	g.Expect(ChildPIDs()).To(ContainElement(p.PID()))
	u, err := ProcUsage(p.PID())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(u.RSSBytes).To(BeNumerically(">", 0))

	g.Expect(p.Kill()).To(Succeed())
	g.Expect(ChildPIDs()).NotTo(ContainElement(p.PID()))
}
