{{/* Chart name, truncated to what a label value holds. */}}
{{- define "rpi-swarming.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<chart> unless the release name already holds the chart name. */}}
{{- define "rpi-swarming.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of a per-device-type object: <fullname>-<type>, within 63 characters. */}}
{{- define "rpi-swarming.typeName" -}}
{{- printf "%s-%s" (include "rpi-swarming.fullname" .root | trunc (int (sub 62 (len .name)))) .name | trimSuffix "-" -}}
{{- end -}}

{{- define "rpi-swarming.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object's metadata. The chart version appears here, never in a pod template. */}}
{{- define "rpi-swarming.labels" -}}
helm.sh/chart: {{ include "rpi-swarming.chart" . }}
{{ include "rpi-swarming.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: rpi-swarming
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "rpi-swarming.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rpi-swarming.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* metadata.annotations from commonAnnotations plus an optional extra map (dict "root" $ "extra" map). */}}
{{- define "rpi-swarming.annotations" -}}
{{- $all := merge (deepCopy (default dict .extra)) (deepCopy (default dict .root.Values.commonAnnotations)) -}}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/* Fails with a clear message when the Swarming server is not set. */}}
{{- define "rpi-swarming.validate" -}}
{{- if not .Values.swarming.server -}}
{{- fail "\n\nswarming.server is required: set it to your Swarming server's URL, e.g. --set swarming.server=https://chromium-swarm.appspot.com" -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled (not .Values.service.enabled) -}}
{{- fail "\n\nserviceMonitor.enabled needs service.enabled=true (the ServiceMonitor scrapes through the Service)" -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled .Values.podMonitor.enabled -}}
{{- fail "\n\nenable either podMonitor or serviceMonitor, not both: each would scrape every pod and double every series" -}}
{{- end -}}
{{- $enabled := 0 -}}
{{- range $name, $entry := .Values.deviceTypes -}}
{{- if and $entry (ne (toString $entry.enabled) "false") -}}{{- $enabled = add1 $enabled -}}{{- end -}}
{{- end -}}
{{- if eq $enabled 0 -}}
{{- fail "\n\ndeviceTypes has no enabled entry: enable at least one device type (e.g. deviceTypes.android.enabled=true)" -}}
{{- end -}}
{{- end -}}

{{/*
Deep merge of two maps for per-device-type overrides: maps merge key by key,
everything else in .over replaces .base (so false, 0 and "" override too,
which sprig's mergeOverwrite would ignore). Returns YAML.
*/}}
{{- define "rpi-swarming.deepMerge" -}}
{{- $out := deepCopy .base -}}
{{- range $k, $v := .over -}}
{{- $cur := index $out $k -}}
{{- if and (kindIs "map" $v) (kindIs "map" $cur) -}}
{{- $_ := set $out $k (include "rpi-swarming.deepMerge" (dict "base" $cur "over" $v) | fromYaml) -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The top-level keys a deviceTypes entry may override. */}}
{{- define "rpi-swarming.overridableKeys" -}}
image swarming logLevel dimensions state tokenConfig adbKey usbmuxd securityMode usbHostPath sizeLimits podSecurityContext podAnnotations podLabels annotations terminationGracePeriodSeconds priorityClassName hostNetwork dnsPolicy updateStrategy extraVolumes extraEnv extraVolumeMounts extraContainers workVolume scheduling nodeSelector tolerations affinity stateServer supervisor
{{- end -}}

{{/*
The effective values of one device type (dict "root" $ "name" NAME "entry" ENTRY),
as YAML: the overridable top-level values with the entry merged over them,
plus name, device and nodeLabelValue.
*/}}
{{- define "rpi-swarming.deviceTypeValues" -}}
{{- $base := dict -}}
{{- range $key := splitList " " (include "rpi-swarming.overridableKeys" .) -}}
{{- if hasKey $.root.Values $key -}}{{- $_ := set $base $key (index $.root.Values $key) -}}{{- end -}}
{{- end -}}
{{- $over := omit .entry "enabled" "device" "nodeLabelValue" -}}
{{- $merged := include "rpi-swarming.deepMerge" (dict "base" $base "over" $over) | fromYaml -}}
{{- $_ := set $merged "name" .name -}}
{{- $_ := set $merged "device" (default (has .name (list "android" "ios" "simulated" "none") | ternary .name "none") .entry.device) -}}
{{- $_ := set $merged "nodeLabelValue" (default .name .entry.nodeLabelValue) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* Image reference (dict "root" $ "image" IMAGE-VALUES): registry/repository:tag or @digest. */}}
{{- define "rpi-swarming.image" -}}
{{- $registry := default .image.registry .root.Values.global.imageRegistry -}}
{{- $ref := .image.repository -}}
{{- if $registry -}}{{- $ref = printf "%s/%s" $registry $ref -}}{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (default .root.Chart.AppVersion (toString .image.tag)) -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets of a pod, from global and chart values. */}}
{{- define "rpi-swarming.imagePullSecrets" -}}
{{- $names := concat (default list .Values.global.imagePullSecrets) (default list .Values.imagePullSecrets) | uniq -}}
{{- with $names -}}
imagePullSecrets:
{{- range . }}
  - name: {{ . | quote }}
{{- end }}
{{- end -}}
{{- end -}}

{{- define "rpi-swarming.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rpi-swarming.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Job label value the Pod/ServiceMonitor gives the targets (their jobLabel is app.kubernetes.io/name). */}}
{{- define "rpi-swarming.targetSelector" -}}
{{- default (printf "job=%q" (include "rpi-swarming.name" .)) .Values.prometheusRule.targetSelector -}}
{{- end -}}

{{/* Where the pod mounts things; the agreed paths. */}}
{{- define "rpi-swarming.configDir" -}}/etc/rpi-swarming/config{{- end -}}
{{- define "rpi-swarming.maintenanceDir" -}}/etc/rpi-swarming/maintenance{{- end -}}
{{- define "rpi-swarming.tokenDir" -}}/etc/swarming_config{{- end -}}
{{- define "rpi-swarming.tokenFile" -}}oauth2_access_token_config.json{{- end -}}
{{- define "rpi-swarming.adbKeyDir" -}}/etc/rpi-swarming/adb-keys{{- end -}}
{{/* HOME of both containers: the image user's home, an emptyDir. */}}
{{- define "rpi-swarming.homeDir" -}}/var/lib/rpi-swarming{{- end -}}

{{/* True (non-empty) when a device type has a token config to mount. */}}
{{- define "rpi-swarming.hasTokenConfig" -}}
{{- if or .tokenConfig.existingSecret .tokenConfig.existingConfigMap .tokenConfig.url -}}true{{- end -}}
{{- end -}}
