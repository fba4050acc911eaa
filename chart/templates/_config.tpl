{{/*
Config files of the two processes for one device type (dict "root" $ "dt" DEVICE-TYPE-VALUES).
Keys are the programs' setting keys; `settings` maps pass further settings through as-is.
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
  "adbPath" $s.adbPath
  "probeIntervalSeconds" $s.probeIntervalSeconds
  "commandTimeoutSeconds" $s.commandTimeoutSeconds
  "hookHost" "127.0.0.1"
  "hookPort" $s.hookPort
  "metricsHost" "0.0.0.0"
  "metricsPort" $s.metricsPort
  "staticDimensions" $dims
  "staticState" (default dict $dt.state)
  "batteryMinRatio" $s.batteryMinRatio
  "batteryHysteresisRatio" $s.batteryHysteresisRatio
  "maxTemperatureCelsius" $s.maxTemperatureCelsius
  "temperatureHysteresisCelsius" $s.temperatureHysteresisCelsius
  "rebootTimeoutSeconds" $s.rebootTimeoutSeconds
  "maintenanceDir" (include "rpi-swarming.maintenanceDir" .)
  "sharedDir" "/b/shared"
-}}
{{- if not (kindIs "invalid" $s.serial) -}}{{- $_ := set $c "serial" (toString $s.serial) -}}{{- end -}}
{{- with $s.temperatureSensors -}}{{- $_ := set $c "temperatureSensors" . -}}{{- end -}}
{{- if not (kindIs "invalid" $s.rebootAfterTask) -}}{{- $_ := set $c "rebootAfterTask" $s.rebootAfterTask -}}{{- end -}}
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
  "python" $s.python
  "updateSchedule" $s.updateSchedule
  "updateJitterSeconds" $s.updateJitterSeconds
  "metricsHost" "0.0.0.0"
  "metricsPort" $s.metricsPort
  "stateServerUrl" (printf "http://127.0.0.1:%v" $dt.stateServer.hookPort)
  "shutdownGraceSeconds" $s.shutdownGraceSeconds
-}}
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
