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

package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// The real archives are built by hack/plugin-dist.sh; the end-to-end test
// of cmd/kubectl-dcs builds the one of its own platform and runs it. These
// tests render the repository's template with stand-ins for the archives.

const (
	templatePath = "../../plugins/krew/dcs.yaml"
	version      = "1.2.3"
)

// makefilePlatforms are the PLUGIN_PLATFORMS that make plugin-dist builds.
func makefilePlatforms(g Gomega) []string {
	f, err := os.Open("../../Makefile")
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PLUGIN_PLATFORMS ?= "); ok {
			return strings.Fields(v)
		}
	}
	g.Expect(sc.Err()).NotTo(HaveOccurred())
	g.Expect("PLUGIN_PLATFORMS").To(BeEmpty(), "the Makefile sets no PLUGIN_PLATFORMS")
	return nil
}

// fakeArchives writes an archive stand-in per platform and returns their
// SHA-256s by platform.
func fakeArchives(g Gomega, dir string, platforms []string) map[string]string {
	sums := map[string]string{}
	for _, p := range platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		data := []byte("archive of " + p)
		g.Expect(os.WriteFile(filepath.Join(dir, ArchiveName(version, goos, goarch)), data, 0o644)).To(Succeed())
		sum := sha256.Sum256(data)
		sums[p] = hex.EncodeToString(sum[:])
	}
	return sums
}

func TestRenderTheRepositoryTemplate(t *testing.T) {
	g := NewWithT(t)
	tmpl, err := os.ReadFile(templatePath)
	g.Expect(err).NotTo(HaveOccurred())
	platforms := makefilePlatforms(g)
	g.Expect(platforms).To(ConsistOf("linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"))
	dist := t.TempDir()
	sums := fakeArchives(g, dist, platforms)

	out, err := Render(tmpl, version, dist)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(out)).NotTo(ContainSubstring("{{"))
	p, err := Parse(out)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(p.Spec.Version).To(Equal("v1.2.3"))
	g.Expect(len(p.Spec.ShortDescription)).To(BeNumerically("<=", 50), "krew-index keeps short descriptions short")
	g.Expect(p.Spec.Description).To(ContainSubstring("kubectl dcs status"))
	rendered := map[string]Platform{}
	for _, pl := range p.Spec.Platforms {
		rendered[pl.Selector.MatchLabels["os"]+"/"+pl.Selector.MatchLabels["arch"]] = pl
	}
	g.Expect(rendered).To(HaveLen(len(platforms)), "one entry per platform make plugin-dist builds, no more")
	for _, platform := range platforms {
		goos, goarch, _ := strings.Cut(platform, "/")
		g.Expect(rendered).To(HaveKeyWithValue(platform, And(
			HaveField("URI", "https://github.com/dcs-operator/dcs-backup-operator/releases/download/v1.2.3/kubectl-dcs_v1.2.3_"+
				goos+"_"+goarch+".tar.gz"),
			HaveField("Sha256", sums[platform]),
			HaveField("Bin", "kubectl-dcs"),
			HaveField("Files", ConsistOf(FileOperation{From: "kubectl-dcs", To: "."}, FileOperation{From: "LICENSE", To: "."})),
		)))
	}
}

func TestRenderRefusesAMissingArchive(t *testing.T) {
	g := NewWithT(t)
	tmpl, err := os.ReadFile(templatePath)
	g.Expect(err).NotTo(HaveOccurred())
	dist := t.TempDir()
	fakeArchives(g, dist, []string{"linux/amd64", "linux/arm64", "darwin/amd64"})
	_, err = Render(tmpl, version, dist)
	g.Expect(err).To(MatchError(ContainSubstring("the archive of darwin/arm64")))

	_, err = Render(tmpl, "v1.2.3", dist)
	g.Expect(err).To(MatchError(`version "v1.2.3" is not X.Y.Z`), "VERSION has no v; the manifest adds it")
}

const good = `apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: dcs
spec:
  version: v1.2.3
  homepage: https://example.com
  shortDescription: short
  platforms:
    - selector:
        matchLabels: {os: linux, arch: amd64}
      uri: https://example.com/kubectl-dcs_v1.2.3_linux_amd64.tar.gz
      sha256: ` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `
      bin: kubectl-dcs
      files:
        - {from: kubectl-dcs, to: .}
        - {from: LICENSE, to: .}
`

