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

package packaging

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// No Docker engine runs where these tests run, so the image cannot be built.
// What can break without one is tested instead: the builder stage's exact
// `go build` line, run on exactly the files the Dockerfile copies, and the
// shape of the final stage.

// dockerInstruction is one instruction of a Dockerfile, continuation lines joined.
type dockerInstruction struct {
	cmd  string // upper case, e.g. RUN
	args string
}

// dockerStage is one FROM and the instructions after it.
type dockerStage struct {
	from         string // the image reference, without --platform and AS
	platform     string // the --platform flag's value, if any
	instructions []dockerInstruction
}

func (s dockerStage) all(cmd string) []string {
	var out []string
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

func (s dockerStage) last(cmd string) string {
	all := s.all(cmd)
	Expect(all).NotTo(BeEmpty(), "the stage FROM %s has no %s", s.from, cmd)
	return all[len(all)-1]
}

func parseDockerfile() []dockerStage {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	Expect(err).NotTo(HaveOccurred())
	var stages []dockerStage
	for _, line := range joinContinuations(string(data)) {
		cmd, args, _ := strings.Cut(line, " ")
		in := dockerInstruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, parseFrom(in.args))
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
		}
	}
	Expect(stages).To(HaveLen(2), "a builder stage and the final image")
	return stages
}

// parseFrom reads FROM [--platform=P] IMAGE [AS NAME].
func parseFrom(args string) dockerStage {
	var stage dockerStage
	for _, field := range strings.Fields(args) {
		if p, ok := strings.CutPrefix(field, "--platform="); ok {
			stage.platform = p
			continue
		}
		if stage.from == "" {
			stage.from = field
		}
	}
	return stage
}

// args returns the stage's ARG instructions as name to default value.
func (s dockerStage) args() map[string]string {
	out := map[string]string{}
	for _, arg := range s.all("ARG") {
		name, value, _ := strings.Cut(arg, "=")
		out[name] = value
	}
	return out
}

// labels returns the stage's LABEL key="value" pairs.
func (s dockerStage) labels() map[string]string {
	out := map[string]string{}
	for _, label := range s.all("LABEL") {
		for _, m := range regexp.MustCompile(`([\w.-]+)="([^"]*)"`).FindAllStringSubmatch(label, -1) {
			out[m[1]] = m[2]
		}
	}
	return out
}

// joinContinuations returns the Dockerfile's logical lines, without comments.
func joinContinuations(text string) []string {
	var lines []string
	var current strings.Builder
	scanner := bufio.NewScanner(strings.NewReader(text))
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			current.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		current.WriteString(line)
		lines = append(lines, current.String())
		current.Reset()
	}
	Expect(scanner.Err()).NotTo(HaveOccurred())
	return lines
}

// goBuildLine is the builder stage's RUN instruction that runs go build.
func goBuildLine(builder dockerStage) string {
	var found []string
	for _, run := range builder.all("RUN") {
		if strings.Contains(run, "go build") {
			found = append(found, run)
		}
	}
	Expect(found).To(HaveLen(1), "one RUN ... go build line in the builder stage")
	return found[0]
}

// stageWorkspace copies what the builder stage COPYs from the build context
// into a temporary directory standing for its WORKDIR.
func stageWorkspace(builder dockerStage) string {
	Expect(builder.last("WORKDIR")).To(HavePrefix("/"))
	ws := GinkgoT().TempDir()
	for _, args := range builder.all("COPY") {
		fields := strings.Fields(args)
		Expect(fields).To(HaveLen(2), "COPY %s: one source, one destination", args)
		src, dst := filepath.Join(repoRoot, fields[0]), filepath.Join(ws, fields[1])
		info, err := os.Stat(src)
		Expect(err).NotTo(HaveOccurred(), "COPY %s: the source must exist", args)
		if info.IsDir() {
			Expect(os.CopyFS(dst, os.DirFS(src))).To(Succeed())
			continue
		}
		data, err := os.ReadFile(src)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(dst, data, 0o644)).To(Succeed())
	}
	return ws
}

