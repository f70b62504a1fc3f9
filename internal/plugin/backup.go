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

package plugin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

type backupOptions struct {
	*options
	instance       string
	connectionFrom string
	name           string
	format         string
	remark         string
	wait           bool
	timeout        time.Duration
}

func (o *options) backupCommand() *cobra.Command {
	bo := &backupOptions{options: o}
	cmd := &cobra.Command{
		Use:   "backup (SCHEDULE | --instance ID --connection-from KIND/NAME)",
		Short: "Back up now: run a schedule, or make a one-off DCSBackup of an instance",
		Long: `Back up now.

With a DCSBackupSchedule's name, start one run of it now, as the run-now annotation does
(backup.dcs-operator.dev/run-now set to a new value), and name the DCSBackup(s) the operator
creates for it: one, or one per instance of a fleet schedule.

With --instance, create a one-off DCSBackup of that DCS instance, with the connection
(project, region or endpoint, API version, credentials Secret) of an existing
DCSBackupSchedule or DCSBackup of the namespace (--connection-from).

With --wait, follow the backup(s) until they end; the exit code is non-zero when one failed.`,
		Example: `  kubectl dcs backup orders-nightly --wait
  kubectl dcs backup --instance 5560df16-cebf-4473-95c4-d1b573c16e79 --connection-from schedule/orders-nightly
  kubectl dcs backup --instance 5560df16-cebf-4473-95c4-d1b573c16e79 --connection-from dcsbackup/orders-before-upgrade \
      --name orders-before-migration --wait --timeout 1h`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return bo.run(cmd.Context(), args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&bo.instance, "instance", "", "DCS instance ID of a one-off backup (needs --connection-from)")
	f.StringVar(&bo.connectionFrom, "connection-from", "",
		"schedule/NAME or backup/NAME (or a bare name): whose spec.connection a one-off backup copies")
	f.StringVar(&bo.name, "name", "", "name of the one-off DCSBackup (default: the instance ID and the time)")
	f.StringVar(&bo.format, "format", "", "format of the one-off backup: rdb or aof (default: the operator's, rdb)")
	f.StringVar(&bo.remark, "remark", "", "remark stored with the one-off backup in DCS")
	f.BoolVar(&bo.wait, "wait", false, "follow the backup(s) until they end; exit non-zero if one failed")
	f.DurationVar(&bo.timeout, "timeout", 30*time.Minute, "how long to wait for the run to start and, with --wait, to end (0: no limit)")
	return cmd
}

func (bo *backupOptions) validate(args []string) error {
	switch {
	case len(args) == 1 && bo.instance != "":
		return errors.New("name a schedule or give --instance, not both")
	case len(args) == 0 && bo.instance == "":
		return errors.New("name a DCSBackupSchedule to run now, or give --instance and --connection-from for a one-off backup")
	case bo.instance != "" && bo.connectionFrom == "":
		return errors.New("--connection-from is required with --instance: the schedule or backup whose connection to use")
	case bo.instance == "" && (bo.connectionFrom != "" || bo.name != "" || bo.format != "" || bo.remark != ""):
		return errors.New("--connection-from, --name, --format and --remark are for one-off backups (--instance); " +
			"a schedule's run takes them from its template")
	case bo.format != "" && bo.format != string(backupv1alpha1.BackupFormatRDB) && bo.format != string(backupv1alpha1.BackupFormatAOF):
		return fmt.Errorf("--format %q: use rdb or aof", bo.format)
	}
	return nil
}

func (bo *backupOptions) run(ctx context.Context, args []string) error {
	if err := bo.validate(args); err != nil {
		return err
	}
	c, err := bo.newClient()
	if err != nil {
		return err
	}
	ns, err := bo.namespace()
	if err != nil {
		return err
	}
	if bo.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, bo.timeout)
		defer cancel()
	}
	var names []string
	var opts []client.ListOption
	if len(args) == 1 {
		if names, err = bo.runNow(ctx, c, ns, args[0]); err != nil {
			return err
		}
		opts = []client.ListOption{client.MatchingLabels{backupv1alpha1.LabelSchedule: args[0]}}
	} else {
		b, err := bo.oneOff(ctx, c, ns)
		if err != nil {
			return err
		}
		names = []string{b.Name}
		opts = []client.ListOption{nameIs(b.Name)}
	}
	if !bo.wait {
		return nil
	}
	return bo.followBackups(ctx, c, ns, names, bo.timeout, opts...)
}

