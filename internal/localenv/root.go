package localenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulePath is the operator's Go module; RepoRoot looks for its go.mod.
const ModulePath = "github.com/dcs-operator/dcs-backup-operator"

// AssetsEnv is the variable envtest reads the control-plane binary
// directory from; `make test` sets it.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// RepoRoot returns the checkout's root: the nearest directory at or above
// the working directory whose go.mod declares ModulePath (hack/controlplane
// has a go.mod of its own, which is skipped).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isModuleRoot(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s at or above the working directory", ModulePath)
		}
		dir = parent
	}
}

func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.TrimSpace(mod) == ModulePath
		}
	}
	return false
}

// ControlPlaneAssets returns the directory with kube-apiserver, etcd and
// kubectl: $KUBEBUILDER_ASSETS when set, else what hack/controlplane.sh
// prints. The script builds the binaries from source on its first run
// (minutes) and announces that on progress; later runs answer at once.
func ControlPlaneAssets(ctx context.Context, root string, progress io.Writer) (string, error) {
	if dir := os.Getenv(AssetsEnv); dir != "" {
		return dir, nil
	}
	return runPathScript(ctx, root, "controlplane.sh", progress)
}

// EnsureVersityGW returns the versitygw binary: $VERSITYGW when set, else
// what hack/versitygw.sh prints. Like ControlPlaneAssets, the script
// builds it on its first run and answers from its cache afterwards.
func EnsureVersityGW(ctx context.Context, root string, progress io.Writer) (string, error) {
	if os.Getenv(VersityGWEnv) != "" {
		return VersityGWBinary()
	}
	return runPathScript(ctx, root, "versitygw.sh", progress)
}

// runPathScript runs hack/<script>, which prints a path on stdout and
// its progress on stderr, and returns the path.
func runPathScript(ctx context.Context, root, script string, progress io.Writer) (string, error) {
	if progress == nil {
		progress = io.Discard
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", script))
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/%s: %w", script, err)
	}
	path := strings.TrimSpace(out.String())
	if path == "" {
		return "", fmt.Errorf("hack/%s printed no path", script)
	}
	return path, nil
}
