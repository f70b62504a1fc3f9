package localenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// holdEnv makes TestHelperHolder, run in a child test process, start what
// it names and then wait to be killed.
const holdEnv = "LOCALENV_TEST_HOLD"

// TestHelperHolder is not a test: it is the child process of the tests
// below, a test binary that holds real processes when it is SIGKILLed.
func TestHelperHolder(t *testing.T) {
	what := os.Getenv(holdEnv)
	if what == "" {
		t.Skip("helper process of TestProcessesDieWithTheirHolder")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	switch what {
	case "versitygw":
		if _, err := StartVersityGW(ctx, VersityGWOptions{}); err != nil {
			t.Fatal(err)
		}
	case "controlplane":
		if _, err := StartControlPlane(ControlPlaneOptions{AssetsDir: os.Getenv(AssetsEnv),
			KubeconfigPath: filepath.Join(t.TempDir(), "kubeconfig")}); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("%s=%q: unknown", holdEnv, what)
	}
	fmt.Println("holding")
	// The parent kills this process; the deadline only bounds a parent
	// that failed to.
	<-ctx.Done()
	t.Fatal("not killed within 2 minutes")
}

// TestProcessesDieWithTheirHolder SIGKILLs a test binary that started
// versitygw, or kube-apiserver and etcd through envtest, and checks that
// they die with it. A SIGKILLed test (go test -timeout, the OOM killer, a
// cancelled CI job) runs no cleanup; without a parent-death signal its
// servers would run for ever. envtest starts its own processes without
// one: the control plane of hack/controlplane.sh sets it itself.
func TestProcessesDieWithTheirHolder(t *testing.T) {
	cases := []struct {
		hold     string
		children []string
		require  func(*testing.T)
	}{
		{"versitygw", []string{"versitygw"}, requireVersityGW},
		{"controlplane", []string{"etcd", "kube-apiserver"}, requireAssets},
	}
	for _, tc := range cases {
		t.Run(tc.hold, func(t *testing.T) {
			tc.require(t)
			g := NewWithT(t)
			var out lockedBuffer
			holder, err := StartProcess(ProcessSpec{Name: "holder", Path: os.Args[0], Output: &out,
				Args: []string{"-test.run=^TestHelperHolder$", "-test.v"}, Env: []string{holdEnv + "=" + tc.hold}})
			g.Expect(err).NotTo(HaveOccurred())
			t.Cleanup(func() { _ = holder.Kill() })
			g.Eventually(out.String).WithTimeout(2*time.Minute).Should(ContainSubstring("holding"),
				func() string { return out.String() })

			children, err := childPIDsOf(holder.PID())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(commandNames(children)).To(ConsistOf(tc.children))
			t.Cleanup(func() { killLeftovers(children) })

			// The holder's process group only: envtest and StartProcess put
			// their children in groups of their own, which a kill of the
			// group does not reach.
			g.Expect(holder.Kill()).To(Succeed())
			for _, pid := range children {
				g.Eventually(func() bool { return alive(pid) }).WithTimeout(30*time.Second).Should(BeFalse(),
					"%s (pid %d) outlived the process that started it", commandName(pid), pid)
			}
		})
	}
}

// commandName is the command name of a process (/proc/PID/comm).
func commandName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func commandNames(pids []int) []string {
	names := make([]string, 0, len(pids))
	for _, pid := range pids {
		names = append(names, commandName(pid))
	}
	return names
}

// alive reports whether a process runs: it exists and is not a zombie
// (the processes of a killed parent are reaped by whoever inherits them,
// when it gets to it).
func alive(pid int) bool {
	fields, err := readStat("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && len(fields) > 0 && fields[0] != "Z"
}

// killLeftovers kills processes that a failed test left running.
func killLeftovers(pids []int) {
	for _, pid := range pids {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