// runNow sets the schedule's run-now annotation to a new token, waits until
// the operator acted on it, and returns the DCSBackups of the run.
func (bo *backupOptions) runNow(ctx context.Context, c client.WithWatch, ns, name string) ([]string, error) {
	var s backupv1alpha1.DCSBackupSchedule
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		return nil, notFound(err, "DCSBackupSchedule", ns, name)
	}
	token, err := newToken(bo.now())
	if err != nil {
		return nil, err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{backupv1alpha1.AnnotationRunNow: token}}})
	if err != nil {
		return nil, err
	}
	if err := c.Patch(ctx, &s, client.RawPatch(client.Merge.Type(), patch)); err != nil {
		return nil, fmt.Errorf("set the run-now annotation of dcsbackupschedule/%s: %w", name, err)
	}
	bo.printf("dcsbackupschedule/%s: run requested (%s=%s)\n", name, backupv1alpha1.AnnotationRunNow, token)
	if err := bo.waitRunStarted(ctx, c, &s, token); err != nil {
		return nil, err
	}
	names, err := runChildren(ctx, c, &s, token)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("the run of dcsbackupschedule/%s made no backup: no instance it selects can be backed up "+
			"(see kubectl dcs status %s)", name, name)
	}
	for _, n := range names {
		bo.printf("dcsbackup/%s created\n", n)
	}
	return names, nil
}

// newToken is a run-now value no one used before: the time and a random part.
func newToken(now time.Time) (string, error) {
	random := make([]byte, 4)
	if _, err := rand.Read(random); err != nil {
		return "", err
	}
	return "kubectl-dcs-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(random), nil
}

// waitRunStarted follows the schedule until its status records the token
// (the operator records it in the write after creating the run's backups),
// telling the user why it may not start.
func (bo *backupOptions) waitRunStarted(ctx context.Context, c client.WithWatch, s *backupv1alpha1.DCSBackupSchedule,
	token string) error {
	p := newProgressPrinter(bo.options)
	last := s
	err := until(ctx, c, &backupv1alpha1.DCSBackupScheduleList{}, "DCSBackupSchedule",
		func(cur *backupv1alpha1.DCSBackupSchedule) (bool, error) {
			last = cur
			if cur.Status.LastRunNowToken == token {
				return true, nil
			}
			if v := cur.Annotations[backupv1alpha1.AnnotationRunNow]; v != token {
				return false, fmt.Errorf("the run-now annotation of dcsbackupschedule/%s was changed to %q before the operator "+
					"acted on this run; see kubectl dcs status %s", cur.Name, v, cur.Name)
			}
			if c := meta.FindStatusCondition(cur.Status.Conditions, backupv1alpha1.ConditionReady); c != nil &&
				c.Status != metav1.ConditionTrue {
				p.show("dcsbackupschedule/"+cur.Name, "waiting for the run; not Ready: "+c.Reason+": "+c.Message)
			}
			return false, nil
		}, client.InNamespace(s.Namespace), nameIs(s.Name))
	return timedOut(ctx, err, bo.timeout, func() string {
		msg := "the operator to start the run of dcsbackupschedule/" + s.Name
		if c := meta.FindStatusCondition(last.Status.Conditions, backupv1alpha1.ConditionReady); c != nil &&
			c.Status != metav1.ConditionTrue {
			msg += " (Ready: " + c.Reason + ": " + c.Message + ")"
		}
		return msg
	}, "is the operator running? The annotation stays set: the run starts when the operator gets to it")
}

// runChildren are the DCSBackups the operator made for a run-now token:
// named after the token (api/v1alpha1's naming), and for a fleet one per
// instance it could back up.
func runChildren(ctx context.Context, c client.Client, s *backupv1alpha1.DCSBackupSchedule, token string) ([]string, error) {
	// Read the schedule as it was when it recorded the token: its list of
	// instances is the one the run used.
	if err := c.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
		return nil, notFound(err, "DCSBackupSchedule", s.Namespace, s.Name)
	}
	if s.Spec.InstanceSelector == nil {
		return []string{backupv1alpha1.RunNowChildName(s.Name, token)}, nil
	}
	run := backupv1alpha1.RunNowRun(token)
	var names []string
	for _, e := range s.Status.Instances {
		if e.Skipped != "" {
			continue
		}
		name := backupv1alpha1.FleetChildName(s.Name, run, e.InstanceID)
		err := c.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: name}, &backupv1alpha1.DCSBackup{})
		switch {
		case apierrors.IsNotFound(err):
			// Selected after the run: it is not part of it.
		case err != nil:
			return nil, fmt.Errorf("get DCSBackup %s/%s: %w", s.Namespace, name, err)
		default:
			names = append(names, name)
		}
	}
	return names, nil
}