func TestValidateCatchesMistakes(t *testing.T) {
	g := NewWithT(t)
	archives := map[string]string{"linux/amd64": "kubectl-dcs_v1.2.3_linux_amd64.tar.gz"}
	p, err := Parse([]byte(good))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(p.Validate(version, archives)).To(Succeed())

	second := strings.Replace(good, "  platforms:\n", "  platforms:\n"+
		"    - selector:\n        matchLabels: {os: linux, arch: amd64}\n"+
		"      uri: https://example.com/kubectl-dcs_v1.2.3_linux_amd64.tar.gz\n"+
		"      sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"+
		"      bin: kubectl-dcs\n      files: [{from: kubectl-dcs, to: .}, {from: LICENSE, to: .}]\n", 1)
	for _, tc := range []struct{ manifest, want string }{
		{strings.Replace(good, "version: v1.2.3", "version: v1.2.4", 1), `spec.version "v1.2.4": want v1.2.3`},
		{strings.Replace(good, "name: dcs", "name: backup", 1), `metadata.name "backup"`},
		{strings.Replace(good, "sha256: 0123", "sha256: x123", 1), "is not a SHA-256 in hex"},
		{strings.Replace(good, "linux_amd64.tar.gz", "linux_arm64.tar.gz", 1), "does not name the archive of linux/amd64"},
		{strings.Replace(good, "uri: https:", "uri: http:", 1), "is not https"},
		{strings.Replace(good, "bin: kubectl-dcs", "bin: dcs", 1), "bin is kubectl-dcs"},
		{strings.Replace(good, "        - {from: LICENSE, to: .}\n", "", 1), "files install kubectl-dcs and LICENSE"},
		{strings.Replace(good, "{os: linux, arch: amd64}", "{os: linux}", 1), "matchLabels os and arch are required"},
		{second, "a second entry for linux/amd64"},
	} {
		p, err := Parse([]byte(tc.manifest))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(p.Validate(version, archives)).To(MatchError(ContainSubstring(tc.want)), tc.manifest)
	}

	_, err = Parse([]byte(strings.Replace(good, "  homepage:", "  license: Apache-2.0\n  homepage:", 1)))
	g.Expect(err).To(MatchError(ContainSubstring(`unknown field "license"`)), "krew's fields only")
}

func TestRunWritesTheManifest(t *testing.T) {
	g := NewWithT(t)
	dist := t.TempDir()
	fakeArchives(g, dist, makefilePlatforms(g))
	out := filepath.Join(dist, "dcs.yaml")
	var stdout, stderr strings.Builder
	code := run([]string{"-version", version, "-dist", dist, "-out", out, templatePath}, &stdout, &stderr)
	g.Expect(code).To(Equal(0), stderr.String())
	data, err := os.ReadFile(out)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(data)).To(ContainSubstring("version: 'v1.2.3'\n"))

	g.Expect(run([]string{templatePath}, &stdout, &stderr)).To(Equal(2), "-version is required")
	stderr.Reset()
	g.Expect(run([]string{"-version", version, "-dist", t.TempDir(), templatePath}, &stdout, &stderr)).To(Equal(1))
	g.Expect(stderr.String()).To(HavePrefix("krew-manifest: "))
}

// The release workflow builds what the manifest names and attaches both to
// the GitHub release, where the manifest's uris point.
func TestTheReleaseWorkflowPublishesTheManifestAndItsArchives(t *testing.T) {
	g := NewWithT(t)
	data, err := os.ReadFile("../../.github/workflows/release.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	workflow := string(data)
	g.Expect(workflow).To(ContainSubstring("make plugin-dist "))
	g.Expect(workflow).To(MatchRegexp(`gh release create [^\n]*\\\n(\s+[^\n]*\\\n)*\s+dist/dcs.yaml dist/kubectl-dcs_v"\$\{VERSION\}"_\*\.tar\.gz `),
		"the manifest and every archive are release assets")
	tmpl, err := os.ReadFile(templatePath)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(tmpl)).To(ContainSubstring("uri: 'https://github.com/dcs-operator/dcs-backup-operator/releases/download/v{{ .Version }}/"),
		"the assets of the release of the tag vVERSION")
}
