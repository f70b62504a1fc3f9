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
	"flag"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// watchNamespaceSpecs run in the control plane of ownmanager_test.go, where
// no manager watches nsUnwatched. Manager B, cluster admin, could act there:
// only --watch-namespaces keeps it out.
func watchNamespaceSpecs(p *ownPlane) {
	It("leaves a namespace outside --watch-namespaces alone", func() {
		const inst = "outside"
		sim, url := p.sim(inst)
		p.goodSecret(nsUnwatched, "dcs-credentials")
		outside := p.backup(nsUnwatched, "outside", url, inst, "dcs-credentials", func(b *backupv1alpha1.DCSBackup) {
			b.Spec.DeletionPolicy = backupv1alpha1.DeletionPolicyDelete // a manager would add a finalizer at once
		})
		// The same backup in a watched namespace, at the same time, shows
		// the managers are at work meanwhile.
		controlSim, controlURL := p.sim(inst)
		p.goodSecret(nsBadInput, "control-credentials")
		control := p.backup(nsBadInput, "control", controlURL, inst, "control-credentials")
		Eventually(func(g Gomega) {
			expectCondition(g, p.fetch(g, control), backupv1alpha1.ConditionSucceeded, metav1.ConditionTrue,
				backupv1alpha1.ReasonBackupSucceeded)
		}).WithTimeout(20 * time.Second).Should(Succeed())
		Expect(controlSim.Stats().Total).To(BeNumerically(">", 0))

		Consistently(func(g Gomega) {
			got := p.fetch(g, outside)
			g.Expect(got.Status).To(Equal(backupv1alpha1.DCSBackupStatus{}))
			g.Expect(got.Finalizers).To(BeEmpty())
			g.Expect(sim.Stats().Total).To(BeZero())
			newEvents, oldEvents := &eventsv1.EventList{}, &corev1.EventList{}
			g.Expect(p.c.List(ctx, newEvents, client.InNamespace(nsUnwatched))).To(Succeed())
			g.Expect(p.c.List(ctx, oldEvents, client.InNamespace(nsUnwatched))).To(Succeed())
			g.Expect(newEvents.Items).To(BeEmpty())
			g.Expect(oldEvents.Items).To(BeEmpty())
		}).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
		for _, logs := range []*syncBuffer{p.logsA, p.logsB} {
			Expect(logs.String()).NotTo(ContainSubstring(`"`+nsUnwatched+`"`), "a manager logged about the namespace")
		}
	})

	It("runs a manager under exactly the expected grants, bound in its namespaces only", func() {
		// Manager A did its part of the specs above as a user with the
		// grants of wantManagerRole, bound by RoleBindings in the namespaces
		// it watches. A cache reaching outside them would never sync (the
		// specs would time out); a Forbidden answer to a controller's call
		// (a status write, an event, a Secret read) would be an error here.
		var errs []string
		for _, e := range p.logsA.entries() {
			if e["level"] == "error" {
				errs = append(errs, toJSON(e))
			}
		}
		Expect(errs).To(BeEmpty())
		Expect(p.logsA.String()).To(ContainSubstring(`"namespace":"` + nsSecurity + `"`))
	})
}

func TestWatchNamespacesFlag(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want []string
	}{
		{"", nil},
		{"shop", []string{"shop"}},
		{" shop, billing ,,", []string{"shop", "billing"}},
	} {
		var o Options
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		o.BindFlags(fs)
		if err := fs.Parse([]string{"--watch-namespaces=" + tc.arg}); err != nil {
			t.Fatalf("%q: %v", tc.arg, err)
		}
		if !slices.Equal(o.WatchNamespaces, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.arg, o.WatchNamespaces, tc.want)
		}
		opts, err := o.CacheOptions()
		if err != nil {
			t.Fatalf("%q: %v", tc.arg, err)
		}
		got := slices.Sorted(maps.Keys(opts.DefaultNamespaces))
		if want := slices.Sorted(slices.Values(tc.want)); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: cache namespaces %q, want %q", tc.arg, got, want)
		}
	}
}

func TestWatchNamespacesRejectsInvalidNames(t *testing.T) {
	for _, ns := range []string{"Shop", "shop_1", "-shop", strings.Repeat("a", 64), "a/b"} {
		o := Options{WatchNamespaces: []string{"ok", ns}}
		if _, err := o.CacheOptions(); err == nil || !strings.Contains(err.Error(), "--watch-namespaces") {
			t.Errorf("%q: got %v, want an error naming --watch-namespaces", ns, err)
		}
	}
}