// oneOff creates a DCSBackup of --instance with the connection of
// --connection-from.
func (bo *backupOptions) oneOff(ctx context.Context, c client.Client, ns string) (*backupv1alpha1.DCSBackup, error) {
	conn, from, err := connectionFrom(ctx, c, ns, bo.connectionFrom)
	if err != nil {
		return nil, err
	}
	name := bo.name
	if name == "" {
		name = backupv1alpha1.ScheduleChildName(backupv1alpha1.InstanceNameSuffix(bo.instance),
			bo.now().UTC().Format("20060102150405"))
	}
	b := &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: backupv1alpha1.DCSBackupTemplateSpec{
			InstanceID: bo.instance, Connection: conn, Format: backupv1alpha1.BackupFormat(bo.format), Remark: bo.remark,
		}},
	}
	if err := c.Create(ctx, b); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("DCSBackup %q already exists in namespace %q: choose another --name", name, ns)
		}
		return nil, fmt.Errorf("create DCSBackup %s/%s: %w", ns, name, err)
	}
	bo.printf("dcsbackup/%s created (instance %s, connection of %s)\n", name, bo.instance, from)
	return b, nil
}

// connectionFrom reads spec.connection of the schedule or backup ref names:
// KIND/NAME (schedule, dcsbackupschedule, dcsbs; backup, dcsbackup, dcsb)
// or a bare name, which must name exactly one of the two.
func connectionFrom(ctx context.Context, c client.Client, ns, ref string) (backupv1alpha1.Connection, string, error) {
	kind, name, found := strings.Cut(ref, "/")
	if !found {
		kind, name = "", ref
	}
	var s backupv1alpha1.DCSBackupSchedule
	var b backupv1alpha1.DCSBackup
	key := client.ObjectKey{Namespace: ns, Name: name}
	switch strings.ToLower(kind) {
	case "schedule", "dcsbackupschedule", "dcsbackupschedules", "dcsbs":
		if err := c.Get(ctx, key, &s); err != nil {
			return backupv1alpha1.Connection{}, "", fmt.Errorf("--connection-from: %w", notFound(err, "DCSBackupSchedule", ns, name))
		}
		return s.Spec.Template.Spec.Connection, "dcsbackupschedule/" + name, nil
	case "backup", "dcsbackup", "dcsbackups", "dcsb":
		if err := c.Get(ctx, key, &b); err != nil {
			return backupv1alpha1.Connection{}, "", fmt.Errorf("--connection-from: %w", notFound(err, "DCSBackup", ns, name))
		}
		return b.Spec.Connection, "dcsbackup/" + name, nil
	case "":
	default:
		return backupv1alpha1.Connection{}, "", fmt.Errorf("--connection-from %q: use schedule/NAME or backup/NAME", ref)
	}
	sErr, bErr := c.Get(ctx, key, &s), c.Get(ctx, key, &b)
	switch {
	case sErr == nil && bErr == nil:
		return backupv1alpha1.Connection{}, "", fmt.Errorf("--connection-from %q names a DCSBackupSchedule and a DCSBackup: "+
			"write schedule/%s or backup/%s", ref, name, name)
	case sErr == nil:
		return s.Spec.Template.Spec.Connection, "dcsbackupschedule/" + name, nil
	case bErr == nil:
		return b.Spec.Connection, "dcsbackup/" + name, nil
	case apierrors.IsNotFound(sErr) && apierrors.IsNotFound(bErr):
		return backupv1alpha1.Connection{}, "", fmt.Errorf("--connection-from: no DCSBackupSchedule or DCSBackup named %q "+
			"in namespace %q", name, ns)
	}
	return backupv1alpha1.Connection{}, "", fmt.Errorf("--connection-from: %w", errors.Join(sErr, bErr))
}
