/*
Copyright 2026 The dcs-backup-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// shared is what every scenario of the package uses: one control plane
// (each scenario works in namespaces of its own, and its managers watch
// only those), the binaries, the scale and the random seed.
var shared struct {
	dir string
	env *localenv.Env
	cp  *localenv.ControlPlane
	// c is an uncached client with a higher rate limit than the control
	// plane's: the harness polls hundreds of objects.
	c     client.Client
	bins  localenv.Binaries
	scale scale
	seed  uint64
}

// setupTimeout bounds starting the control plane and building the
// binaries (a cold Go build cache on a busy machine is slow).
const setupTimeout = 10 * time.Minute

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv(localenv.AssetsEnv) == "" {
		fmt.Fprintln(os.Stderr, "chaos: "+localenv.AssetsEnv+" is not set. These tests run a real kube-apiserver and etcd: "+
			"run `make test` or `make chaos`, or "+localenv.AssetsEnv+"=$(hack/controlplane.sh) go test ./test/chaos/")
		return 1
	}
	var err error
	if shared.scale, err = scaleFromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	if shared.seed, err = seedFromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: "+envSeed+":", err)
		return 1
	}
	// envtest logs through controller-runtime; its errors come back as
	// errors.
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	if err := setUp(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: setting up:", err)
		tearDown(1)
		return 1
	}
	code := m.Run()
	results.print(os.Stdout)
	if err := results.write(reportPath()); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: writing the report:", err)
	} else {
		fmt.Printf("chaos: report written to %s\n", reportPath())
	}
	return tearDown(code)
}

func setUp() error {
	var err error
	if shared.dir, err = os.MkdirTemp("", "dcs-chaos-"); err != nil {
		return err
	}
	// A given Dir is never removed by the Env: tearDown decides.
	if shared.env, err = localenv.New(localenv.Options{Dir: shared.dir, Progress: prefixWriter{os.Stderr}}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	fmt.Fprintf(os.Stderr, "chaos: scale %s, seed %d, state in %s\n", shared.scale.Name, shared.seed, shared.dir)
	if shared.cp, err = shared.env.StartControlPlane(ctx, localenv.ControlPlaneOptions{}); err != nil {
		return err
	}
	cfg := rest.CopyConfig(shared.cp.Config)
	cfg.QPS, cfg.Burst = 200, 400
	if shared.c, err = client.New(cfg, client.Options{Scheme: shared.cp.Scheme}); err != nil {
		return err
	}
	shared.bins, err = shared.env.Build(ctx)
	return err
}

// tearDown stops the control plane and removes the state directory of a
// passing reduced run (unless CHAOS_KEEP is set): failing and full runs
// keep their logs and report.
func tearDown(code int) int {
	if shared.env != nil {
		if err := shared.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "chaos: stopping:", err)
			code = max(code, 1)
		}
	}
	if shared.dir == "" {
		return code
	}
	if code == 0 && shared.scale.Name != "full" && os.Getenv(envKeep) == "" {
		_ = os.RemoveAll(shared.dir)
		return code
	}
	fmt.Printf("chaos: logs and report kept in %s\n", shared.dir)
	return code
}

func reportPath() string {
	dir := os.Getenv(envReportDir)
	if dir == "" {
		dir = shared.dir
	}
	return filepath.Join(dir, "chaos-report.json")
}

// prefixWriter marks the environment's progress lines.
type prefixWriter struct{ w io.Writer }

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := fmt.Fprintf(p.w, "chaos: %s", b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// TestChaos runs the scenarios at the same time: they wait on timers far
// more than they compute, and each has its own namespaces, simulator and
// managers. They are subtests started from goroutines rather than
// parallel tests, so that go test's -parallel (2 on a 2-core machine)
// does not serialise them; -run TestChaos/kills picks one.
func TestChaos(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"kills", testManagerKills},
		{"leader", testLeaderFailover},
		{"faults", testCloudFaults},
		{"restart", testRestartServesHolders},
		{"exportkill", testExportKills},
	}
	var wg sync.WaitGroup
	for _, s := range scenarios {
		wg.Go(func() { t.Run(s.name, s.run) })
	}
	wg.Wait()
}

// scenarioEnv is an environment for one scenario on the shared control
// plane: its processes stop when the scenario ends, its logs stay in a
// folder of the state directory.
func scenarioEnv(t *testing.T, name string) *localenv.Env {
	t.Helper()
	env, err := localenv.New(localenv.Options{Dir: filepath.Join(shared.dir, name)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the %s environment: %v", name, err)
		}
	})
	return env
}

// newRand returns a random source for one scenario, derived from the seed.
func newRand(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(shared.seed, stream))
}

// lockedRand is a rand.Rand safe for the goroutines of one scenario.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

// between returns a random duration in [lo, hi].
func (l *lockedRand) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return lo + time.Duration(l.r.Int64N(int64(hi-lo)+1))
}

// perm returns a random permutation of [0, n).
func (l *lockedRand) perm(n int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Perm(n)
}

// hex returns a random hex string of 8 characters.
func (l *lockedRand) hex() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%08x", l.r.Uint32())
}
