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

package controller

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
	"github.com/dcs-operator/dcs-backup-operator/internal/version"
)

var dashboardPath = filepath.Join("..", "..", "charts", "dcs-backup-operator", "dashboards", "dcs-backup-operator.json")

// dashboard is the part of a Grafana dashboard the check reads.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashboardPanel `json:"panels"`
}

type dashboardPanel struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// metricNames finds the metric names in a PromQL expression: what is left
// of the identifiers once strings, label matchers, grouping clauses and
// function calls are taken out.
func metricNames(expr string) []string {
	for _, p := range []*regexp.Regexp{promString, promMatchers, promGrouping, promDuration} {
		expr = p.ReplaceAllString(expr, " ")
	}
	var out []string
	for _, m := range promIdentifier.FindAllStringSubmatch(expr, -1) {
		if !slices.Contains(promKeywords, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

var (
	promString   = regexp.MustCompile(`"[^"]*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promDuration = regexp.MustCompile(`\[[^\]]*\]`)
	// An identifier not followed by "(" (a function).
	promIdentifier = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b\s*([^(\s]|$)`)
	promKeywords   = []string{"and", "or", "unless", "bool", "offset"}
)

var _ = Describe("The Grafana dashboard", func() {
	It("is valid and every query names a metric the manager exports", func() {
		data, err := os.ReadFile(dashboardPath)
		Expect(err).NotTo(HaveOccurred())
		var d dashboard
		Expect(json.Unmarshal(data, &d)).To(Succeed(), "the dashboard is JSON")
		Expect(d.Title).NotTo(BeEmpty())
		Expect(d.UID).NotTo(BeEmpty())
		vars := make([]string, 0, len(d.Templating.List))
		for _, v := range d.Templating.List {
			vars = append(vars, v.Name)
		}
		Expect(vars).To(ContainElements("datasource", "job"))

		// controller-runtime's work queues make their series when they
		// first queue something: a backup taken through the real manager
		// does that. The operator's own families are listed from their
		// collectors, whether or not a spec has made series yet.
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		b := env.backup("dashboard", env.instance(inst1))
		Eventually(func(g Gomega) backupv1alpha1.BackupPhase { return fetch(g, b).Status.Phase }).
			Should(Equal(backupv1alpha1.PhaseSucceeded))
		var known []string
		Eventually(func(g Gomega) []string {
			families, err := metrics.Registry.Gather()
			g.Expect(err).NotTo(HaveOccurred())
			known = append(MetricFamilies(), version.BuildInfoMetric)
			for _, f := range families {
				known = append(known, f.GetName())
			}
			return known
		}).Should(ContainElements("controller_runtime_reconcile_total", "workqueue_depth", "workqueue_queue_duration_seconds"))
		exported := func(name string) bool {
			for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(known, base) {
					return true
				}
			}
			return false
		}

		queries := 0
		for _, p := range d.Panels {
			if p.Type == "row" {
				continue
			}
			Expect(p.Datasource).NotTo(BeNil(), "panel %q has a data source", p.Title)
			Expect(p.Datasource.UID).To(Equal("${datasource}"), "panel %q uses the datasource variable", p.Title)
			Expect(p.Targets).NotTo(BeEmpty(), "panel %q has queries", p.Title)
			for _, t := range p.Targets {
				queries++
				Expect(t.Expr).To(ContainSubstring(`job=~"$job"`), "panel %q selects the operator by the job variable", p.Title)
				Expect(strings.Count(t.Expr, "(")).To(Equal(strings.Count(t.Expr, ")")), "panel %q: %s", p.Title, t.Expr)
				names := metricNames(t.Expr)
				Expect(names).NotTo(BeEmpty(), "panel %q: no metric found in %s", p.Title, t.Expr)
				for _, name := range names {
					Expect(exported(name)).To(BeTrue(), "panel %q queries %s, which the manager does not export", p.Title, name)
				}
			}
		}
		Expect(queries).To(BeNumerically(">=", 20))
	})
})
