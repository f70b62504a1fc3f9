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
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

// The specs below run managers of their own, built like main.go builds
// one: SetupWithManager with the default Secret connector, cache options
// from Options.CacheOptions, and a logger at the most verbose level writing
// into a buffer the specs read.
//
// They get a control plane of their own. On the suite's API server the
// suite's manager, which watches every namespace, would reconcile their
// objects too: two managers writing one status, each logging half of the
// work, so neither "nothing leaks into the log" nor "the operator leaves
// this namespace alone" could be shown. Here every object is reconciled by
// exactly one manager, or, in the namespace no manager watches, by none.
//
//   - manager A runs as a user that has exactly the grants of
//     wantManagerRole (rbac_test.go), bound by RoleBindings in the
//     namespaces it watches (the Helm chart's manager.watchNamespaces
//     mode), and allows plain-http endpoints (the simulators);
//   - manager B runs as cluster admin, watches one namespace and refuses
//     plain-http endpoints (the default).
const (
	nsSecurity  = "security"   // A
	nsBadInput  = "bad-input"  // A
	nsOtherTeam = "other-team" // A: A may read its Secrets, and must not use them for bad-input
	nsHTTPSOnly = "https-only" // B
	nsUnwatched = "unwatched"  // nobody: B could read it, A could not
)

// Temporary credentials (with a security token), as the simulators of
// these specs know them.
const (
	ownAK    = "OWNMANAGERACCESSKEY01"
	ownSK    = "own-SECRET-key-4b9f2a7c1e55d0"
	ownToken = "own+SECURITY/token-temporary-credential-8d3e7f=="
)

// ownPlane is the control plane of these specs and what its managers log.
type ownPlane struct {
	c            client.Client // cluster admin, uncached
	logsA, logsB *syncBuffer
}

// The specs share the control plane (started once, in BeforeAll) but not
// their objects: one failing does not skip the others.
var _ = Describe("With a control plane and managers of its own", Ordered, ContinueOnFailure, func() {
	p := &ownPlane{}
	BeforeAll(p.start)

	Describe("secrets", func() { securitySpecs(p) })
	Describe("bad connection input", func() { badConnectionSpecs(p) })
	Describe("--watch-namespaces", func() { watchNamespaceSpecs(p) })
})

func (p *ownPlane) start() {
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	// Run the admission plugins production clusters run: had the operator
	// set owner references with blockOwnerDeletion on its objects, this
	// one would check the permission that takes.
	env.ControlPlane.GetAPIServer().Configure().Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	adminCfg, err := env.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)
	p.c, err = client.New(adminCfg, client.Options{Scheme: scheme.Scheme})
	Expect(err).NotTo(HaveOccurred())
	for _, ns := range []string{nsSecurity, nsBadInput, nsOtherTeam, nsHTTPSOnly, nsUnwatched} {
		Expect(p.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	}

	watchedByA := []string{nsSecurity, nsBadInput, nsOtherTeam}
	p.logsA = startOwnManager(p.restrictedUser(env, watchedByA), Options{
		InsecureEndpoints: true, WatchNamespaces: watchedByA})
	p.logsB = startOwnManager(adminCfg, Options{WatchNamespaces: []string{nsHTTPSOnly}})
}

// restrictedUser returns the config of a user bound to wantManagerRole in
// namespaces only, once the API server enforces the bindings.
func (p *ownPlane) restrictedUser(env *envtest.Environment, namespaces []string) *rest.Config {
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "dcs-backup-operator-manager"}}
	for g := range wantManagerRole {
		group, resourceVerb, _ := strings.Cut(g, "/")
		resource, verb, _ := strings.Cut(resourceVerb, ":")
		role.Rules = append(role.Rules, rbacv1.PolicyRule{
			APIGroups: []string{group}, Resources: []string{resource}, Verbs: []string{verb}})
	}
	Expect(p.c.Create(ctx, role)).To(Succeed())
	const userName = "dcs-backup-operator"
	for _, ns := range namespaces {
		Expect(p.c.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "dcs-backup-operator-manager", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: userName}},
		})).To(Succeed())
	}
	user, err := env.AddUser(envtest.User{Name: userName}, nil)
	Expect(err).NotTo(HaveOccurred())
	uc, err := client.New(user.Config(), client.Options{Scheme: scheme.Scheme})
	Expect(err).NotTo(HaveOccurred())
	// The authorizer reads bindings from its own informer: wait until it
	// has them, so the manager does not start into Forbidden answers.
	for _, ns := range namespaces {
		Eventually(func() error {
			return uc.List(ctx, &corev1.SecretList{}, client.InNamespace(ns))
		}).Should(Succeed())
	}
	return user.Config()
}

