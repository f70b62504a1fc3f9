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
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

type restoreOptions struct {
	*options
	target           string
	passwordSecret   string
	name             string
	remark           string
	fromExport       bool
	preRestoreBackup bool
	yes              bool
	wait             bool
	timeout          time.Duration
}

func (o *options) restoreCommand() *cobra.Command {
	ro := &restoreOptions{options: o}
	cmd := &cobra.Command{
		Use:   "restore BACKUP",
		Short: "Restore a DCSBackup into its instance or another one, and follow the restore",
		Long: `Restore a DCSBackup of the namespace: create a DCSRestore and follow it until it ends.

Without --target-instance the backup is restored into its own instance, in place: the
instance's data is replaced. With --target-instance it is imported into that instance (same
project and region): the keys the backup holds are overwritten. By default the target is
backed up first (a DCSBackup named <restore>-pre), so a wrong restore can be undone.

A restore is destructive: on a terminal it asks before it starts; without a terminal it
refuses unless --yes is given. The exit code is non-zero when the restore failed.`,
		Example: `  kubectl dcs restore orders-before-upgrade
  kubectl dcs restore orders-nightly-202611300200 --target-instance 7c0e3f52-3a1d-4bd6-9c44-0f7ad3e9b1a2 \
      --target-password-secret staging-redis:password --yes
  kubectl dcs restore orders-nightly-202611300200 --from-export --target-instance 7c0e3f52-3a1d-4bd6-9c44-0f7ad3e9b1a2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ro.run(cmd.Context(), args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&ro.target, "target-instance", "", "DCS instance to restore into (default: the backup's own, in place)")
	f.StringVar(&ro.passwordSecret, "target-password-secret", "",
		"SECRET:KEY of the target's Redis password, if it has one (key default: password)")
	f.StringVar(&ro.name, "name", "", "name of the DCSRestore (default: the backup's name and the time)")
	f.StringVar(&ro.remark, "remark", "", "remark passed to DCS with the restore")
	f.BoolVar(&ro.fromExport, "from-export", false,
		"restore the backup's export (its copy in a bucket, status.export) instead of the backup in DCS")
	f.BoolVar(&ro.preRestoreBackup, "pre-restore-backup", true, "back up the target first (DCSBackup <restore>-pre)")
	f.BoolVarP(&ro.yes, "yes", "y", false, "do not ask for confirmation")
	f.BoolVar(&ro.wait, "wait", true, "follow the restore until it ends")
	f.DurationVar(&ro.timeout, "timeout", time.Hour, "how long to follow the restore (0: no limit)")
	return cmd
}

func (ro *restoreOptions) run(ctx context.Context, backupName string) error {
	c, err := ro.newClient()
	if err != nil {
		return err
	}
	ns, err := ro.namespace()
	if err != nil {
		return err
	}
	var b backupv1alpha1.DCSBackup
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: backupName}, &b); err != nil {
		return notFound(err, "DCSBackup", ns, backupName)
	}
	r, err := ro.restoreOf(&b)
	if err != nil {
		return err
	}
	if err := ro.confirm(&b, r); err != nil {
		return err
	}
	if err := c.Create(ctx, r); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("DCSRestore %q already exists in namespace %q (a restore runs once): choose another --name", r.Name, ns)
		}
		return fmt.Errorf("create DCSRestore %s/%s: %w", ns, r.Name, err)
	}
	ro.printf("dcsrestore/%s created\n", r.Name)
	if !ro.wait {
		return nil
	}
	if ro.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ro.timeout)
		defer cancel()
	}
	return ro.follow(ctx, c, r)
}

// restoreOf is the DCSRestore of b the flags describe, after checking that
// b can be restored.
func (ro *restoreOptions) restoreOf(b *backupv1alpha1.DCSBackup) (*backupv1alpha1.DCSRestore, error) {
	if err := restorable(b); err != nil {
		return nil, err
	}
	name := ro.name
	if name == "" {
		name = backupv1alpha1.ScheduleChildName(b.Name, "restore-"+ro.now().UTC().Format("20060102150405"))
	}
	r := &backupv1alpha1.DCSRestore{
		ObjectMeta: metav1.ObjectMeta{Namespace: b.Namespace, Name: name},
		Spec: backupv1alpha1.DCSRestoreSpec{
			BackupRef:        &backupv1alpha1.LocalObjectReference{Name: b.Name},
			PreRestoreBackup: ro.preRestoreBackup,
			Remark:           ro.remark,
		},
	}
	if ro.fromExport {
		e := b.Status.Export
		if e == nil || e.Phase != backupv1alpha1.ExportPhaseSucceeded {
			return nil, fmt.Errorf("--from-export: DCSBackup %q has no complete export (status.export.phase is %s)",
				b.Name, exportPhase(b))
		}
		r.Spec.BackupRef = nil
		r.Spec.Source = &backupv1alpha1.RestoreSource{
			Export:     &backupv1alpha1.ExportSource{StorageRef: backupv1alpha1.LocalObjectReference{Name: e.Storage}, Path: e.Path},
			Connection: b.Spec.Connection,
		}
	}
	if ro.target != "" && (ro.target != b.Spec.InstanceID || ro.fromExport) {
		r.Spec.Target = &backupv1alpha1.RestoreTarget{InstanceID: ro.target}
	}
	if ro.passwordSecret != "" {
		if r.Spec.Target == nil {
			return nil, errors.New("--target-password-secret is for a restore into another instance (--target-instance)")
		}
		secret, key, _ := strings.Cut(ro.passwordSecret, ":")
		if key == "" {
			key = "password"
		}
		r.Spec.Target.PasswordSecretRef = &backupv1alpha1.SecretKeySelector{Name: secret, Key: key}
	}
	return r, nil
}

// restorable refuses a backup that will never be restorable; one still
// running is fine: the restore waits for it.
func restorable(b *backupv1alpha1.DCSBackup) error {
	switch {
	case b.Status.Phase == backupv1alpha1.PhaseSucceeded && !b.Status.Restorable:
		return fmt.Errorf("DCSBackup %q cannot be restored: DCS reports it is not restorable (status.restorable is false)", b.Name)
	case b.Status.Phase != backupv1alpha1.PhaseSucceeded && finished(b.Status.Phase):
		return fmt.Errorf("DCSBackup %q cannot be restored: %v", b.Name, backupFailure(b))
	}
	return nil
}

func exportPhase(b *backupv1alpha1.DCSBackup) string {
	if b.Status.Export == nil || b.Status.Export.Phase == "" {
		return "not set"
	}
	return string(b.Status.Export.Phase)
}

// confirm says what the restore will do and, unless --yes, asks on the
// terminal; without a terminal there is no one to ask, so it refuses.
func (ro *restoreOptions) confirm(b *backupv1alpha1.DCSBackup, r *backupv1alpha1.DCSRestore) error {
	ro.printf("%s\n", describeRestore(b, r))
	if ro.yes {
		return nil
	}
	f, ok := ro.streams.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return errors.New("a restore overwrites data: confirm with --yes (standard input is not a terminal to ask on)")
	}
	_, _ = fmt.Fprint(ro.streams.ErrOut, "Restore? Type yes to go on: ")
	answer, err := bufio.NewReader(ro.streams.In).ReadString('\n')
	if err != nil && answer == "" {
		return fmt.Errorf("no answer: %w", err)
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "yes" && a != "y" {
		return errors.New("not restored")
	}
	return nil
}

// describeRestore says in a few lines what r will do to which instance.
func describeRestore(b *backupv1alpha1.DCSBackup, r *backupv1alpha1.DCSRestore) string {
	var sb strings.Builder
	source := fmt.Sprintf("dcsbackup/%s (instance %s", b.Name, b.Spec.InstanceID)
	if b.Status.BackupName != "" {
		source += ", DCS backup " + b.Status.BackupName
	}
	if b.Status.CompletedAt != nil {
		source += ", completed " + b.Status.CompletedAt.UTC().Format(time.RFC3339)
	}
	source += ")"
	if r.Spec.Source != nil && r.Spec.Source.Export != nil {
		source = fmt.Sprintf("the export of %s in dcsbackupstorage/%s, path %s", source,
			r.Spec.Source.Export.StorageRef.Name, r.Spec.Source.Export.Path)
	}
	fmt.Fprintf(&sb, "Restore %s in namespace %s\n", source, b.Namespace)
	switch {
	case r.Spec.Target != nil:
		fmt.Fprintf(&sb, "  into instance %s (import: the keys the backup holds are overwritten)\n", r.Spec.Target.InstanceID)
	case r.Spec.Source != nil:
		sb.WriteString("  into the instance its manifest names (import: the keys the backup holds are overwritten)\n")
	default:
		fmt.Fprintf(&sb, "  into instance %s, in place: ITS DATA IS REPLACED by the backup's\n", b.Spec.InstanceID)
	}
	if r.Spec.PreRestoreBackup {
		fmt.Fprintf(&sb, "  after backing the target up as dcsbackup/%s-pre\n", r.Name)
	} else {
		sb.WriteString("  without backing the target up first (--pre-restore-backup=false)\n")
	}
	fmt.Fprintf(&sb, "  as dcsrestore/%s", r.Name)
	return sb.String()
}

// follow prints the restore's progress until it ends.
func (ro *restoreOptions) follow(ctx context.Context, c client.WithWatch, r *backupv1alpha1.DCSRestore) error {
	p := newProgressPrinter(ro.options)
	var last *backupv1alpha1.DCSRestore
	err := until(ctx, c, &backupv1alpha1.DCSRestoreList{}, "DCSRestore", func(cur *backupv1alpha1.DCSRestore) (bool, error) {
		last = cur
		p.show("dcsrestore/"+cur.Name, restoreState(cur))
		return cur.Status.Phase == backupv1alpha1.RestorePhaseSucceeded || cur.Status.Phase == backupv1alpha1.RestorePhaseFailed, nil
	}, client.InNamespace(r.Namespace), nameIs(r.Name))
	err = timedOut(ctx, err, ro.timeout, func() string {
		state := "not seen yet"
		if last != nil {
			state = restoreState(last)
		}
		return fmt.Sprintf("dcsrestore/%s (%s)", r.Name, state)
	}, goesOn)
	if err != nil {
		return err
	}
	if last.Status.Phase != backupv1alpha1.RestorePhaseSucceeded {
		msg := ""
		if c := meta.FindStatusCondition(last.Status.Conditions, backupv1alpha1.ConditionSucceeded); c != nil {
			msg = ": " + c.Reason + ": " + c.Message
		}
		return fmt.Errorf("dcsrestore/%s ended %s%s", last.Name, last.Status.Phase, msg)
	}
	return nil
}

// restoreState is how a following line shows a restore.
func restoreState(r *backupv1alpha1.DCSRestore) string {
	st := r.Status
	s := string(st.Phase)
	if s == "" {
		s = "New"
	}
	switch st.Phase {
	case backupv1alpha1.RestorePhaseRestoring:
		if st.Progress != "" {
			s += " " + st.Progress + "%"
		}
	case backupv1alpha1.RestorePhaseBackingUp:
		s += " (dcsbackup/" + st.PreRestoreBackup + ")"
	case backupv1alpha1.RestorePhaseSucceeded:
		s += fmt.Sprintf(" (%s restore of DCS backup %s into instance %s)", kindText(st.Kind), st.BackupID, st.InstanceID)
	}
	for _, t := range []string{backupv1alpha1.ConditionSucceeded, backupv1alpha1.ConditionSynced} {
		c := meta.FindStatusCondition(st.Conditions, t)
		if c != nil && (c.Status == metav1.ConditionFalse && st.Phase != backupv1alpha1.RestorePhaseFailed ||
			c.Reason == backupv1alpha1.ReasonWaitingForBackup || c.Reason == backupv1alpha1.ReasonWaitingForInstance) {
			s += " [" + t + "=" + string(c.Status) + " " + c.Reason + ": " + c.Message + "]"
		}
	}
	return s
}

func kindText(k backupv1alpha1.RestoreKind) string {
	if k == backupv1alpha1.RestoreKindImport {
		return "import"
	}
	return "in-place"
}
