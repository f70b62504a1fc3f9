package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/localenv"
)

// demo is one run of the demo.
type demo struct {
	cfg      config
	out      *syncWriter
	terminal bool

	env     *localenv.Env
	samples *samples
	// versityGW is the binary of the gateway the sample storages point
	// at; gw is the gateway, nil without sample storages.
	versityGW string
	gw        *localenv.VersityGW
	goal      goal
	info      []string
	// scheduleNotes say how the sample schedules were changed.
	scheduleNotes []string
	started       time.Time
	// restoresApplied are the sample DCSRestores applied so far.
	restoresApplied map[string]bool
}

// syncWriter serialises writes from the parallel start steps.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (d *demo) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(d.out, format+"\n", args...)
}

// run sets everything up and shows it until ctx ends, --for runs out or
// the goal is reached.
func (d *demo) run(ctx context.Context) error {
	if err := d.setUp(ctx); err != nil {
		if ctx.Err() != nil {
			d.printf("interrupted") // Ctrl-C during the start: not a failure
			return nil
		}
		return err
	}
	return d.watch(ctx)
}

func (d *demo) setUp(ctx context.Context) error {
	env, err := localenv.New(localenv.Options{KeepDir: d.cfg.keep, Progress: d.out})
	if err != nil {
		return err
	}
	d.env = env
	// envtest logs through controller-runtime; its errors come back as
	// errors, and its chatter would scroll the table away.
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	d.printf("dcs-backup-operator demo (state in %s)", env.Dir)

	if d.samples, err = loadSamples(d.samplesPath()); err != nil {
		return err
	}
	if err := d.startControlPlaneAndBuild(ctx); err != nil {
		return err
	}
	sim, err := d.env.StartSimulator(ctx, localenv.SimulatorOptions{
		Instances: d.samples.instanceIDs, BackupDuration: d.cfg.backupDuration,
	})
	if err != nil {
		return err
	}
	d.printf("simulator at %s: instances %s, backups take %s", sim.URL,
		strings.Join(d.samples.instanceIDs, ", "), d.cfg.backupDuration)
	if err := d.startVersityGW(ctx); err != nil {
		return err
	}
	if err := d.applySamples(ctx, sim); err != nil {
		return err
	}
	if _, err := d.env.StartManager(ctx, localenv.ManagerOptions{}); err != nil {
		return err
	}
	d.started = time.Now()
	d.goal = newGoal(d.samples, d.cfg.requireChild)
	d.info = d.infoLines()
	return nil
}

func (d *demo) samplesPath() string {
	if d.cfg.samples != "" {
		return d.cfg.samples
	}
	return filepath.Join(d.env.Root, "config", "samples")
}

// startControlPlaneAndBuild starts the control plane while the manager
// and simulator build, and versitygw if the samples have a storage.
func (d *demo) startControlPlaneAndBuild(ctx context.Context) error {
	d.printf("control plane: kube-apiserver, etcd and kubectl v1.37.1 from hack/controlplane.sh " +
		"(the first run builds them from source, 6 to 8 minutes; later runs reuse the cache)")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		_, err := d.env.StartControlPlane(gctx, localenv.ControlPlaneOptions{})
		return err
	})
	g.Go(func() error {
		_, err := d.env.Build(gctx)
		return err
	})
	if len(d.samples.storages) > 0 {
		g.Go(func() error {
			var err error
			d.versityGW, err = localenv.EnsureVersityGW(gctx, d.env.Root, d.out)
			return err
		})
	}
	return g.Wait()
}

// startVersityGW starts the S3 gateway the sample storages point at, with
// their buckets, if there are any.
func (d *demo) startVersityGW(ctx context.Context) error {
	if len(d.samples.storages) == 0 {
		return nil
	}
	gw, err := d.env.StartVersityGW(ctx, localenv.VersityGWOptions{
		Binary: d.versityGW, Region: d.samples.storageRegion(), Buckets: d.samples.buckets(),
	})
	if err != nil {
		return err
	}
	d.gw = gw
	d.printf("versitygw (S3 gateway, files in %s) at %s: bucket %s, region %s", filepath.Join(gw.Dir, "buckets"),
		gw.URL, strings.Join(d.samples.buckets(), ", "), gw.Region)
	return nil
}

