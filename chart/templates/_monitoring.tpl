{{/* Scrape endpoints of a PodMonitor or ServiceMonitor (dict "root" $ "cfg" MONITOR-VALUES). */}}
{{- define "rpi-swarming.scrapeEndpoints" -}}
{{- range $port := list "supervisor" "state-server" }}
- port: {{ $port }}
  path: /metrics
  {{- with $.cfg.interval }}
  interval: {{ . }}
  {{- end }}
  {{- with $.cfg.scrapeTimeout }}
  scrapeTimeout: {{ . }}
  {{- end }}
  relabelings:
    # The node runs one pod per device type; name it on every series (and on `up`).
    - sourceLabels: [__meta_kubernetes_pod_node_name]
      targetLabel: node
      action: replace
    {{- with $.cfg.relabelings }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $.cfg.metricRelabelings }}
  metricRelabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}
