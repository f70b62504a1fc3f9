package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// instanceIDs names n simulator instances of a run.
func instanceIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-i%04d", prefix, i)
	}
	return ids
}

// templateSpec is the DCSBackup spec of every benchmark backup on an
// instance: the simulator's endpoint and project, the run's Secret.
func (r *runEnv) templateSpec(instanceID string) backupv1alpha1.DCSBackupTemplateSpec {
	return backupv1alpha1.DCSBackupTemplateSpec{
		InstanceID: instanceID,
		Connection: backupv1alpha1.Connection{
			ProjectID:            r.sim.ProjectID,
			Endpoint:             r.sim.URL,
			CredentialsSecretRef: backupv1alpha1.SecretReference{Name: secretName},
		},
	}
}

// backup is a DCSBackup named after its instance and its place in the
// instance's queue.
func (r *runEnv) backup(instanceID string, seq int) *backupv1alpha1.DCSBackup {
	return &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: fmt.Sprintf("%s-%03d", instanceID, seq)},
		Spec:       backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: r.templateSpec(instanceID)},
	}
}

// createAll creates objs with parallel calls, so that creating them is not
// what a scenario measures. It returns on the first error.
func createAll[T client.Object](ctx context.Context, c client.Client, workers int, objs []T) error {
	return forEach(ctx, workers, objs, func(ctx context.Context, o T) error {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("create %s: %w", o.GetName(), err)
		}
		return nil
	})
}

// forEach runs fn over items with parallel workers.
func forEach[T any](ctx context.Context, workers int, items []T, fn func(context.Context, T) error) error {
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range min(workers, len(items)) {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(items) {
					return nil
				}
				if err := fn(ctx, items[i]); err != nil {
					return err
				}
			}
		})
	}
	return g.Wait()
}
