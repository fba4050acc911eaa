{{/*
Security contexts of the pod's containers. A container that is not privileged
runs restricted: as the image's user rpi-swarming (uid/gid 10001), no way to
gain privileges, no capabilities, the runtime's seccomp profile and a read-only
root filesystem; what it writes goes to the pod's emptyDirs (see
rpi-swarming.writableMounts). Privileged containers (the state server where it
opens USB devices and starts the adb server, usbmuxd, the supervisor in
`privileged` mode) run as root: adb and usbmuxd need root for the host's USB
device nodes, and in `privileged` mode the bot and its tasks keep root (`sudo`
in a task just works).
*/}}
{{- define "rpi-swarming.uid" -}}10001{{- end -}}

{{- define "rpi-swarming.restrictedSecurityContext" -}}
privileged: false
runAsNonRoot: true
runAsUser: {{ include "rpi-swarming.uid" . }}
runAsGroup: {{ include "rpi-swarming.uid" . }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Container security contexts of one device type (its effective values): YAML
{stateServer: ..., supervisor: ..., podFsGroup: bool}. The containers' own
`securityContext` values merge over the mode's.
*/}}
{{- define "rpi-swarming.securityContexts" -}}
{{- $restricted := include "rpi-swarming.restrictedSecurityContext" . | fromYaml -}}
{{- $state := $restricted -}}
{{- $sup := $restricted -}}
{{- if eq .securityMode "privileged" -}}
{{- $state = dict "privileged" true -}}
{{- $sup = dict "privileged" true -}}
{{- else if eq .securityMode "usb" -}}
{{- $state = dict "privileged" true -}}
{{- end -}}
{{- $state = include "rpi-swarming.deepMerge" (dict "base" $state "over" (default dict .stateServer.securityContext)) | fromYaml -}}
{{- $sup = include "rpi-swarming.deepMerge" (dict "base" $sup "over" (default dict .supervisor.securityContext)) | fromYaml -}}
{{- toYaml (dict "stateServer" $state "supervisor" $sup) -}}
{{- end -}}

{{/*
Pod security context of one device type: with any restricted container, the
pod's volumes (emptyDirs, the adb key Secret) belong to group 10001 so that the
restricted containers can use them; the `podSecurityContext` value merges over.
*/}}
{{- define "rpi-swarming.podSecurityContext" -}}
{{- $base := dict -}}
{{- if ne .securityMode "privileged" -}}
{{- $base = dict "fsGroup" (int (include "rpi-swarming.uid" .)) -}}
{{- end -}}
{{- $sc := include "rpi-swarming.deepMerge" (dict "base" $base "over" (default dict .podSecurityContext)) | fromYaml -}}
{{- with $sc }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/*
The writable directories of the supervisor or state server container (dict
"dt" DEVICE-TYPE-VALUES "c" "supervisor"|"state-server"): its own /tmp and
home (HOME: adb's ~/.android, caches of tools a task runs) and the shared
markers directory; /b itself is the work volume.
*/}}
{{- define "rpi-swarming.writableMounts" -}}
- name: {{ .c }}-tmp
  mountPath: /tmp
- name: {{ .c }}-home
  mountPath: {{ include "rpi-swarming.homeDir" . }}
- name: shared
  mountPath: /b/shared
{{- end -}}

{{/* The emptyDirs behind rpi-swarming.writableMounts and /b (dict "dt" DEVICE-TYPE-VALUES). */}}
{{- define "rpi-swarming.writableVolumes" -}}
{{- $l := .dt.sizeLimits -}}
- name: shared
  emptyDir:
    sizeLimit: {{ $l.shared }}
- name: supervisor-tmp
  emptyDir:
    sizeLimit: {{ $l.supervisorTmp }}
- name: supervisor-home
  emptyDir:
    sizeLimit: {{ $l.supervisorHome }}
- name: state-server-tmp
  emptyDir:
    sizeLimit: {{ $l.stateServerTmp }}
- name: state-server-home
  emptyDir:
    sizeLimit: {{ $l.stateServerHome }}
{{- end -}}
