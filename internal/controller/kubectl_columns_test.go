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
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

// table splits kubectl's table output into rows of cells keyed by the
// column names, cutting lines where the header's columns start (header
// names and cells may hold single spaces; columns are two apart).
func table(out string) []map[string]string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	cols := columnPattern.FindAllStringIndex(lines[0], -1)
	rows := make([]map[string]string, 0, len(lines)-1)
	for _, l := range lines[1:] {
		row := map[string]string{}
		for i, c := range cols {
			end := len(l)
			if i+1 < len(cols) {
				end = min(cols[i+1][0], len(l))
			}
			if c[0] < end {
				row[lines[0][c[0]:c[1]]] = strings.TrimSpace(l[c[0]:end])
			}
		}
		rows = append(rows, row)
	}
	return rows
}

var columnPattern = regexp.MustCompile(`\S+( \S+)*`)

var _ = Describe("kubectl get", func() {
	It("shows a schedule's next run as a time, with Ready and Fresh, and a failed backup's reason", func() {
		env := newSimEnv(simulator.Options{BackupDuration: time.Second})
		id := env.instance(inst1)
		s := env.schedule("nightly", id, "0 3 * * *")
		Eventually(func(g Gomega) {
			got := fetchSchedule(g, s)
			g.Expect(scheduleCond(got, backupv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(scheduleCond(got, backupv1alpha1.ConditionFresh)).NotTo(BeNil())
			g.Expect(got.Status.NextScheduleTime).NotTo(BeNil())
		}).Should(Succeed())
		got := fetchSchedule(Default, s)

		out := kubectl(env.ns, "get", "dcsbs")
		Expect(out).NotTo(ContainSubstring("<invalid>"))
		rows := table(out)
		Expect(rows).To(HaveLen(1))
		Expect(rows[0]).To(And(HaveKeyWithValue("NAME", "nightly"), HaveKeyWithValue("READY", "True"),
			HaveKeyWithValue("FRESH", string(scheduleCond(got, backupv1alpha1.ConditionFresh).Status)),
			HaveKeyWithValue("NEXT", got.Status.NextScheduleTime.UTC().Format(time.RFC3339))))

		env.sim.FailNextBackups(id, 1)
		b := env.backup("doomed", id)
		Eventually(func(g Gomega) backupv1alpha1.BackupPhase { return fetch(g, b).Status.Phase }).
			WithTimeout(20 * time.Second).Should(Equal(backupv1alpha1.PhaseFailed))
		rows = table(kubectl(env.ns, "get", "dcsb", "doomed"))
		Expect(rows).To(ConsistOf(And(HaveKeyWithValue("PHASE", "Failed"),
			HaveKeyWithValue("REASON", backupv1alpha1.ReasonBackupFailed))))
	})
	It("explains the region field as the operator resolves it", func() {
		ns := newSimEnv(simulator.Options{}).ns
		out := kubectl(ns, "explain", "dcsbackup.spec.connection.region")
		out = strings.Join(strings.Fields(out), " ")
		for region := range openTelekomCloudRegions {
			ep, err := ResolveEndpoint(backupv1alpha1.Connection{Region: region}, false)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(ContainSubstring(ep+" "), "the endpoint of %s", region)
			Expect(out).To(ContainSubstring(region), "the endpoint of %s", region)
		}
		ep, err := ResolveEndpoint(backupv1alpha1.Connection{Region: "ap-southeast-1"}, false)
		Expect(err).NotTo(HaveOccurred())
		Expect(ep).To(Equal("https://dcs.ap-southeast-1.myhuaweicloud.com"))
		Expect(out).To(ContainSubstring("https://dcs.{region}.myhuaweicloud.com for every other region"))
	})
})