// applySamples creates the namespace and the credentials Secrets, then
// applies the samples pointed at the simulator.
func (d *demo) applySamples(ctx context.Context, sim *localenv.Simulator) error {
	c := d.env.ControlPlane.Client
	if err := localenv.CreateNamespace(ctx, c, d.cfg.namespace); err != nil {
		return err
	}
	for _, name := range d.samples.secretNames {
		if err := localenv.CreateCredentialsSecret(ctx, c, d.cfg.namespace, name, sim.AccessKey, sim.SecretKey); err != nil {
			return err
		}
		d.printf("created Secret %s/%s with the simulator's access key pair", d.cfg.namespace, name)
	}
	for _, name := range d.samples.storageSecretNames {
		if err := localenv.CreateCredentialsSecret(ctx, c, d.cfg.namespace, name, d.gw.AccessKey, d.gw.SecretKey); err != nil {
			return err
		}
		d.printf("created Secret %s/%s with versitygw's access key pair", d.cfg.namespace, name)
	}
	changes, err := d.samples.pointAt(sim)
	if err != nil {
		return err
	}
	if d.gw != nil {
		storageChanges, err := d.samples.pointStoragesAt(d.gw)
		if err != nil {
			return err
		}
		changes = append(storageChanges, changes...)
	}
	if d.cfg.schedule != "" {
		if d.scheduleNotes, err = d.samples.overrideSchedules(d.cfg.schedule); err != nil {
			return err
		}
	}
	for _, line := range append(changes, d.scheduleNotes...) {
		d.printf("  %s", line)
	}
	if err := localenv.Apply(ctx, c, d.cfg.namespace, d.samples.objects...); err != nil {
		return err
	}
	d.printf("applied %s to namespace %s", d.samples.describe(), d.cfg.namespace)
	return nil
}

// infoLines tell a person how to look at the demo from another terminal.
func (d *demo) infoLines() []string {
	cp, sim, mgr := d.env.ControlPlane, d.env.Simulator, d.env.Manager
	kubectl := cp.KubectlPath + " --kubeconfig " + cp.KubeconfigPath
	lines := []string{
		"kubeconfig:  " + cp.KubeconfigPath,
		"watch:       " + kubectl + " get dcs -A -w",
		"or:          export KUBECONFIG=" + cp.KubeconfigPath + "; alias kubectl=" + cp.KubectlPath,
	}
	if name := d.samples.firstBackup(); name != "" {
		lines = append(lines, "then:        kubectl describe dcsbackup "+name)
	}
	if name := d.samples.firstSchedule(); name != "" {
		lines = append(lines, "run now:     kubectl annotate dcsbackupschedule "+name+
			" backup.dcs-operator.dev/run-now=$(date +%s) --overwrite")
	}
	if name := d.samples.firstExport(); name != "" && d.gw != nil {
		bucket, path := d.samples.exportPath(name, d.cfg.namespace)
		lines = append(lines, "export:      ls -l "+d.gw.ObjectPath(bucket, path)+
			"   (where DCSBackup "+name+" is copied: bucket "+bucket+" of versitygw at "+d.gw.URL+")")
	}
	pointed, logs, stops := "connections pointed at the simulator", mgr.LogPath()+", "+sim.Process().LogPath(),
		"the operator, the simulator, kube-apiserver and etcd"
	if d.gw != nil {
		pointed += ", storages at versitygw"
		logs += ", " + d.gw.Process().LogPath()
		stops = "the operator, the simulator, versitygw, kube-apiserver and etcd"
	}
	lines = append(lines, "samples:     "+d.samples.describe()+" in namespace "+d.cfg.namespace+", "+pointed)
	for _, note := range d.scheduleNotes {
		lines = append(lines, "             "+note)
	}
	return append(lines,
		"simulator:   "+sim.URL+"   admin: curl "+sim.AdminURL()+"stats  ("+sim.AdminURL()+"backups)",
		"logs:        "+logs,
		"Ctrl-C stops "+stops+".",
	)
}

