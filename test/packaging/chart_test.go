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
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const (
	chartRelease   = "dcs-backup-operator"
	chartFullname  = "dcs-backup-operator" // the release name contains the chart name
	chartNamespace = "dcs-backup-operator-system"
	// customNamespace is the release namespace of testdata/values-custom.yaml,
	// which watches the namespaces shop and payments.
	customNamespace = "ops"
)

func chartDir() string { return filepath.Join(repoRoot, "charts", "dcs-backup-operator") }

func customValues() string {
	path, err := filepath.Abs(filepath.Join("testdata", "values-custom.yaml"))
	Expect(err).NotTo(HaveOccurred())
	return path
}

func helmTemplate(namespace string, args ...string) (string, error) {
	return helm(append([]string{"template", chartRelease, chartDir(),
		"--namespace", namespace, "--kube-version", serverVersion}, args...)...)
}

func renderChart(namespace string, args ...string) (string, manifests) {
	out, err := helmTemplate(namespace, args...)
	Expect(err).NotTo(HaveOccurred())
	return out, parseManifests(out)
}

func helmLint(args ...string) error {
	_, err := helm(append([]string{"lint", "--strict", chartDir(), "--kube-version", serverVersion}, args...)...)
	return err
}

func chartAppVersion() string {
	data, err := os.ReadFile(filepath.Join(chartDir(), "Chart.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	Expect(utilyaml.Unmarshal(data, &chart)).To(Succeed())
	Expect(chart.AppVersion).NotTo(BeEmpty())
	return chart.AppVersion
}

var _ = Describe("The Helm chart", func() {
	Context("with default values", Ordered, func() {
		var text string
		var objs manifests
		BeforeAll(func() { text, objs = renderChart(chartNamespace) })

		It("passes helm lint --strict", func() {
			Expect(helmLint()).To(Succeed())
		})

		It("ships no Grafana dashboard unless asked", func() {
			Expect(objs.ofKind("ConfigMap")).To(BeEmpty())
		})

		It("installs every CRD, kept on helm uninstall", func() {
			crds := objs.ofKind("CustomResourceDefinition")
			Expect(crds.names()).To(ConsistOf(generatedCRDNames()))
			for _, crd := range crds {
				Expect(crd.GetAnnotations()).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"))
			}
		})

		It("runs one hardened manager with leader election, probes and resources", func() {
			dep := as[appsv1.Deployment](objs.get("Deployment", chartFullname))
			Expect(dep.Spec.Replicas).To(HaveValue(BeEquivalentTo(1)))
			c := managerContainer(dep.Spec.Template.Spec)
			Expect(c.Image).To(Equal("ghcr.io/dcs-operator/dcs-backup-operator:" + chartAppVersion()))
			Expect(c.Args).To(ContainElements("--leader-elect", "--metrics-secure=true",
				// The manager's own default: two copies hold up to 64 MiB.
				"--max-concurrent-exports=2",
				// controller-runtime's defaults, spelt out.
				"--leader-election-lease-duration=15s", "--leader-election-renew-deadline=10s",
				"--leader-election-retry-period=2s"))
			Expect(dep.Spec.Template.Spec.ServiceAccountName).To(Equal(objs.only("ServiceAccount").GetName()))
			expectHardenedPod(dep.Spec.Template.Spec)
			expectProbesAndResources(dep.Spec.Template.Spec, 8081)
		})

		It("serves metrics over https on 8443 through a Service that selects the manager", func() {
			dep := as[appsv1.Deployment](objs.get("Deployment", chartFullname))
			svc := as[corev1.Service](objs.only("Service"))
			Expect(svc.Spec.Ports[0].Name).To(Equal("https"))
			expectServiceReachesManager(svc, dep.Spec.Template, 8443)
		})

		It("binds the manager's role cluster-wide, and leader election in the release namespace only", func() {
			binding := as[rbacv1.ClusterRoleBinding](objs.get("ClusterRoleBinding", chartFullname+"-manager"))
			expectBindsManagerRole(objs, binding.RoleRef, binding.Subjects, chartNamespace)
			role := as[rbacv1.Role](objs.only("Role"))
			Expect(role.Namespace).To(Equal(chartNamespace))
			Expect(role.Rules).To(ContainElement(HaveField("Resources", ContainElement("leases"))))
		})

		It("rolls updates out by starting the new pod before stopping the old one", func() {
			strategy := as[appsv1.Deployment](objs.only("Deployment")).Spec.Strategy
			Expect(strategy.Type).To(Equal(appsv1.RollingUpdateDeploymentStrategyType))
			Expect(strategy.RollingUpdate).NotTo(BeNil())
			Expect(strategy.RollingUpdate.MaxSurge.String()).To(Equal("1"))
			Expect(strategy.RollingUpdate.MaxUnavailable.String()).To(Equal("0"))
		})

		It("creates no ServiceMonitor, PrometheusRule, NetworkPolicy or PodDisruptionBudget (one replica) unless asked", func() {
			for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "PodDisruptionBudget"} {
				Expect(objs.ofKind(kind)).To(BeEmpty(), kind)
			}
		})

		It("is accepted by the API server: every object, server-side dry-run", func() {
			dryRunApply(text)
		})
	})

	Context("with non-default values", Ordered, func() {
		var text string
		var objs manifests
		BeforeAll(func() { text, objs = renderChart(customNamespace, "--values", customValues()) })

		It("passes helm lint --strict", func() {
			Expect(helmLint("--values", customValues())).To(Succeed())
		})

		It("leaves the CRDs out when crds.install is false", func() {
			Expect(objs.ofKind("CustomResourceDefinition")).To(BeEmpty())
		})

		It("pins the image by digest, pulled with the pull secret", func() {
			spec := as[appsv1.Deployment](objs.only("Deployment")).Spec.Template.Spec
			c := managerContainer(spec)
			Expect(c.Image).To(Equal("registry.example.com/platform/dcs-backup-operator@" +
				"sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"))
			Expect(c.ImagePullPolicy).To(Equal(corev1.PullAlways))
			Expect(spec.ImagePullSecrets).To(ConsistOf(corev1.LocalObjectReference{Name: "regcred"}))
		})

		It("passes the operator's flags, extra args and extra env to the manager", func() {
			c := managerContainer(as[appsv1.Deployment](objs.only("Deployment")).Spec.Template.Spec)
			Expect(c.Args).To(ContainElements(
				"--leader-elect", "--metrics-bind-address=:9443", "--restore-poll-interval=30s",
				"--watch-namespaces=shop,payments", "--max-concurrent-reconciles=8", "--max-concurrent-exports=3",
				"--dcs-requests-per-second=2.5", "--dcs-burst=5", "--dcs-timeout=1m",
				"--zap-log-level=debug", "--zap-encoder=console", "--zap-time-encoding=iso8601",
				"--leader-election-lease-duration=30s", "--leader-election-renew-deadline=20s",
				"--leader-election-retry-period=4s"))
			Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: "HTTPS_PROXY", Value: "http://proxy.example.com:3128"}))
		})

		It("mounts a private CA bundle from extraVolumes where SSL_CERT_DIR points", func() {
			spec := as[appsv1.Deployment](objs.only("Deployment")).Spec.Template.Spec
			Expect(spec.Volumes).To(ConsistOf(And(HaveField("Name", "dcs-ca"),
				HaveField("ConfigMap", HaveValue(HaveField("Name", "dcs-ca"))))))
			c := managerContainer(spec)
			Expect(c.VolumeMounts).To(ConsistOf(corev1.VolumeMount{
				Name: "dcs-ca", MountPath: "/etc/dcs-backup-operator/ca", ReadOnly: true}))
			Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: "SSL_CERT_DIR", Value: "/etc/dcs-backup-operator/ca"}))
		})

		It("keeps at most one of the two replicas out during voluntary disruptions", func() {
			pdb := as[policyv1.PodDisruptionBudget](objs.only("PodDisruptionBudget"))
			Expect(pdb.Namespace).To(Equal(customNamespace))
			Expect(pdb.Spec.MaxUnavailable).To(HaveValue(Equal(intstr.FromInt32(1))))
			Expect(pdb.Spec.MinAvailable).To(BeNil())
			expectSelectsManager(pdb.Spec.Selector, as[appsv1.Deployment](objs.only("Deployment")).Spec.Template)
		})

		It("schedules the pods as asked", func() {
			dep := as[appsv1.Deployment](objs.only("Deployment"))
			Expect(dep.Spec.Replicas).To(HaveValue(BeEquivalentTo(2)))
			expectCustomScheduling(dep.Spec.Template)
		})

		It("stays hardened, with the resources asked for", func() {
			spec := as[appsv1.Deployment](objs.only("Deployment")).Spec.Template.Spec
			expectHardenedPod(spec)
			expectProbesAndResources(spec, 8081)
			limits := managerContainer(spec).Resources.Limits
			Expect(limits).NotTo(HaveKey(corev1.ResourceCPU), "cpu: null removes the default CPU limit")
			Expect(limits.Memory().String()).To(Equal("512Mi"))
		})

		It("binds the manager's role only in the watched namespaces", func() {
			Expect(objs.ofKind("ClusterRoleBinding").names()).NotTo(ContainElement(chartFullname + "-manager"))
			var namespaces []string
			for _, u := range objs.ofKind("RoleBinding") {
				if rb := as[rbacv1.RoleBinding](u); rb.RoleRef.Kind == "ClusterRole" {
					expectBindsManagerRole(objs, rb.RoleRef, rb.Subjects, customNamespace)
					namespaces = append(namespaces, rb.Namespace)
				}
			}
			Expect(namespaces).To(ConsistOf("shop", "payments"))
		})

		It("scrapes the metrics Service over https with a ServiceMonitor", func() {
			expectServiceMonitor(objs)
		})

		It("alerts on a schedule not Fresh, failed backups, restores and exports, missed runs, lasting problems, the operator down and DCS errors", func() {
			expectAlerts(objs.only("PrometheusRule"), objs.only("Service").GetName())
		})

		It("links every alert of the chart to its runbook under runbookBaseURL", func() {
			for name, rule := range alertRules(objs.only("PrometheusRule")) {
				if name == "DCSBackupTooSlow" {
					continue // additionalRules are the user's
				}
				Expect(rule).To(HaveKeyWithValue("annotations", HaveKeyWithValue("runbook_url",
					"https://wiki.example.com/dcs/runbooks/"+name+".md")), name)
			}
		})

		It("ships the Grafana dashboard as a ConfigMap for Grafana's sidecar", func() {
			cm := as[corev1.ConfigMap](objs.only("ConfigMap"))
			Expect(cm.Namespace).To(Equal(customNamespace))
			Expect(cm.Labels).To(HaveKeyWithValue("grafana_dashboard", "1"))
			Expect(cm.Annotations).To(HaveKeyWithValue("grafana_folder", "Backups"))
			file, err := os.ReadFile(filepath.Join(repoRoot, "charts", "dcs-backup-operator", "dashboards", "dcs-backup-operator.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(cm.Data).To(HaveKeyWithValue("dcs-backup-operator.json", strings.TrimSpace(string(file))))

			_, elsewhere := renderChart(chartNamespace, "--set", "grafanaDashboard.enabled=true",
				"--set", "grafanaDashboard.namespace=monitoring")
			Expect(elsewhere.only("ConfigMap").GetNamespace()).To(Equal("monitoring"))
		})

		It("admits ingress to the manager only on the metrics port, from labelled namespaces", func() {
			expectNetworkPolicy(objs)
		})

		It("is accepted by the API server: every object, server-side dry-run", func() {
			dryRunApply(text)
		})
	})

	It("annotates the CRDs as asked, e.g. with an Argo CD sync wave, or lets helm uninstall delete them", func() {
		_, objs := renderChart(chartNamespace, "--set", "crds.keep=false",
			"--set-string", `crds.annotations.argocd\.argoproj\.io/sync-wave=-1`)
		crds := objs.ofKind("CustomResourceDefinition")
		Expect(crds).To(HaveLen(len(generatedCRDNames())))
		for _, crd := range crds {
			Expect(crd.GetAnnotations()).To(HaveKeyWithValue("argocd.argoproj.io/sync-wave", "-1"))
			Expect(crd.GetAnnotations()).NotTo(HaveKey("helm.sh/resource-policy"))
		}
	})

	It("keeps the namespace label of the operator's series (honorLabels), unless told not to", func() {
		honorLabels := func(objs manifests) any {
			endpoints, _, err := unstructured.NestedSlice(objs.only("ServiceMonitor").Object, "spec", "endpoints")
			Expect(err).NotTo(HaveOccurred())
			Expect(endpoints).To(HaveLen(1))
			return endpoints[0].(map[string]any)["honorLabels"]
		}
		_, objs := renderChart(chartNamespace, "--set", "serviceMonitor.enabled=true")
		Expect(honorLabels(objs)).To(BeTrue())
		_, objs = renderChart(chartNamespace, "--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.honorLabels=false")
		Expect(honorLabels(objs)).To(BeFalse())
	})

	It("recreates the single manager on update when leader election is off, and refuses two active managers", func() {
		_, objs := renderChart(chartNamespace, "--set", "leaderElection.enabled=false")
		dep := as[appsv1.Deployment](objs.only("Deployment"))
		Expect(dep.Spec.Strategy.Type).To(Equal(appsv1.RecreateDeploymentStrategyType))
		Expect(managerContainer(dep.Spec.Template.Spec).Args).NotTo(ContainElement(HavePrefix("--leader-elect")))

		_, err := helmTemplate(chartNamespace, "--set", "leaderElection.enabled=false", "--set", "replicaCount=2")
		Expect(err).To(MatchError(ContainSubstring("replicaCount > 1 needs leaderElection.enabled")))
		_, err = helmTemplate(chartNamespace, "--set", "leaderElection.enabled=false", "--set", "updateStrategy.type=RollingUpdate")
		Expect(err).To(MatchError(ContainSubstring("updateStrategy.type RollingUpdate needs leaderElection.enabled")))

		_, objs = renderChart(chartNamespace, "--set", "updateStrategy.type=Recreate")
		Expect(as[appsv1.Deployment](objs.only("Deployment")).Spec.Strategy.Type).To(Equal(appsv1.RecreateDeploymentStrategyType))
	})

	It("creates a PodDisruptionBudget when asked, whatever the replicas, and none when told not to", func() {
		text, objs := renderChart(chartNamespace, "--set", "podDisruptionBudget.enabled=true",
			"--set-string", "podDisruptionBudget.minAvailable=50%")
		pdb := as[policyv1.PodDisruptionBudget](objs.only("PodDisruptionBudget"))
		Expect(pdb.Spec.MinAvailable).To(HaveValue(Equal(intstr.FromString("50%"))), "minAvailable wins")
		Expect(pdb.Spec.MaxUnavailable).To(BeNil())
		dryRunApply(text)

		_, objs = renderChart(chartNamespace, "--set", "replicaCount=3", "--set", "podDisruptionBudget.enabled=false")
		Expect(objs.ofKind("PodDisruptionBudget")).To(BeEmpty())
	})

	It("gives every alert of the chart a runbook page and promtool rule tests", func() {
		_, objs := renderChart(chartNamespace, "--set", "prometheusRule.enabled=true")
		alerts := alertRules(objs.only("PrometheusRule"))
		Expect(alerts).To(HaveLen(8))
		tested := alertsWithRuleTests()
		for name, rule := range alerts {
			Expect(rule).To(HaveKeyWithValue("annotations", HaveKeyWithValue("runbook_url",
				"https://github.com/dcs-operator/dcs-backup-operator/blob/main/docs/runbooks/"+name+".md")), name)
			page, err := os.ReadFile(filepath.Join(repoRoot, "docs", "runbooks", name+".md"))
			Expect(err).NotTo(HaveOccurred(), "docs/runbooks/%s.md, the page runbook_url points to", name)
			for _, section := range []string{"# " + name + "\n", "\n## Meaning\n", "\n## Check\n", "\n## Fix\n"} {
				Expect(string(page)).To(ContainSubstring(section), "docs/runbooks/%s.md", name)
			}
			Expect(tested).To(ContainElement(name), "test/alerts has a rule test in which %s fires", name)
		}
	})

	DescribeTable("fails on a typo or a wrong type in values (values.schema.json)",
		func(wantInError string, args ...string) {
			_, err := helmTemplate(chartNamespace, args...)
			Expect(err).To(MatchError(ContainSubstring(wantInError)))
		},
		Entry("an unknown top-level key", "additional properties 'replicaCont' not allowed", "--set", "replicaCont=2"),
		Entry("an unknown nested key", "additional properties 'tagg' not allowed", "--set", "image.tagg=v1"),
		Entry("a misspelt alert", "'backupFaild'", "--set", "prometheusRule.alerts.backupFaild.enabled=false"),
		Entry("a string for a number", "/replicaCount", "--set-string", "replicaCount=two"),
		Entry("a duration without a unit", "/manager/dcs/timeout", "--set-string", "manager.dcs.timeout=30"),
		Entry("a tag where the digest goes", "/image/digest", "--set", "image.digest=latest"),
		Entry("an unknown log level", "/logging/level", "--set", "logging.level=verbose"),
		Entry("a misspelt PodDisruptionBudget key", "additional properties 'maxUnavaliable' not allowed",
			"--set", "podDisruptionBudget.maxUnavaliable=1"),
		Entry("a lease duration without a unit", "/leaderElection/leaseDuration", "--set-string", "leaderElection.leaseDuration=15"),
		Entry("an unknown update strategy", "/updateStrategy/type", "--set", "updateStrategy.type=Rolling"),
		Entry("honorLabels as a string", "/serviceMonitor/honorLabels", "--set-string", "serviceMonitor.honorLabels=yes"),
		Entry("a runbook base URL that is no URL", "/prometheusRule/runbookBaseURL", "--set", "prometheusRule.runbookBaseURL=docs/runbooks"),
		Entry("an error-rate threshold in percent", "/prometheusRule/alerts/dcsErrorRate/threshold",
			"--set", "prometheusRule.alerts.dcsErrorRate.threshold=25"),
		Entry("a volume mount without a path", "mountPath", "--set", "extraVolumeMounts[0].name=ca"),
	)

	It("fails helm lint on a typo in a values file", func() {
		file := filepath.Join(GinkgoT().TempDir(), "values.yaml")
		Expect(os.WriteFile(file, []byte("serviceMonitor:\n  enable: true\n"), 0o600)).To(Succeed())
		Expect(helmLint("--values", file)).To(MatchError(ContainSubstring("additional properties 'enable' not allowed")))
	})

	It("has a value for every flag of the manager", func() {
		helpers, err := os.ReadFile(filepath.Join(chartDir(), "templates", "_helpers.tpl"))
		Expect(err).NotTo(HaveOccurred())
		for _, name := range managerFlags() {
			switch name {
			case "enable-http2":
				continue // off for the HTTP/2 rapid reset CVEs; extraArgs can still set it
			case "leader-election-namespace":
				continue // in a cluster the lease lives in the pod's namespace; only needed outside one
			}
			Expect(string(helpers)).To(ContainSubstring("- --"+name),
				"the manager has a flag --%s: give it a value in charts/dcs-backup-operator/values.yaml, "+
					"values.schema.json and the args in templates/_helpers.tpl", name)
		}
	})
})

