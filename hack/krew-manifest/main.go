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

// Command krew-manifest writes the krew manifest of a release of the
// kubectl plugin from its template (plugins/krew/dcs.yaml) and the archives
// hack/plugin-dist.sh built: the template's {{ .Version }} becomes the
// version, {{ archive "OS" "ARCH" }} an archive's file name and
// {{ sha256 "OS" "ARCH" }} that file's SHA-256. A platform whose archive is
// missing is an error, so a manifest never names an archive that was not
// built. The result is checked against krew's rules for a Plugin before it
// is written.
//
// Usage: go run ./hack/krew-manifest -version X.Y.Z -dist DIR [-out FILE] TEMPLATE
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("krew-manifest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "", "the release, X.Y.Z (the VERSION file)")
	dist := fs.String("dist", "dist", "the directory of the archives")
	out := fs.String("out", "", "write the manifest to this file (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || *version == "" {
		_, _ = fmt.Fprintln(stderr, "usage: krew-manifest -version X.Y.Z -dist DIR [-out FILE] TEMPLATE")
		return 2
	}
	if err := write(fs.Arg(0), *version, *dist, *out, stdout); err != nil {
		_, _ = fmt.Fprintln(stderr, "krew-manifest:", err)
		return 1
	}
	return 0
}

// write renders the template file for version and the archives of dist
// into the file out, or to stdout when out is "".
func write(templateFile, version, dist, out string, stdout io.Writer) error {
	tmpl, err := os.ReadFile(templateFile)
	if err != nil {
		return err
	}
	manifest, err := Render(tmpl, version, dist)
	if err != nil {
		return err
	}
	if out == "" {
		_, err = stdout.Write(manifest)
		return err
	}
	return os.WriteFile(out, manifest, 0o644)
}

// ArchiveName is the file name hack/plugin-dist.sh gives the archive of a
// platform.
func ArchiveName(version, goos, goarch string) string {
	return fmt.Sprintf("kubectl-dcs_v%s_%s_%s.tar.gz", version, goos, goarch)
}

// Render fills the template in with version and the archives of dist, and
// checks the result.
func Render(tmpl []byte, version, dist string) ([]byte, error) {
	if !semver.MatchString(version) {
		return nil, fmt.Errorf("version %q is not X.Y.Z", version)
	}
	archives := map[string]string{}
	funcs := template.FuncMap{
		"archive": func(goos, goarch string) string { return ArchiveName(version, goos, goarch) },
		"sha256": func(goos, goarch string) (string, error) {
			name := ArchiveName(version, goos, goarch)
			data, err := os.ReadFile(filepath.Join(dist, name))
			if err != nil {
				return "", fmt.Errorf("the archive of %s/%s: %w (build it with hack/plugin-dist.sh)", goos, goarch, err)
			}
			sum := sha256.Sum256(data)
			archives[goos+"/"+goarch] = name
			return hex.EncodeToString(sum[:]), nil
		},
	}
	t, err := template.New("manifest").Funcs(funcs).Option("missingkey=error").Parse(string(tmpl))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, struct{ Version string }{version}); err != nil {
		return nil, err
	}
	p, err := Parse(buf.Bytes())
	if err != nil {
		return nil, err
	}
	if err := p.Validate(version, archives); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Plugin is the part of krew's Plugin type (sigs.k8s.io/krew/pkg/index,
// apiVersion krew.googlecontainertools.github.com/v1alpha2) that a manifest
// may hold; Parse rejects fields krew does not know.
type Plugin struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PluginSpec `json:"spec"`
}

// PluginSpec is krew's PluginSpec.
type PluginSpec struct {
	Version          string     `json:"version,omitempty"`
	ShortDescription string     `json:"shortDescription,omitempty"`
	Description      string     `json:"description,omitempty"`
	Caveats          string     `json:"caveats,omitempty"`
	Homepage         string     `json:"homepage,omitempty"`
	Platforms        []Platform `json:"platforms,omitempty"`
}

