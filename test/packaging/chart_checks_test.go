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
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/dcs-operator/dcs-backup-operator/internal/controller"
	"github.com/dcs-operator/dcs-backup-operator/internal/version"
)

// operatorMetrics are the metric families the operator exports, as its
// collectors describe them; alerts and the dashboard may only use these
// (histograms with their _bucket, _sum and _count series).
var operatorMetrics = append(controller.MetricFamilies(), version.BuildInfoMetric)

// expectBindsManagerRole checks a binding of the manager's ClusterRole: the
// rules are the ones controller-gen generates, the subject is the chart's
// ServiceAccount in the release namespace.
func expectBindsManagerRole(objs manifests, ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespace string) {
	Expect(ref.Kind).To(Equal("ClusterRole"))
	role := as[rbacv1.ClusterRole](objs.get("ClusterRole", ref.Name))
	Expect(role.Rules).To(Equal(generatedManagerRules()), "the manager's role has the rules of config/rbac/role.yaml")
	sa := objs.only("ServiceAccount")
	Expect(subjects).To(ConsistOf(rbacv1.Subject{Kind: "ServiceAccount", Name: sa.GetName(), Namespace: namespace}))
}

// expectCustomScheduling checks the scheduling values of testdata/values-custom.yaml.
func expectCustomScheduling(pod corev1.PodTemplateSpec) {
	spec := pod.Spec
	Expect(spec.NodeSelector).To(Equal(map[string]string{"kubernetes.io/os": "linux"}))
	Expect(spec.Tolerations).To(ConsistOf(HaveField("Key", "node-role.kubernetes.io/control-plane")))
	Expect(spec.Affinity).To(HaveValue(HaveField("PodAntiAffinity", Not(BeNil()))))
	Expect(spec.TopologySpreadConstraints).To(ConsistOf(HaveField("TopologyKey", "topology.kubernetes.io/zone")))
	Expect(spec.PriorityClassName).To(Equal("system-cluster-critical"))
	Expect(pod.Labels).To(HaveKeyWithValue("team", "platform"))
	Expect(pod.Annotations).To(HaveKeyWithValue("example.com/scrape", "false"))
}

// expectServiceMonitor checks that the ServiceMonitor finds the metrics
// Service and scrapes its port the way the manager serves it.
func expectServiceMonitor(objs manifests) {
	sm := objs.only("ServiceMonitor")
	svc := as[corev1.Service](objs.only("Service"))
	Expect(sm.GetLabels()).To(HaveKeyWithValue("release", "kube-prometheus-stack"))

	selector, _, err := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	Expect(err).NotTo(HaveOccurred())
	Expect(selector).NotTo(BeEmpty())
	for k, v := range selector {
		Expect(svc.Labels).To(HaveKeyWithValue(k, v), "the ServiceMonitor selects the metrics Service")
	}
	namespaces, _, err := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
	Expect(err).NotTo(HaveOccurred())
	Expect(namespaces).To(ConsistOf(svc.Namespace))

	endpoints, _, err := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	Expect(err).NotTo(HaveOccurred())
	Expect(endpoints).To(ConsistOf(And(
		HaveKeyWithValue("port", svc.Spec.Ports[0].Name),
		HaveKeyWithValue("scheme", "https"),
		HaveKeyWithValue("path", "/metrics"),
		HaveKeyWithValue("interval", "1m"),
		// The series' namespace label (the backup's) must survive the scrape.
		HaveKeyWithValue("honorLabels", true),
	)))
}

// alertRules returns the alerting rules of a PrometheusRule by alert name.
func alertRules(rule *unstructured.Unstructured) map[string]map[string]any {
	groups, _, err := unstructured.NestedSlice(rule.Object, "spec", "groups")
	Expect(err).NotTo(HaveOccurred())
	alerts := map[string]map[string]any{}
	for _, g := range groups {
		rules, _, err := unstructured.NestedSlice(g.(map[string]any), "rules")
		Expect(err).NotTo(HaveOccurred())
		for _, r := range rules {
			alerts[fmt.Sprint(r.(map[string]any)["alert"])] = r.(map[string]any)
		}
	}
	return alerts
}

