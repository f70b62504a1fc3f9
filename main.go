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

// Command manager runs the dcs-backup-operator controllers.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"time"

	// Embed the IANA time zone database so schedules work in distroless
	// images, which ship no /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/controller"
	"github.com/dcs-operator/dcs-backup-operator/internal/version"
)

// leaderElectionID is fixed: replicas of every version must contend for the
// same lease.
const leaderElectionID = "dcs-backup-operator.backup.dcs-operator.dev"

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(backupv1alpha1.AddToScheme(scheme))
}

type flags struct {
	metricsAddr    string
	probeAddr      string
	secureMetrics  bool
	enableHTTP2    bool
	leaderElect    bool
	leaderElectNS  string
	leaderTimings  leaderElectionTimings
	controllerOpts controller.Options
}

// leaderElectionTimings are the lease settings of leader election. The
// defaults are controller-runtime's: a standby takes over 15 to 17 seconds
// after the leader's last renewal.
type leaderElectionTimings struct {
	leaseDuration time.Duration
	renewDeadline time.Duration
	retryPeriod   time.Duration
}

func (t *leaderElectionTimings) bindFlags(fs *flag.FlagSet) {
	fs.DurationVar(&t.leaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long standby replicas wait after the leader's last renewal before taking the lease.")
	fs.DurationVar(&t.renewDeadline, "leader-election-renew-deadline", 10*time.Second,
		"How long the leader keeps retrying to renew the lease before it gives up leadership (and exits); "+
			"less than the lease duration.")
	fs.DurationVar(&t.retryPeriod, "leader-election-retry-period", 2*time.Second,
		"How often replicas try to acquire or renew the lease.")
}

// validate rejects timings client-go's leader elector would refuse only
// once the manager starts, with a message that names the flags.
func (t leaderElectionTimings) validate() error {
	switch {
	case t.leaseDuration <= t.renewDeadline:
		return fmt.Errorf("--leader-election-lease-duration (%s) must be greater than --leader-election-renew-deadline (%s)",
			t.leaseDuration, t.renewDeadline)
	case t.retryPeriod <= 0:
		return fmt.Errorf("--leader-election-retry-period (%s) must be positive", t.retryPeriod)
	// client-go's leaderelection.JitterFactor is 1.2.
	case float64(t.renewDeadline) <= 1.2*float64(t.retryPeriod):
		return fmt.Errorf("--leader-election-renew-deadline (%s) must be greater than 1.2 x --leader-election-retry-period (%s)",
			t.renewDeadline, t.retryPeriod)
	}
	return nil
}

func parseFlags() (flags, zap.Options) {
	var f flags
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", "0",
		"The address the metrics endpoint binds to: :8443 for https, :8080 for http, 0 to disable.")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	flag.BoolVar(&f.leaderElect, "leader-elect", false,
		"Enable leader election, so that only one replica of the manager is active at a time.")
	flag.StringVar(&f.leaderElectNS, "leader-election-namespace", "",
		"Namespace of the leader election lease. Empty means the namespace the manager runs in (in a cluster); "+
			"required with --leader-elect outside a cluster.")
	flag.BoolVar(&f.secureMetrics, "metrics-secure", true,
		"Serve metrics over https with authentication and authorization. Set to false for plain http.")
	flag.BoolVar(&f.enableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics server (off because of the HTTP/2 rapid reset CVEs).")
	f.leaderTimings.bindFlags(flag.CommandLine)
	f.controllerOpts.BindFlags(flag.CommandLine)

	opts := zap.Options{TimeEncoder: zapcore.RFC3339NanoTimeEncoder}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	return f, opts
}

func main() {
	f, zapOpts := parseFlags()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	build := version.Get()
	setupLog.Info("dcs-backup-operator", build.KeysAndValues()...)
	setMemoryLimit()
	metrics.Registry.MustRegister(version.NewCollector(build))

	var tlsOpts []func(*tls.Config)
	if !f.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   f.metricsAddr,
		SecureServing: f.secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if f.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	cacheOpts, err := f.controllerOpts.CacheOptions()
	if err == nil {
		err = f.leaderTimings.validate()
	}
	if err != nil {
		setupLog.Error(err, "invalid flags")
		os.Exit(2)
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        f.probeAddr,
		LeaderElection:                f.leaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       f.leaderElectNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &f.leaderTimings.leaseDuration,
		RenewDeadline:                 &f.leaderTimings.renewDeadline,
		RetryPeriod:                   &f.leaderTimings.retryPeriod,
		Cache:                         cacheOpts,
	})
	if err != nil {
		setupLog.Error(err, "unable to create manager")
		os.Exit(1)
	}

	if err := controller.SetupWithManager(mgr, f.controllerOpts); err != nil {
		setupLog.Error(err, "unable to set up controllers")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("starting manager", "insecureEndpoints", f.controllerOpts.InsecureEndpoints,
		"leaderElection", f.leaderElect, "startedAt", time.Now().UTC().Format(time.RFC3339))
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}

// memoryLimitRatio is the share of the container's memory limit the Go
// runtime aims to stay under: the rest is for what the runtime does not
// count, mostly the binary's own pages. Measured at fleet scale (make bench),
// the manager's RSS is about 36 MiB above the memory the runtime counts;
// with 90% of a 256Mi limit that went past the limit.
const memoryLimitRatio = 0.8

// setMemoryLimit sets the Go runtime's soft memory limit to 80% of the
// container's cgroup memory limit, unless GOMEMLIMIT is set. The informer
// cache of a large fleet is most of the heap and lives for good; without a
// limit, the garbage collector lets the heap grow to twice what is live
// before it runs, and the container is killed at its memory limit while
// half of what it holds is garbage. Outside a container with a limit,
// nothing changes.
func setMemoryLimit() {
	limit, err := memlimit.Set(
		memlimit.WithRatio(memoryLimitRatio),
		memlimit.WithProvider(memlimit.FromCgroup),
		memlimit.WithLogger(slog.New(slog.DiscardHandler)),
	)
	switch {
	case err != nil:
		setupLog.Info("no container memory limit to follow", "reason", err.Error())
	case limit < math.MaxInt64:
		setupLog.Info("Go memory limit", "bytes", limit)
	}
}