// startOwnManager starts a manager as main.go builds it, logging at the
// most verbose level into the returned buffer; it stops with the spec
// container.
func startOwnManager(cfg *rest.Config, opts Options) *syncBuffer {
	logs := &syncBuffer{}
	cacheOpts, err := opts.CacheOptions()
	Expect(err).NotTo(HaveOccurred())
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme.Scheme,
		Logger:                 zap.New(zap.WriteTo(logs), zap.Level(zapcore.Level(-10))),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cacheOpts,
		// The suite's manager registered controllers of the same names in
		// this process; the check only guards metric names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(SetupWithManager(mgr, opts)).To(Succeed())
	mctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	DeferCleanup(func() {
		stop()
		Eventually(done).WithTimeout(30 * time.Second).Should(BeClosed())
	})
	return logs
}

// sim starts a simulator that knows the temporary credentials, with the
// instances given; it stops with the spec.
func (p *ownPlane) sim(instances ...string) (*simulator.Simulator, string) {
	sim := simulator.New(simulator.Options{
		Credentials:    map[string]simulator.Credential{ownAK: {SecretKey: ownSK, SecurityToken: ownToken}},
		BackupDuration: time.Second,
	})
	for _, id := range instances {
		sim.AddInstance(simulator.Instance{ID: id})
	}
	srv := httptest.NewServer(sim)
	DeferCleanup(srv.Close)
	return sim, srv.URL
}

// secret creates a Secret; goodSecret one with the temporary credentials.
func (p *ownPlane) secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
	Expect(p.c.Create(ctx, s)).To(Succeed())
	return s
}

func (p *ownPlane) goodSecret(ns, name string) {
	p.secret(ns, name, map[string]string{backupv1alpha1.SecretKeyAccessKey: ownAK,
		backupv1alpha1.SecretKeySecretKey: ownSK, backupv1alpha1.SecretKeySecurityToken: ownToken})
}

// backup creates a DCSBackup of instanceID at endpoint with the Secret.
func (p *ownPlane) backup(ns, name, endpoint, instanceID, secret string,
	mods ...func(*backupv1alpha1.DCSBackup)) *backupv1alpha1.DCSBackup {
	b := p.newBackup(ns, name, endpoint, instanceID, secret)
	for _, m := range mods {
		m(b)
	}
	Expect(p.c.Create(ctx, b)).To(Succeed())
	return b
}

func (p *ownPlane) newBackup(ns, name, endpoint, instanceID, secret string) *backupv1alpha1.DCSBackup {
	return &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
			InstanceID: instanceID,
			Connection: backupv1alpha1.Connection{
				ProjectID:            simulator.DefaultProjectID,
				Endpoint:             endpoint,
				CredentialsSecretRef: backupv1alpha1.SecretReference{Name: secret},
			},
		}},
	}
}

func (p *ownPlane) fetch(g Gomega, b *backupv1alpha1.DCSBackup) *backupv1alpha1.DCSBackup {
	got := &backupv1alpha1.DCSBackup{}
	g.Expect(p.c.Get(ctx, client.ObjectKeyFromObject(b), got)).To(Succeed())
	return got
}

// expectQuiet checks that a backup blocked on user input stays still: a
// pass ran, then for a while at most one more, no status write and no DCS
// request. (An unchanged resourceVersion alone would not show it: a hot
// loop that computes the same status skips its write.)
func (p *ownPlane) expectQuiet(logs *syncBuffer, b *backupv1alpha1.DCSBackup, sim *simulator.Simulator) {
	passes := logs.reconciles(b)
	Expect(passes).To(BeNumerically(">=", 1), "no pass of %s in the manager's log", b.Name)
	rv := p.fetch(Default, b).ResourceVersion
	requests := sim.Stats().Total
	Consistently(func(g Gomega) {
		g.Expect(p.fetch(g, b).ResourceVersion).To(Equal(rv), "status writes")
		g.Expect(sim.Stats().Total).To(Equal(requests), "DCS requests")
		g.Expect(logs.reconciles(b)).To(BeNumerically("<=", passes+1), "passes")
	}).WithTimeout(2 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
}

// syncBuffer is a log sink that specs read while the manager writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// entries decodes the JSON log lines.
func (b *syncBuffer) entries() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e map[string]any
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// reconciles counts the passes over obj: controller-runtime logs
// "Reconciling" at V(5) before each.
func (b *syncBuffer) reconciles(obj client.Object) int {
	n := 0
	for _, e := range b.entries() {
		if e["msg"] == "Reconciling" && e["namespace"] == obj.GetNamespace() && e["name"] == obj.GetName() {
			n++
		}
	}
	return n
}
