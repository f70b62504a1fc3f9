{{/*
name is the chart name, or nameOverride.
*/}}
{{- define "dcs-backup-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
fullname prefixes every resource the release creates. Names are cut to 52
characters so that suffixes such as "-metrics" keep them within 63.
*/}}
{{- define "dcs-backup-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dcs-backup-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
labels go on every object of the release.
*/}}
{{- define "dcs-backup-operator.labels" -}}
helm.sh/chart: {{ include "dcs-backup-operator.chart" . }}
{{ include "dcs-backup-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dcs-backup-operator
{{- end }}

{{/*
selectorLabels select the manager's pods; they never change across upgrades.
*/}}
{{- define "dcs-backup-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dcs-backup-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end }}

{{- define "dcs-backup-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dcs-backup-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dcs-backup-operator.managerRoleName" -}}
{{- printf "%s-manager" (include "dcs-backup-operator.fullname" .) }}
{{- end }}

{{- define "dcs-backup-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "dcs-backup-operator.fullname" .) }}
{{- end }}

{{/*
metricsPortName is the name of the metrics port on the container and the
Service: https when metrics are served securely.
*/}}
{{- define "dcs-backup-operator.metricsPortName" -}}
{{- ternary "https" "http" .Values.metrics.secure }}
{{- end }}

{{/*
image is repository@digest when a digest is set, else repository:tag with the
tag defaulting to the chart's appVersion.
*/}}
{{- define "dcs-backup-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
args are the manager's command-line flags, one per line.
*/}}
{{- define "dcs-backup-operator.args" -}}
{{- if .Values.leaderElection.enabled }}
- --leader-elect
- --leader-election-lease-duration={{ .Values.leaderElection.leaseDuration }}
- --leader-election-renew-deadline={{ .Values.leaderElection.renewDeadline }}
- --leader-election-retry-period={{ .Values.leaderElection.retryPeriod }}
{{- end }}
{{- if .Values.metrics.enabled }}
- --metrics-bind-address=:{{ int .Values.metrics.port }}
{{- else }}
- --metrics-bind-address=0
{{- end }}
- --metrics-secure={{ .Values.metrics.secure }}
- --health-probe-bind-address=:{{ int .Values.healthProbe.port }}
{{- if .Values.manager.insecureEndpoints }}
- --insecure-endpoints
{{- end }}
- --restore-poll-interval={{ .Values.manager.restorePollInterval }}
{{- with .Values.manager.watchNamespaces }}
- --watch-namespaces={{ join "," . }}
{{- end }}
- --max-concurrent-reconciles={{ int .Values.manager.maxConcurrentReconciles }}
- --max-concurrent-exports={{ int .Values.manager.maxConcurrentExports }}
- --dcs-requests-per-second={{ .Values.manager.dcs.requestsPerSecond }}
- --dcs-burst={{ int .Values.manager.dcs.burst }}
- --dcs-background-share={{ .Values.manager.dcs.backgroundShare }}
- --dcs-timeout={{ .Values.manager.dcs.timeout }}
- --zap-log-level={{ .Values.logging.level }}
{{- with .Values.logging.encoder }}
- --zap-encoder={{ . }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
increasedBy renders "how much a counter grew in the last hour, by labels",
counting series that appeared within the hour too. Arguments: the series
selector and the comma-separated labels to keep.
*/}}
{{- define "dcs-backup-operator.increasedBy" -}}
{{- $selector := index . 0 }}
{{- $by := index . 1 -}}
sum by ({{ $by }}) (increase({{ $selector }}[1h])) > 0
or
sum by ({{ $by }}) ({{ $selector }} unless {{ $selector }} offset 1h) > 0
{{- end }}

{{/*
updateStrategy is the Deployment's strategy: updateStrategy when set, else
RollingUpdate that starts the new pod before stopping the old one when leader
election keeps them from working at the same time, else Recreate. Without
leader election two managers must never run at once: more than one replica
and a rolling update both fail the install.
*/}}
{{- define "dcs-backup-operator.updateStrategy" -}}
{{- $strategy := .Values.updateStrategy }}
{{- if not .Values.leaderElection.enabled }}
{{- if gt (int .Values.replicaCount) 1 }}
{{- fail "replicaCount > 1 needs leaderElection.enabled: without a lease every replica would reconcile, and two managers can create two backups for one DCSBackup" }}
{{- end }}
{{- if eq (dig "type" "" $strategy) "RollingUpdate" }}
{{- fail "updateStrategy.type RollingUpdate needs leaderElection.enabled: without a lease the old and the new manager would both reconcile during the rollout; use Recreate" }}
{{- end }}
{{- end }}
{{- if $strategy }}
{{- toYaml $strategy }}
{{- else if .Values.leaderElection.enabled }}
type: RollingUpdate
rollingUpdate:
  maxSurge: 1
  maxUnavailable: 0
{{- else }}
type: Recreate
{{- end }}
{{- end }}

{{/*
pdbEnabled is "true" when the chart creates a PodDisruptionBudget:
podDisruptionBudget.enabled when set, else whether there is more than one
replica.
*/}}
{{- define "dcs-backup-operator.pdbEnabled" -}}
{{- $enabled := .Values.podDisruptionBudget.enabled }}
{{- if kindIs "invalid" $enabled }}
{{- gt (int .Values.replicaCount) 1 }}
{{- else }}
{{- $enabled }}
{{- end }}
{{- end }}

{{/*
runbookURL is the runbook page of an alert. Arguments: the root context and
the alert name.
*/}}
{{- define "dcs-backup-operator.runbookURL" -}}
{{- $root := index . 0 }}
{{- printf "%s/%s.md" (trimSuffix "/" $root.Values.prometheusRule.runbookBaseURL) (index . 1) }}
{{- end }}
