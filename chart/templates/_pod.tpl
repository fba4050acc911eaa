{{/* Environment of both containers (dict "dt" DEVICE-TYPE-VALUES "extra" CONTAINER-EXTRA-ENV). */}}
{{- define "rpi-swarming.env" -}}
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
# The image user's home, an emptyDir (the root filesystem may be read-only).
- name: HOME
  value: {{ include "rpi-swarming.homeDir" . }}
# The bot id: the node name, optionally with a prefix or in a template ($(NODE_NAME) expands).
- name: SWARMING_BOT_ID
  value: {{ default (printf "%s$(NODE_NAME)" .dt.swarming.botIdPrefix) .dt.swarming.botIdTemplate | quote }}
{{- if .dt.adbKey.existingSecret }}
# adb (server and clients) also offers this key, so devices that trust the lab's key accept the pod.
- name: ADB_VENDOR_KEYS
  value: {{ printf "%s/%s" (include "rpi-swarming.adbKeyDir" .) .dt.adbKey.privateKey | quote }}
{{- end }}
{{- with .dt.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volume mounts of both containers (dict "dt" DEVICE-TYPE-VALUES "hasToken" BOOL). */}}
{{- define "rpi-swarming.commonMounts" -}}
- name: work
  mountPath: /b
- name: config
  mountPath: {{ include "rpi-swarming.configDir" . }}
  readOnly: true
{{- if .hasToken }}
- name: token-config
  mountPath: {{ include "rpi-swarming.tokenDir" . }}
  readOnly: true
{{- end }}
{{- if .dt.adbKey.existingSecret }}
- name: adb-keys
  mountPath: {{ include "rpi-swarming.adbKeyDir" . }}
  readOnly: true
{{- end }}
{{- if .dt.usbmuxd.enabled }}
# usbmuxd's socket /var/run/usbmuxd (= /run/usbmuxd), shared with the sidecar.
- name: usbmuxd
  mountPath: /run
{{- end }}
{{- with .dt.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* oauth2_access_token_config.json written from tokenConfig.url and headers. */}}
{{- define "rpi-swarming.tokenConfigJson" -}}
{{- dict "url" .url "headers" (default dict .headers) | toPrettyJson -}}
{{- end -}}
