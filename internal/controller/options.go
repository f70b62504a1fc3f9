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
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/dcs-operator/dcs-backup-operator/internal/export"
)

// Options configure the controllers. The exported fields with a flag are set
// from the manager's command line; the others are for tests.
type Options struct {
	// InsecureEndpoints allows plain-http DCS endpoints (for the simulator on
	// loopback). Off by default: credentials must never cross the network
	// unencrypted.
	InsecureEndpoints bool
	// RestorePollInterval is how often finished backups re-read the
	// instance's restore records, so restores made outside the operator show
	// up within about this long.
	RestorePollInterval time.Duration
	// WatchNamespaces restricts the operator to these namespaces; empty
	// watches all.
	WatchNamespaces []string
	// MaxConcurrentReconciles per controller.
	MaxConcurrentReconciles int
	// DCSRequestsPerSecond and DCSBurst limit the requests sent to one DCS
	// endpoint and project, to stay under the API gateway's throttling.
	DCSRequestsPerSecond float64
	DCSBurst             int
	// DCSBackgroundShare is the share of the DCS budget that background
	// reads of idle instances may use.
	DCSBackgroundShare float64
	// DCSTimeout bounds every DCS call.
	DCSTimeout time.Duration
	// MaxConcurrentExports bounds the copies into buckets that run at once
	// (each holds a few upload parts in memory).
	MaxConcurrentExports int

	// Clock drives time in the controllers; tests use a fake one. Nil means
	// the real clock.
	Clock clock.Clock
	// Connector turns a resource's connection into a DCS API; nil means
	// credentials from Secrets. Tests wrap or replace it.
	Connector Connector
	// Stores turns a DCSBackupStorage into a bucket client; nil means
	// credentials from Secrets.
	Stores StorageConnector
}

const (
	defaultRestorePollInterval     = time.Minute
	defaultMaxConcurrentReconciles = 4
)

// BindFlags registers the options' command-line flags.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.InsecureEndpoints, "insecure-endpoints", false,
		"Allow plain-http DCS endpoints (for the DCS simulator on loopback). Never use it with real credentials.")
	fs.DurationVar(&o.RestorePollInterval, "restore-poll-interval", defaultRestorePollInterval,
		"How often the restore records of an instance with a recent backup or restore are re-read (idle instances: "+
			"this or longer, see --dcs-background-share).")
	fs.Func("watch-namespaces", "Comma-separated namespaces to watch (default: all namespaces).", func(s string) error {
		o.WatchNamespaces = splitList(s)
		return nil
	})
	fs.IntVar(&o.MaxConcurrentReconciles, "max-concurrent-reconciles", defaultMaxConcurrentReconciles, "Concurrent reconciles per controller.")
	fs.Float64Var(&o.DCSRequestsPerSecond, "dcs-requests-per-second", 10,
		"Client-side rate limit of DCS requests per endpoint and project.")
	fs.IntVar(&o.DCSBurst, "dcs-burst", 20, "Burst of the client-side DCS rate limit.")
	fs.Float64Var(&o.DCSBackgroundShare, "dcs-background-share", 0.25,
		"Share (0 to 1) of the DCS rate limit that background reads of idle instances (restores made outside the "+
			"operator, expired backups) may use; their interval stretches beyond --restore-poll-interval to stay "+
			"within it, and work users wait for always goes first.")
	fs.DurationVar(&o.DCSTimeout, "dcs-timeout", 30*time.Second, "Timeout of each DCS request.")
	fs.IntVar(&o.MaxConcurrentExports, "max-concurrent-exports", export.DefaultMaxConcurrent,
		"Copies of backups into buckets (spec.export) that run at once; the others wait for a slot.")
}

// CacheOptions returns the manager cache options for WatchNamespaces.
func (o *Options) CacheOptions() (cache.Options, error) {
	// managedFields are the largest part of a small object (a DCSBackup
	// applied with server-side apply by a GitOps tool carries one entry per
	// field manager) and the controllers never read them: dropping them
	// before objects enter the informers cuts the memory a fleet of
	// thousands of backups takes. The controllers write with merge patches
	// computed from the cached object, which leave managedFields alone.
	opts := cache.Options{DefaultTransform: cacheTransform()}
	if len(o.WatchNamespaces) == 0 {
		return opts, nil
	}
	opts.DefaultNamespaces = map[string]cache.Config{}
	for _, ns := range o.WatchNamespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return opts, fmt.Errorf("--watch-namespaces: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
		opts.DefaultNamespaces[ns] = cache.Config{}
	}
	return opts, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
