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
	"fmt"
	"net/http/httptest"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs/simulator"
)

var nsCounter atomic.Int64

// simEnv is one spec's world: its own DCS simulator behind its own
// endpoint, and its own namespace with a credentials Secret.
type simEnv struct {
	sim    *simulator.Simulator
	url    string
	ns     string
	secret string
}

// newSimEnv starts a simulator with opts (instances are added by the specs)
// and a namespace holding credentials for it.
func newSimEnv(opts simulator.Options) *simEnv {
	if opts.Clock == nil {
		opts.Clock = testClock
	}
	sim := simulator.New(opts)
	srv := httptest.NewServer(sim)
	DeferCleanup(srv.Close)
	e := &simEnv{sim: sim, url: srv.URL, ns: fmt.Sprintf("spec-%d", nsCounter.Add(1)), secret: "dcs-credentials"}
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}})).To(Succeed())
	e.createSecret(simulator.DefaultAccessKey, simulator.DefaultSecretKey)
	return e
}

func (e *simEnv) createSecret(ak, sk string) {
	Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: e.secret, Namespace: e.ns},
		StringData: map[string]string{backupv1alpha1.SecretKeyAccessKey: ak, backupv1alpha1.SecretKeySecretKey: sk},
	})).To(Succeed())
}

// instance adds a RUNNING ha instance to the simulator and returns its id.
func (e *simEnv) instance(id string) string {
	e.sim.AddInstance(simulator.Instance{ID: id})
	return id
}

// spec returns a DCSBackup spec for an instance of this env.
func (e *simEnv) spec(instanceID string) backupv1alpha1.DCSBackupTemplateSpec {
	return backupv1alpha1.DCSBackupTemplateSpec{
		InstanceID: instanceID,
		Connection: backupv1alpha1.Connection{
			ProjectID:            simulator.DefaultProjectID,
			Endpoint:             e.url,
			CredentialsSecretRef: backupv1alpha1.SecretReference{Name: e.secret},
		},
	}
}

// backup creates a DCSBackup of instanceID; mods edit it before creation.
func (e *simEnv) backup(name, instanceID string, mods ...func(*backupv1alpha1.DCSBackup)) *backupv1alpha1.DCSBackup {
	b := &backupv1alpha1.DCSBackup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec:       backupv1alpha1.DCSBackupSpec{DCSBackupTemplateSpec: e.spec(instanceID)},
	}
	for _, m := range mods {
		m(b)
	}
	Expect(k8sClient.Create(ctx, b)).To(Succeed())
	return b
}

// fetch reads the backup from the API server (not a cache).
func fetch(g Gomega, b *backupv1alpha1.DCSBackup) *backupv1alpha1.DCSBackup {
	got := &backupv1alpha1.DCSBackup{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(b), got)).To(Succeed())
	return got
}

// cond returns a condition of the backup, or an empty one.
func cond(b *backupv1alpha1.DCSBackup, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(b.Status.Conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// haveCondition matches a condition's status and reason.
func expectCondition(g Gomega, b *backupv1alpha1.DCSBackup, typ string, status metav1.ConditionStatus, reason string) {
	c := cond(b, typ)
	g.ExpectWithOffset(1, c.Status).To(Equal(status), "%s condition: %+v", typ, c)
	g.ExpectWithOffset(1, c.Reason).To(Equal(reason), "%s condition: %+v", typ, c)
}

// eventReasons lists the reasons of the events about an object.
func eventReasons(g Gomega, obj client.Object) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(ctx, list, client.InNamespace(obj.GetNamespace()))).To(Succeed())
	var reasons []string
	for _, ev := range list.Items {
		if ev.Regarding.Name == obj.GetName() && ev.Regarding.UID == obj.GetUID() {
			reasons = append(reasons, ev.Reason)
		}
	}
	return reasons
}

// simBackupsOf returns the simulator's records of an instance.
func simBackupsOf(sim *simulator.Simulator, instanceID string) []simulator.BackupRecord {
	var out []simulator.BackupRecord
	for _, b := range sim.Backups() {
		if b.InstanceID == instanceID {
			out = append(out, b)
		}
	}
	return out
}
