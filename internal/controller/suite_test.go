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
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// The suite runs the real manager against a real kube-apiserver and etcd
// (envtest). KUBEBUILDER_ASSETS points at the control plane that
// hack/controlplane.sh builds; `make test` sets it.
var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client // uncached: assertions read the API server directly
	ctx       context.Context
	cancel    context.CancelFunc

	testConnector *hookConnector
	// gateway is the suite's S3 server (versitygw), started once: the
	// export specs each make a bucket of their own.
	gateway *localenv.VersityGW
	// testClock is the time of the manager, the DCS client and the
	// simulators; schedule specs jump it ahead.
	testClock = &jumpClock{}
)

// testRestorePollInterval is short so restore specs finish quickly.
const testRestorePollInterval = 2 * time.Second

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	// Every wait in these suites is on a real API server and real
	// processes: Gomega's 1-second default is shorter than a busy 2-core
	// machine needs, and a spec that needs longer says so itself.
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	Expect(os.Getenv("KUBEBUILDER_ASSETS")).NotTo(BeEmpty(),
		"KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds the control plane")
	Expect(backupv1alpha1.AddToScheme(scheme.Scheme)).To(Succeed())
	_, err := localenv.VersityGWBinary()
	Expect(err).NotTo(HaveOccurred(), "the export specs need the versitygw S3 server: run the tests with `make test`")
	gateway, err = localenv.StartVersityGW(ctx, localenv.VersityGWOptions{})
	Expect(err).NotTo(HaveOccurred())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	Expect(err).NotTo(HaveOccurred())
	// The real connector, reading real Secrets, wrapped by a test hook that
	// can lose the answer of a create call (see hooks_test.go).
	testConnector = &hookConnector{inner: &SecretConnector{
		Metadata:      mgr.GetClient(),
		APIReader:     mgr.GetAPIReader(),
		AllowInsecure: true,
		Timeout:       5 * time.Second,
		Limiter:       dcs.NewLimiter(0, 0),
		Clock:         testClock,
		Observe:       observeDCS,
	}}
	Expect(SetupWithManager(mgr, Options{
		InsecureEndpoints:   true,
		RestorePollInterval: testRestorePollInterval,
		Connector:           testConnector,
		Clock:               testClock,
	})).To(Succeed())

	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	cancel()
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
	if gateway != nil {
		Expect(gateway.Stop()).To(Succeed())
	}
})