// managerFlags are the manager's own flags, as main.go and the controllers'
// options declare them: the name of each flag.XxxVar, fs.XxxVar and fs.Func
// call. The source is parsed rather than the package imported, so that this
// package builds while the controllers are mid-change.
func managerFlags() []string {
	var names []string
	for _, file := range []string{"main.go", filepath.Join("internal", "controller", "options.go")} {
		parsed, err := parser.ParseFile(token.NewFileSet(), filepath.Join(repoRoot, file), nil, 0)
		Expect(err).NotTo(HaveOccurred())
		ast.Inspect(parsed, func(n ast.Node) bool {
			if name, ok := flagName(n); ok {
				names = append(names, name)
			}
			return true
		})
	}
	Expect(names).To(ContainElements("metrics-bind-address", "leader-elect", "dcs-timeout"), "flags found in the source")
	return names
}

// flagName returns the flag name of a flag-defining call such as
// fs.DurationVar(&o.X, "name", ...) or fs.Func("name", ...).
func flagName(n ast.Node) (string, bool) {
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	if definesFlag := strings.HasSuffix(sel.Sel.Name, "Var") || sel.Sel.Name == "Func"; !definesFlag {
		return "", false
	}
	for _, arg := range call.Args {
		if lit, ok := arg.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			name, err := strconv.Unquote(lit.Value)
			return name, err == nil
		}
	}
	return "", false
}