// expectAlerts checks the alerts of testdata/values-custom.yaml: the
// chart's eight, with the operator's real metric names, and the additional one.
func expectAlerts(rule *unstructured.Unstructured, metricsService string) {
	Expect(rule.GetLabels()).To(HaveKeyWithValue("release", "kube-prometheus-stack"))
	alerts := alertRules(rule)
	Expect(alerts).To(HaveLen(9))
	Expect(alerts).To(HaveKeyWithValue("DCSBackupScheduleNotFresh",
		HaveKeyWithValue("expr", ContainSubstring("dcs_backup_operator_schedule_fresh"))))
	Expect(alerts).To(HaveKeyWithValue("DCSBackupFailed", And(
		HaveKeyWithValue("expr", ContainSubstring(`dcs_backup_operator_backups_total{result="failed"}`)),
		HaveKeyWithValue("for", "5m"),
		HaveKeyWithValue("labels", HaveKeyWithValue("severity", "critical")))))
	Expect(alerts).To(HaveKeyWithValue("DCSBackupScheduleMissedRuns",
		HaveKeyWithValue("expr", ContainSubstring("dcs_backup_operator_schedule_missed_runs_total"))))
	// Prometheus Operator gives each scrape the job label of the Service's name.
	Expect(alerts).To(HaveKeyWithValue("DCSBackupOperatorDown", HaveKeyWithValue("expr",
		fmt.Sprintf(`absent(up{job=%q, namespace=%q} == 1)`, metricsService, customNamespace))))
	Expect(alerts).To(HaveKeyWithValue("DCSBackupDCSErrorRateHigh", And(
		HaveKeyWithValue("expr", ContainSubstring(`dcs_backup_operator_dcs_requests_total{result!~"ok|busy|canceled"}`)),
		HaveKeyWithValue("expr", ContainSubstring("> 0.25")),
		HaveKeyWithValue("for", "15m"))))
	Expect(alerts).To(HaveKeyWithValue("DCSBackupResourceNotSynced", HaveKeyWithValue("expr",
		ContainSubstring("dcs_backup_operator_condition_false_since_timestamp_seconds) > 1800"))))
	Expect(alerts).To(HaveKeyWithValue("DCSRestoreFailed", HaveKeyWithValue("expr",
		ContainSubstring(`dcs_backup_operator_restores_total{result=~"failed|rejected"}`))))
	Expect(alerts).To(HaveKeyWithValue("DCSBackupExportFailed", HaveKeyWithValue("expr",
		ContainSubstring(`dcs_backup_operator_exports_total{result="failed"}`))))
	Expect(alerts).To(HaveKey("DCSBackupTooSlow"), "additionalRules")

	known := regexp.MustCompile(`^(` + joinAlternatives(operatorMetrics) + `)(_bucket|_sum|_count)?$`)
	for name, r := range alerts {
		for _, metric := range regexp.MustCompile(`dcs_backup_operator_\w+`).FindAllString(fmt.Sprint(r["expr"]), -1) {
			Expect(metric).To(MatchRegexp(known.String()), "alert %s uses a metric the operator exports", name)
		}
	}
}

// alertsWithRuleTests returns the alerts that fire in at least one of the
// promtool rule tests of test/alerts (an alert_rule_test with exp_alerts).
func alertsWithRuleTests() []string {
	files, err := filepath.Glob(filepath.Join(repoRoot, "test", "alerts", "*_test.yaml"))
	Expect(err).NotTo(HaveOccurred())
	Expect(files).NotTo(BeEmpty())
	var names []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		Expect(err).NotTo(HaveOccurred())
		var suite struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string           `json:"alertname"`
					ExpAlerts []map[string]any `json:"exp_alerts"`
				} `json:"alert_rule_test"`
			} `json:"tests"`
		}
		Expect(utilyaml.Unmarshal(data, &suite)).To(Succeed(), file)
		for _, test := range suite.Tests {
			for _, rt := range test.AlertRuleTest {
				if len(rt.ExpAlerts) > 0 {
					names = append(names, rt.Alertname)
				}
			}
		}
	}
	return names
}

func joinAlternatives(names []string) string {
	quoted := make([]string, 0, len(names))
	for _, n := range names {
		quoted = append(quoted, regexp.QuoteMeta(n))
	}
	return strings.Join(quoted, "|")
}

// expectNetworkPolicy checks the NetworkPolicy of testdata/values-custom.yaml:
// it applies to the manager's pods and admits the metrics port from
// namespaces labelled metrics=enabled, nothing else.
func expectNetworkPolicy(objs manifests) {
	np := as[networkingv1.NetworkPolicy](objs.only("NetworkPolicy"))
	pod := as[appsv1.Deployment](objs.only("Deployment")).Spec.Template
	selector, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	Expect(err).NotTo(HaveOccurred())
	Expect(selector.Empty()).To(BeFalse())
	Expect(selector.Matches(labels.Set(pod.Labels))).To(BeTrue(), "the policy applies to the manager's pods")

	Expect(np.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress))
	Expect(np.Spec.Ingress).To(HaveLen(1))
	ingress := np.Spec.Ingress[0]
	Expect(ingress.Ports).To(HaveLen(1))
	Expect(ingress.Ports[0].Port.IntValue()).To(Equal(9443))
	Expect(ingress.From).To(HaveLen(1))
	Expect(ingress.From[0].NamespaceSelector).To(HaveValue(
		HaveField("MatchLabels", Equal(map[string]string{"metrics": "enabled"}))))
	Expect(ingress.From[0].PodSelector).To(BeNil())
}

// expectSelectsManager checks that a label selector selects the manager's pods.
func expectSelectsManager(selector *metav1.LabelSelector, pod corev1.PodTemplateSpec) {
	Expect(selector).NotTo(BeNil())
	sel, err := metav1.LabelSelectorAsSelector(selector)
	Expect(err).NotTo(HaveOccurred())
	Expect(sel.Empty()).To(BeFalse())
	Expect(sel.Matches(labels.Set(pod.Labels))).To(BeTrue(), "selects the manager's pods")
}
