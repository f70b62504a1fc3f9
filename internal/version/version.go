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

// Package version holds what the manager binary (and the kubectl-dcs
// plugin, whose version command prints it) knows about its own build: the
// release version, the source commit and the build date, stamped in by the
// linker (make build, make build-plugin, the Dockerfile), and the Go
// version it was built with. The manager exports them as the
// dcs_backup_operator_build_info metric, so a dashboard or an alert can
// tell which build runs where.
package version

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// Set with -ldflags "-X github.com/dcs-operator/dcs-backup-operator/internal/version.version=v0.1.0 ...".
// A plain `go build` or `go test` leaves the defaults.
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

// Info describes one build of the manager.
type Info struct {
	// Version is the release (vX.Y.Z), or a git describe string for
	// development builds; "dev" when not stamped.
	Version string
	// Commit is the full git commit the binary was built from.
	Commit string
	// Date is when the commit was made (RFC 3339), so that two builds of
	// one commit report the same.
	Date string
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
}

// Get returns the running binary's build information.
func Get() Info {
	return Info{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version()}
}

// KeysAndValues returns the build information as logr key-value pairs, for
// the manager's start-up log line.
func (i Info) KeysAndValues() []any {
	return []any{"version", i.Version, "commit", i.Commit, "buildDate", i.Date, "goVersion", i.GoVersion}
}

// BuildInfoMetric is the name of the build information gauge.
const BuildInfoMetric = "dcs_backup_operator_build_info"

// NewCollector returns a gauge, always 1, labelled with the build's version,
// commit and Go version: the usual Prometheus "info" metric
// (compare prometheus_build_info), joined onto other series with
// `* on (instance) group_left (version)`.
func NewCollector(i Info) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: BuildInfoMetric,
		Help: "Build information of the running dcs-backup-operator manager; the value is always 1.",
	}, []string{"version", "commit", "go_version"})
	g.WithLabelValues(i.Version, i.Commit, i.GoVersion).Set(1)
	return g
}