// watch shows the state every refresh until ctx ends, --for runs out, the
// goal is reached (--until-succeeded) or the operator exits.
func (d *demo) watch(ctx context.Context) error {
	ticker := time.NewTicker(d.cfg.refresh)
	defer ticker.Stop()
	var deadline <-chan time.Time
	if d.cfg.runFor > 0 {
		timer := time.NewTimer(d.cfg.runFor)
		defer timer.Stop()
		deadline = timer.C
	}
	view := &view{out: d.out, terminal: d.terminal, info: d.info, started: d.started}
	for {
		snap := d.snapshot(ctx)
		d.applyRestores(ctx, snap)
		status := d.goal.check(snap)
		view.show(snap, status)
		if done, err := d.finished(status); done {
			return err
		}
		select {
		case <-ctx.Done():
			d.printf("interrupted")
			return nil
		case <-deadline:
			return d.timedOut(status)
		case <-d.env.Manager.Done():
			return fmt.Errorf("the operator exited (%v); its log: %s", d.env.Manager.Wait(), d.env.Manager.LogPath())
		case <-ticker.C:
		}
	}
}

// applyRestores applies each sample DCSRestore once the DCSBackup it
// restores succeeded, as a person would: a restore needs a backup.
func (d *demo) applyRestores(ctx context.Context, snap snapshot) {
	for _, obj := range d.samples.restores {
		name := obj.GetName()
		b := snap.backup(d.samples.restoreOf[name])
		if d.restoresApplied[name] || b == nil || b.Status.Phase != backupv1alpha1.PhaseSucceeded {
			continue
		}
		if err := localenv.Apply(ctx, d.env.ControlPlane.Client, d.cfg.namespace, obj.DeepCopy()); err != nil {
			d.printf("applying DCSRestore %s: %v (trying again)", name, err)
			continue
		}
		if d.restoresApplied == nil {
			d.restoresApplied = map[string]bool{}
		}
		d.restoresApplied[name] = true
		d.printf("DCSBackup %s succeeded: applied DCSRestore %s (kubectl wait --for=condition=Succeeded dcsrestore/%s)",
			b.Name, name, name)
	}
}

// finished says whether the run is over because of the goal's status.
func (d *demo) finished(status goalStatus) (bool, error) {
	if !d.cfg.untilSucceeded {
		return false, nil
	}
	if status.failed != "" {
		return true, errors.New(status.failed)
	}
	if status.done {
		d.printf("demo: OK after %s: %s", time.Since(d.started).Round(time.Second), status.summary)
		return true, nil
	}
	return false, nil
}

func (d *demo) timedOut(status goalStatus) error {
	if !d.cfg.untilSucceeded {
		d.printf("ran for %s", d.cfg.runFor)
		return nil
	}
	return fmt.Errorf("not done after %s: still waiting for %s", d.cfg.runFor, strings.Join(status.pending, "; "))
}

// stop stops everything and checks that no child process is left.
func (d *demo) stop() error {
	if d.env == nil {
		return nil
	}
	err := d.env.Stop()
	left, perr := localenv.ChildPIDs()
	switch {
	case perr != nil:
		d.printf("stopped (could not check for leftover processes: %v)", perr)
	case len(left) > 0:
		err = errors.Join(err, fmt.Errorf("processes still running after stop: %v", left))
	default:
		d.printf("stopped: nothing left running")
	}
	if d.cfg.keep {
		d.printf("state kept in %s", d.env.Dir)
	}
	return err
}
