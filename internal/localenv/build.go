package localenv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries are the operator's programs built from the checkout.
type Binaries struct {
	// Manager is the operator (the module's main package).
	Manager string
	// Simulator is hack/dcs-simulator.
	Simulator string
}

// Build builds the manager and the DCS simulator from the checkout at root
// into dir. The Go build cache makes a second build cheap.
func Build(ctx context.Context, root, dir string) (Binaries, error) {
	bins := Binaries{
		Manager:   filepath.Join(dir, "manager"),
		Simulator: filepath.Join(dir, "dcs-simulator"),
	}
	if err := BuildPackage(ctx, root, ".", bins.Manager); err != nil {
		return bins, err
	}
	return bins, BuildPackage(ctx, root, "./hack/dcs-simulator", bins.Simulator)
}

// BuildPackage runs `go build -o out pkg` in root and returns the compiler's
// output in the error if it fails.
func BuildPackage(ctx context.Context, root, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, strings.TrimSpace(output.String()))
	}
	return nil
}
