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

// Package plugin is the kubectl plugin of the operator, kubectl dcs: a view
// of the schedules and their instances, backups on demand and restores,
// through the operator's custom resources only. It never talks to DCS and
// needs no DCS credentials: the operator does the work, the plugin creates
// and reads the resources that ask for it.
package plugin

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/version"
)

// NewCommand returns the kubectl dcs command with its subcommands and the
// standard kubectl flags (--kubeconfig, --context, -n/--namespace, ...).
// Errors are returned by Execute, not printed: the caller prints them and
// sets the exit code.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return newCommand(streams, nil, time.Now)
}

// newCommand is NewCommand with a client (nil: the one the kubectl flags
// describe) and a clock of the caller's, for tests.
func newCommand(streams genericiooptions.IOStreams, c client.WithWatch, now func() time.Time) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true).WithWarningPrinter(streams)
	o := &options{streams: streams, config: flags, now: now, newClient: func() (client.WithWatch, error) { return c, nil }}
	if c == nil {
		o.newClient = o.clientFromFlags
	}
	cmd := o.rootCommand()
	flags.AddFlags(cmd.PersistentFlags())
	return cmd
}

// options is what every subcommand shares: where to write, how to reach
// the cluster, and the clock.
type options struct {
	streams   genericiooptions.IOStreams
	config    *genericclioptions.ConfigFlags
	newClient func() (client.WithWatch, error)
	now       func() time.Time
}

func (o *options) rootCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kubectl-dcs",
		Short: "Back up and restore DCS (managed Redis) instances with the dcs-backup-operator",
		Long: `kubectl dcs shows and drives the dcs-backup-operator's resources: a fleet view of the
schedules and their instances, backups on demand, and restores. It only creates and reads
DCSBackupSchedules, DCSBackups and DCSRestores; the operator talks to DCS.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// kubectl runs plugins as kubectl-dcs; help shows it as kubectl dcs.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl dcs"},
	}
	cmd.SetIn(o.streams.In)
	cmd.SetOut(o.streams.Out)
	cmd.SetErr(o.streams.ErrOut)
	cmd.AddCommand(o.statusCommand(), o.backupCommand(), o.restoreCommand(), o.versionCommand())
	return cmd
}

// versionCommand prints the plugin's build, stamped in by the linker like
// the manager's (make build-plugin, the release archives).
func (o *options) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version, commit and build date",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			i := version.Get()
			o.printf("kubectl-dcs %s (commit %s, %s, %s)\n", i.Version, i.Commit, i.Date, i.GoVersion)
		},
	}
}

// clientFromFlags makes a client of the cluster the kubectl flags name.
func (o *options) clientFromFlags() (client.WithWatch, error) {
	cfg, err := o.config.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	return newClient(cfg)
}

// newClient makes an uncached client that knows the operator's API.
func newClient(cfg *rest.Config) (client.WithWatch, error) {
	scheme := runtime.NewScheme()
	if err := backupv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.NewWithWatch(cfg, client.Options{Scheme: scheme})
}

// namespace is the namespace of -n, else of the kubeconfig's context.
func (o *options) namespace() (string, error) {
	ns, _, err := o.config.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("namespace: %w", err)
	}
	return ns, nil
}

// printf writes a line for the user; a failed write to the terminal is
// not worth an error of its own.
func (o *options) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(o.streams.Out, format, args...)
}
