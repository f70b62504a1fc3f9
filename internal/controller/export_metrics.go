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
	"github.com/prometheus/client_golang/prometheus"
)

// Export metrics.
var (
	exportsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dcs_backup_operator_exports_total",
		Help: "Exports of backups into a bucket that ended, by result (succeeded, adopted, failed).",
	}, []string{labelNamespace, labelResult})

	exportBytesTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dcs_backup_operator_export_bytes_total",
		Help: "Bytes downloaded from DCS's backup links and streamed into buckets, retries included.",
	})

	exportDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "dcs_backup_operator_export_duration_seconds",
		Help: "Duration of successful copies, from the first download to the manifest (the queue not included).",
		// 1 s to about 4.5 h.
		Buckets: prometheus.ExponentialBuckets(1, 2.5, 12),
	})
)