// Platform is krew's Platform: where the archive of some machines is and
// what of it to install.
type Platform struct {
	URI      string                `json:"uri,omitempty"`
	Sha256   string                `json:"sha256,omitempty"`
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	Files    []FileOperation       `json:"files"`
	Bin      string                `json:"bin"`
}

// FileOperation is krew's FileOperation: a file or glob of the archive and
// where it goes.
type FileOperation struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Parse reads a manifest strictly: unknown fields are errors.
func Parse(data []byte) (*Plugin, error) {
	var p Plugin
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return nil, fmt.Errorf("the manifest is not a krew Plugin: %w", err)
	}
	return &p, nil
}

var (
	semver  = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	sha256s = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks what krew checks when it installs the plugin (its
// validation of a Plugin), and that each platform's uri names the archive
// built for it: archives maps OS/ARCH to the archive's file name.
func (p *Plugin) Validate(version string, archives map[string]string) error {
	var errs []error
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" {
		errs = append(errs, fmt.Errorf("apiVersion/kind %s/%s: want krew.googlecontainertools.github.com/v1alpha2/Plugin",
			p.APIVersion, p.Kind))
	}
	if p.Name != "dcs" {
		errs = append(errs, fmt.Errorf("metadata.name %q: the plugin is dcs (kubectl-dcs)", p.Name))
	}
	if p.Spec.Version != "v"+version {
		errs = append(errs, fmt.Errorf("spec.version %q: want v%s", p.Spec.Version, version))
	}
	if p.Spec.ShortDescription == "" || p.Spec.Homepage == "" {
		errs = append(errs, errors.New("spec.shortDescription and spec.homepage are required"))
	}
	if len(p.Spec.Platforms) == 0 {
		errs = append(errs, errors.New("spec.platforms is empty"))
	}
	seen := map[string]bool{}
	for i, pl := range p.Spec.Platforms {
		errs = append(errs, pl.validate(fmt.Sprintf("spec.platforms[%d]", i), seen, archives)...)
	}
	return errors.Join(errs...)
}

func (pl Platform) validate(field string, seen map[string]bool, archives map[string]string) []error {
	var errs []error
	if pl.Selector == nil || pl.Selector.MatchLabels["os"] == "" || pl.Selector.MatchLabels["arch"] == "" {
		return []error{fmt.Errorf("%s.selector: matchLabels os and arch are required", field)}
	}
	if _, err := metav1.LabelSelectorAsSelector(pl.Selector); err != nil {
		errs = append(errs, fmt.Errorf("%s.selector: %w", field, err))
	}
	platform := pl.Selector.MatchLabels["os"] + "/" + pl.Selector.MatchLabels["arch"]
	if seen[platform] {
		errs = append(errs, fmt.Errorf("%s: a second entry for %s", field, platform))
	}
	seen[platform] = true
	if !sha256s.MatchString(pl.Sha256) {
		errs = append(errs, fmt.Errorf("%s.sha256 %q is not a SHA-256 in hex", field, pl.Sha256))
	}
	if archive := archives[platform]; archive == "" || path.Base(pl.URI) != archive {
		errs = append(errs, fmt.Errorf("%s.uri %q does not name the archive of %s (%q)", field, pl.URI, platform, archive))
	}
	if !strings.HasPrefix(pl.URI, "https://") {
		errs = append(errs, fmt.Errorf("%s.uri %q is not https", field, pl.URI))
	}
	return append(errs, pl.validateFiles(field)...)
}

// validateFiles checks that the platform installs the binary and the
// licence, and runs the binary as the plugin.
func (pl Platform) validateFiles(field string) []error {
	var errs []error
	froms := make([]string, 0, len(pl.Files))
	for _, f := range pl.Files {
		if f.From == "" || f.To == "" {
			errs = append(errs, fmt.Errorf("%s.files: from and to are required", field))
		}
		froms = append(froms, f.From)
	}
	if pl.Bin != "kubectl-dcs" || !slices.Contains(froms, "kubectl-dcs") || !slices.Contains(froms, "LICENSE") {
		errs = append(errs, fmt.Errorf("%s: bin is kubectl-dcs, and files install kubectl-dcs and LICENSE", field))
	}
	return errs
}
