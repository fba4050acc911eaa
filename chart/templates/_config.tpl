{{/*
Config files of the two processes for one device type (dict "root" $ "dt" DEVICE-TYPE-VALUES).
Keys are the programs' setting keys: the chart's values named after a setting
(listed in the generated _settings.tpl) are copied as they are, null ones left out
so that the program's default applies; `settings` maps pass further settings through as-is.
*/}}
{{- define "rpi-swarming.stateServerConfig" -}}
{{- $dt := .dt -}}
{{- $s := $dt.stateServer -}}
{{- $dims := dict -}}
{{- range $k, $v := $dt.dimensions -}}
{{- $_ := set $dims $k (kindIs "slice" $v | ternary $v (list $v)) -}}
{{- end -}}
{{- $c := dict
  "logLevel" $dt.logLevel
  "device" $dt.device
  "hookHost" "127.0.0.1"
  "metricsHost" "0.0.0.0"
  "staticDimensions" $dims
  "staticState" (default dict $dt.state)
  "maintenanceDir" (include "rpi-swarming.maintenanceDir" .)
  "sharedDir" "/b/shared"
-}}
{{- include "rpi-swarming.copySettings" (dict "c" $c "s" $s "keys" (include "rpi-swarming.stateServerSettingKeys" .)) -}}
{{- if include "rpi-swarming.hasTokenConfig" $dt -}}
{{- $_ := set $c "tokenConfig" (printf "%s/%s" (include "rpi-swarming.tokenDir" .) (include "rpi-swarming.tokenFile" .)) -}}
{{- end -}}
{{- range $k, $v := (default dict $s.settings) -}}
{{- if hasKey $c $k -}}
{{- fail (printf "\n\nstateServer.settings.%s is written by the chart itself; set it through the chart's own value instead (see values.yaml)" $k) -}}
{{- end -}}
{{- $_ := set $c $k $v -}}
{{- end -}}
{{- toYaml $c -}}
{{- end -}}

{{- define "rpi-swarming.supervisorConfig" -}}
{{- $dt := .dt -}}
{{- $s := $dt.supervisor -}}
{{- $c := dict
  "logLevel" $dt.logLevel
  "swarmingServer" $dt.swarming.server
  "botDir" "/b/s"
  "botCodeDir" "/b/bot-code"
  "sharedDir" "/b/shared"
  "metricsHost" "0.0.0.0"
  "stateServerUrl" (printf "http://127.0.0.1:%v" $dt.stateServer.hookPort)
-}}
{{- include "rpi-swarming.copySettings" (dict "c" $c "s" $s "keys" (include "rpi-swarming.supervisorSettingKeys" .)) -}}
{{- if include "rpi-swarming.hasTokenConfig" $dt -}}
{{- $_ := set $c "tokenConfig" (printf "%s/%s" (include "rpi-swarming.tokenDir" .) (include "rpi-swarming.tokenFile" .)) -}}
{{- end -}}
{{- range $k, $v := (default dict $s.settings) -}}
{{- if hasKey $c $k -}}
{{- fail (printf "\n\nsupervisor.settings.%s is written by the chart itself; set it through the chart's own value instead (see values.yaml)" $k) -}}
{{- end -}}
{{- $_ := set $c $k $v -}}
{{- end -}}
{{- toYaml $c -}}
{{- end -}}


{{/* Copies the keys (a space-separated list) of .s that are not null into the dict .c. */}}
{{- define "rpi-swarming.copySettings" -}}
{{- range $k := splitList " " .keys -}}
{{- $v := index $.s $k -}}
{{- if not (kindIs "invalid" $v) -}}{{- $_ := set $.c $k $v -}}{{- end -}}
{{- end -}}
{{- end -}}
