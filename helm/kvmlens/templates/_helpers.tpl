{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "kvmlens.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, or the release name alone when it already contains the chart name. */}}
{{- define "kvmlens.fullname" -}}
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

{{- define "kvmlens.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "kvmlens.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: never change these after a release, a DaemonSet selector is immutable. */}}
{{- define "kvmlens.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kvmlens.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kvmlens.labels" -}}
helm.sh/chart: {{ include "kvmlens.chart" . }}
{{ include "kvmlens.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: exporter
app.kubernetes.io/part-of: kvmlens
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "kvmlens.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kvmlens.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* registry/repository:tag, or @digest when a digest is pinned. */}}
{{- define "kvmlens.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The container security context: the configured one, with privileged forced
to false unless the top-level `privileged` opt-in is set. A privileged
container needs allowPrivilegeEscalation (the API rejects the combination
otherwise) and has every capability, so the capability list is dropped.
*/}}
{{- define "kvmlens.containerSecurityContext" -}}
{{- $csc := deepCopy .Values.containerSecurityContext }}
{{- if .Values.privileged }}
{{- $_ := set $csc "privileged" true }}
{{- $_ := set $csc "allowPrivilegeEscalation" true }}
{{- $_ := unset $csc "capabilities" }}
{{- else }}
{{- $_ := set $csc "privileged" false }}
{{- end }}
{{- toYaml $csc }}
{{- end }}

{{/*
The alert groups of files/kvmlens-alerts.yml with prometheusRule.disabled
removed, prometheusRule.overrides merged over each alert by name, and
prometheusRule.additionalRules appended to the first group.
*/}}
{{- define "kvmlens.ruleGroups" -}}
{{- $file := .Files.Get "files/kvmlens-alerts.yml" | fromYaml }}
{{- $cfg := .Values.prometheusRule }}
{{- $groups := list }}
{{- range $i, $g := $file.groups }}
{{- $rules := list }}
{{- range $r := $g.rules }}
{{- $name := default "" $r.alert }}
{{- if not (get $cfg.disabled $name) }}
{{- $override := get $cfg.overrides $name | default dict }}
{{- $rules = append $rules (mergeOverwrite (deepCopy $r) (deepCopy $override)) }}
{{- end }}
{{- end }}
{{- if eq $i 0 }}
{{- $rules = concat $rules $cfg.additionalRules }}
{{- end }}
{{- $groups = append $groups (dict "name" $g.name "rules" $rules) }}
{{- end }}
{{- toYaml $groups }}
{{- end }}
