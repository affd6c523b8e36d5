{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "kube-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart>, or the release name when it already
contains the chart name; truncated to 63 characters.
*/}}
{{- define "kube-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "kube-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "kube-operator.labels" -}}
helm.sh/chart: {{ include "kube-operator.chart" . }}
{{ include "kube-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: catalyst
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: the Deployment's selector is immutable, so these never change
between chart versions.
*/}}
{{- define "kube-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kube-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Name of the ServiceAccount. */}}
{{- define "kube-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kube-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "kube-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* "true" or "false": leader election, on by default when more than one replica runs. */}}
{{- define "kube-operator.leaderElect" -}}
{{- if kindIs "invalid" .Values.leaderElection.enabled }}
{{- gt (int .Values.replicaCount) 1 }}
{{- else }}
{{- .Values.leaderElection.enabled }}
{{- end }}
{{- end }}

{{/* Namespace of the leader-election Lease. */}}
{{- define "kube-operator.leaderElectionNamespace" -}}
{{- .Values.leaderElection.namespace | default .Release.Namespace }}
{{- end }}

{{/* terminationGracePeriodSeconds: explicit, else shutdown grace + 10 s; always above the grace. */}}
{{- define "kube-operator.terminationGracePeriodSeconds" -}}
{{- $grace := int .Values.operator.shutdownGraceSeconds }}
{{- $tgps := .Values.terminationGracePeriodSeconds }}
{{- if kindIs "invalid" $tgps }}
{{- add $grace 10 }}
{{- else if le (int $tgps) $grace }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be larger than operator.shutdownGraceSeconds (%d): the kubelet would kill in-flight reconciles" (int $tgps) $grace) }}
{{- else }}
{{- int $tgps }}
{{- end }}
{{- end }}

{{/* The Catalyst web app's URL: webApp.url, else the Catalyst chart's Service. */}}
{{- define "kube-operator.webUrl" -}}
{{- .Values.webApp.url | default (printf "http://%s-web.%s.svc.cluster.local:3000" .Release.Name .Release.Namespace) }}
{{- end }}

{{/* Name of the metrics port: https-metrics when secure, http-metrics when not. */}}
{{- define "kube-operator.metricsPortName" -}}
{{- if .Values.metrics.secure }}https-metrics{{ else }}http-metrics{{ end }}
{{- end }}

{{/* Where a metrics.certSecret is mounted (controller-runtime's default directory). */}}
{{- define "kube-operator.metricsCertDir" -}}
/tmp/k8s-metrics-server/metrics-certs
{{- end }}

{{/*
PromQL label matchers of the operator's series as the Prometheus Operator
scrapes them through the ServiceMonitor (namespace and service target labels).
*/}}
{{- define "kube-operator.promSelector" -}}
namespace="{{ .Release.Namespace }}", service="{{ include "kube-operator.fullname" . }}-metrics"
{{- end }}

{{/*
Labels of the `helm test` Pod. Not the operator's selector labels: its
ReplicaSet would adopt a matching Pod, and its Service route to it.
*/}}
{{- define "kube-operator.testLabels" -}}
app.kubernetes.io/name: {{ include "kube-operator.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}