// builtBinary is the file the final stage copies from the builder, relative
// to the builder's WORKDIR.
func builtBinary(builder, final dockerStage) string {
	for _, args := range final.all("COPY") {
		fields := strings.Fields(args)
		if len(fields) == 3 && strings.HasPrefix(fields[0], "--from=") {
			rel, err := filepath.Rel(builder.last("WORKDIR"), fields[1])
			Expect(err).NotTo(HaveOccurred())
			return rel
		}
	}
	Fail("the final stage copies nothing from the builder")
	return ""
}

// expectStatic checks that the binary at path is a linux/amd64 ELF with no
// dynamic loader and no shared libraries: it runs on distroless static.
func expectStatic(binary string) {
	f, err := elf.Open(binary)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = f.Close() }()
	Expect(f.Machine).To(Equal(elf.EM_X86_64))
	for _, p := range f.Progs {
		Expect(p.Type).NotTo(Equal(elf.PT_INTERP), "a dynamic loader is requested")
	}
	libs, err := f.ImportedLibraries()
	Expect(err).NotTo(HaveOccurred())
	Expect(libs).To(BeEmpty())
}

var _ = Describe("The Dockerfile", func() {
	It("builds a static linux/amd64 manager, tzdata embedded, with its exact go build line", func(ctx SpecContext) {
		stages := parseDockerfile()
		builder, final := stages[0], stages[1]
		ws := stageWorkspace(builder)
		line := goBuildLine(builder)

		// RUN runs its shell form with /bin/sh -c; ARGs are in its environment,
		// here the build arguments the release workflow passes.
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", line)
		cmd.Dir = ws
		cmd.Env = append(os.Environ(), "TARGETOS=linux", "TARGETARCH=amd64", "VERSION="+stampVersion,
			"COMMIT="+stampCommit, "DATE="+stampDate)
		cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
		_, _ = GinkgoWriter.Write([]byte("$ " + line + "\n"))
		Expect(cmd.Run()).To(Succeed(), "RUN %s", line)

		binary := filepath.Join(ws, builtBinary(builder, final))
		expectStatic(binary)
		data, err := os.ReadFile(binary)
		Expect(err).NotTo(HaveOccurred())
		// time/tzdata embeds the zone files; distroless has no /usr/share/zoneinfo.
		Expect(bytes.Count(data, []byte("TZif"))).To(BeNumerically(">", 300), "the IANA time zone database is embedded")
		expectStampedStartupLine(ctx, binary)
	}, SpecTimeout(8*time.Minute))

	It("pins both base images by the digest of their tag", func() {
		stages := parseDockerfile()
		digest := `@sha256:[0-9a-f]{64}$`
		Expect(stages[0].from).To(MatchRegexp(`^golang:\d+\.\d+`+digest), "builder")
		Expect(stages[1].from).To(MatchRegexp(`^gcr\.io/distroless/static(-debian\d+)?:nonroot`+digest), "final image")
		// The builder cross-compiles on the build machine's platform: a
		// multi-arch build (linux/amd64 and linux/arm64) compiles natively.
		Expect(stages[0].platform).To(Equal("${BUILDPLATFORM}"))
	})

	It("stamps the version, commit and date from build arguments into the binary and the OCI labels", func() {
		stages := parseDockerfile()
		builder, final := stages[0], stages[1]
		line := goBuildLine(builder)
		for variable, arg := range map[string]string{"version": "VERSION", "commit": "COMMIT", "date": "DATE"} {
			Expect(line).To(ContainSubstring("-X github.com/dcs-operator/dcs-backup-operator/internal/version.%s=${%s}", variable, arg))
			// An ARG is only visible in the stage that declares it.
			Expect(builder.args()).To(HaveKey(arg), "the builder declares ARG %s", arg)
			Expect(final.args()).To(HaveKey(arg), "the final stage declares ARG %s for its labels", arg)
		}
		Expect(final.labels()).To(Equal(map[string]string{
			"org.opencontainers.image.title":       "dcs-backup-operator",
			"org.opencontainers.image.description": "Kubernetes operator that backs up DCS instances (managed Redis of Huawei Cloud and Open Telekom Cloud)",
			"org.opencontainers.image.source":      "https://github.com/dcs-operator/dcs-backup-operator",
			"org.opencontainers.image.licenses":    "Apache-2.0",
			"org.opencontainers.image.version":     "${VERSION}",
			"org.opencontainers.image.revision":    "${COMMIT}",
			"org.opencontainers.image.created":     "${DATE}",
		}))
		license, err := os.ReadFile(filepath.Join(repoRoot, "LICENSE"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(license)).To(ContainSubstring("Apache License\n                           Version 2.0"), "the licenses label matches LICENSE")
	})

	It("ships the manager in distroless static, as user 65532, with ENTRYPOINT [\"/manager\"]", func() {
		stages := parseDockerfile()
		builder, final := stages[0], stages[1]
		Expect(final.from).To(MatchRegexp(`^gcr\.io/distroless/static(-debian\d+)?:nonroot(@sha256:[0-9a-f]{64})?$`))
		Expect(final.platform).To(BeEmpty(), "the final image is of the target platform")
		Expect(final.last("USER")).To(MatchRegexp(`^65532(:65532)?$`))
		var entrypoint []string
		Expect(json.Unmarshal([]byte(final.last("ENTRYPOINT")), &entrypoint)).To(Succeed(), "exec form")
		Expect(entrypoint).To(Equal([]string{"/manager"}))
		// COPY --from=builder <binary> . into WORKDIR / puts it at /manager.
		Expect(path.Join(final.last("WORKDIR"), path.Base(builtBinary(builder, final)))).To(Equal("/manager"))
	})

	It("builds with a Go at least as new as go.mod asks for", func() {
		builder := parseDockerfile()[0]
		image := regexp.MustCompile(`^golang:(\d+)\.(\d+)`).FindStringSubmatch(builder.from)
		Expect(image).NotTo(BeNil(), "the builder is a golang:X.Y image, not %s", builder.from)
		gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
		Expect(err).NotTo(HaveOccurred())
		want := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindSubmatch(gomod)
		Expect(want).NotTo(BeNil())
		Expect(minorVersion(image[1], image[2])).To(BeNumerically(">=", minorVersion(string(want[1]), string(want[2]))))
	})

	It("lets every path it copies through .dockerignore", func() {
		ignore, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
		Expect(err).NotTo(HaveOccurred())
		// .dockerignore excludes everything ("*") and lets listed paths back in.
		Expect(string(ignore)).To(MatchRegexp(`(?m)^\*$`))
		for _, args := range parseDockerfile()[0].all("COPY") {
			src := strings.TrimSuffix(strings.Fields(args)[0], "/")
			Expect(string(ignore)).To(MatchRegexp(`(?m)^!`+regexp.QuoteMeta(src)+`/?$`), "COPY %s", args)
		}
	})
})

// Build arguments of the go build spec, unlike any default.
const (
	stampVersion = "v9.8.7-packaging-test"
	stampCommit  = "0123456789abcdef0123456789abcdef01234567"
	stampDate    = "2026-02-03T04:05:06Z"
)

// expectStampedStartupLine runs the manager until it fails for want of a
// cluster, after its first log line, which must report the stamped build.
func expectStampedStartupLine(ctx context.Context, binary string) {
	cmd := exec.CommandContext(ctx, binary, "--kubeconfig="+filepath.Join(GinkgoT().TempDir(), "none"))
	cmd.Env = []string{"HOME=" + GinkgoT().TempDir()}
	out, err := cmd.CombinedOutput()
	Expect(err).To(HaveOccurred(), "the manager cannot start without a kubeconfig:\n%s", out)
	first, _, _ := strings.Cut(string(out), "\n")
	var line map[string]any
	Expect(json.Unmarshal([]byte(first), &line)).To(Succeed(), "the first log line is JSON: %s", first)
	Expect(line).To(And(
		HaveKeyWithValue("version", stampVersion),
		HaveKeyWithValue("commit", stampCommit),
		HaveKeyWithValue("buildDate", stampDate),
		HaveKeyWithValue("goVersion", HavePrefix("go1."))))
}

func minorVersion(major, minor string) int {
	ma, err := strconv.Atoi(major)
	Expect(err).NotTo(HaveOccurred())
	mi, err := strconv.Atoi(minor)
	Expect(err).NotTo(HaveOccurred())
	return ma*1000 + mi
}
