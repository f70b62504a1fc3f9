package localenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
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
	if progress == nil {
		progress = io.Discard
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "controlplane.sh"))
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/controlplane.sh: %w", err)
	}
	dir := strings.TrimSpace(out.String())
	if dir == "" {
		return "", errors.New("hack/controlplane.sh printed no directory")
	}
	return dir, nil
}
