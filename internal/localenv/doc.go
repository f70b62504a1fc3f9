// Package localenv starts a local environment for the operator out of real
// parts: a kube-apiserver and etcd on loopback (controller-runtime envtest,
// with the binaries hack/controlplane.sh builds), the DCS simulator, the
// manager and the versitygw S3 gateway (hack/versitygw.sh), each as a real
// process in its own process group, with their logs in files. The demo
// (hack/demo), chaos tests, benchmarks and the object-storage tests build
// on it.
//
// A typical use:
//
//	env, err := localenv.New(localenv.Options{})
//	defer env.Stop()
//	cp, err := env.StartControlPlane(ctx, localenv.ControlPlaneOptions{})
//	bins, err := env.Build(ctx)
//	sim, err := env.StartSimulator(ctx, localenv.SimulatorOptions{Binary: bins.Simulator, Instances: ids})
//	mgr, err := env.StartManager(ctx, localenv.ManagerOptions{Binary: bins.Manager})
//	err = localenv.CreateCredentialsSecret(ctx, cp.Client, "default", "dcs-credentials", sim.AccessKey, sim.SecretKey)
//	gw, err := env.StartVersityGW(ctx, localenv.VersityGWOptions{Buckets: []string{"exports"}})
//
// Env.Stop stops everything the Env started, in reverse order, and removes
// its state directory unless told to keep it. Processes started by the Env
// die with the parent process (Linux parent-death signal) even when it is
// killed. kube-apiserver and etcd are started by envtest, which sets no
// such signal: those of hack/controlplane.sh set it themselves (a wrapper,
// hack/pdeathsig). Their data directories stay behind after a kill, so a
// caller that may be interrupted should still call Env.StopOnSignal or
// stop the Env from its own signal handling.
package localenv
