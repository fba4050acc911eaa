/**
 * A Prometheus scrape configuration equivalent to what the Prometheus
 * Operator generates from the chart's PodMonitor for one pod of the chart's
 * DaemonSet, with Kubernetes pod discovery replaced by static targets that
 * carry the same `__meta_kubernetes_*` labels. The operator's own relabelling
 * (selector, port, namespace/pod/container/job/endpoint labels) and the
 * PodMonitor's relabelings then run inside Prometheus itself, so the target
 * labels (namespace, pod, container, node, ...) come out as in a cluster.
 */
import type { K8sObject } from "./chart.js";

interface Relabeling {
  sourceLabels?: string[];
  separator?: string;
  targetLabel?: string;
  regex?: string;
  modulus?: number;
  replacement?: string;
  action?: string;
}

interface PodMetricsEndpoint {
  port?: string;
  portNumber?: number;
  targetPort?: string | number;
  path?: string;
  scheme?: string;
  interval?: string;
  scrapeTimeout?: string;
  honorLabels?: boolean;
  honorTimestamps?: boolean;
  params?: Record<string, string[]>;
  relabelings?: Relabeling[];
  metricRelabelings?: Relabeling[];
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

interface PodMonitorSpec {
  selector?: LabelSelector;
  namespaceSelector?: { any?: boolean; matchNames?: string[] };
  podMetricsEndpoints?: PodMetricsEndpoint[];
  jobLabel?: string;
  podTargetLabels?: string[];
}

interface ContainerSpec {
  name: string;
  image?: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: ContainerSpec[]; initContainers?: ContainerSpec[] };
}

/** Where the test's local processes really listen, by chart container name and containerPort. */
export type PortMap = (container: string, containerPort: number) => string | undefined;

export interface EmulatedPod {
  daemonSet: K8sObject;
  namespace: string;
  podName: string;
  nodeName: string;
  ports: PortMap;
}

/** Prometheus label names: anything outside [a-zA-Z0-9_] becomes `_` (as Kubernetes SD does). */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, "_");
}

function toPrometheusRelabel(r: Relabeling): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.sourceLabels) out.source_labels = r.sourceLabels;
  if (r.separator !== undefined) out.separator = r.separator;
  if (r.targetLabel !== undefined) out.target_label = r.targetLabel;
  if (r.regex !== undefined) out.regex = r.regex;
  if (r.modulus !== undefined) out.modulus = r.modulus;
  if (r.replacement !== undefined) out.replacement = r.replacement;
  if (r.action !== undefined) out.action = r.action.toLowerCase();
  return out;
}

function selectorRelabels(selector: LabelSelector | undefined): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) {
    const l = sanitizeLabelName(k);
    out.push({
      action: "keep",
      source_labels: [`__meta_kubernetes_pod_label_${l}`, `__meta_kubernetes_pod_labelpresent_${l}`],
      regex: `(${v});true`,
    });
  }
  for (const e of selector?.matchExpressions ?? []) {
    const l = sanitizeLabelName(e.key);
    const values = `(${(e.values ?? []).join("|")});true`;
    const both = [`__meta_kubernetes_pod_label_${l}`, `__meta_kubernetes_pod_labelpresent_${l}`];
    const present = [`__meta_kubernetes_pod_labelpresent_${l}`];
    if (e.operator === "In") out.push({ action: "keep", source_labels: both, regex: values });
    if (e.operator === "NotIn") out.push({ action: "drop", source_labels: both, regex: values });
    if (e.operator === "Exists") out.push({ action: "keep", source_labels: present, regex: "true" });
    if (e.operator === "DoesNotExist") out.push({ action: "drop", source_labels: present, regex: "true" });
  }
  return out;
}

/** The `__meta_kubernetes_pod_*` labels pod discovery gives one container port of the pod. */
function podTargets(pod: EmulatedPod): { targets: string[]; labels: Record<string, string> }[] {
  const template = (pod.daemonSet.spec?.template ?? {}) as PodTemplate;
  const common: Record<string, string> = {
    __meta_kubernetes_namespace: pod.namespace,
    __meta_kubernetes_pod_name: pod.podName,
    __meta_kubernetes_pod_ip: "127.0.0.1",
    __meta_kubernetes_pod_ready: "true",
    __meta_kubernetes_pod_phase: "Running",
    __meta_kubernetes_pod_node_name: pod.nodeName,
    __meta_kubernetes_pod_host_ip: "127.0.0.1",
    __meta_kubernetes_pod_uid: "00000000-0000-4000-8000-000000000001",
    __meta_kubernetes_pod_controller_kind: "DaemonSet",
    __meta_kubernetes_pod_controller_name: pod.daemonSet.metadata.name,
  };
  for (const [k, v] of Object.entries(template.metadata?.labels ?? {})) {
    common[`__meta_kubernetes_pod_label_${sanitizeLabelName(k)}`] = v;
    common[`__meta_kubernetes_pod_labelpresent_${sanitizeLabelName(k)}`] = "true";
  }
  for (const [k, v] of Object.entries(template.metadata?.annotations ?? {})) {
    common[`__meta_kubernetes_pod_annotation_${sanitizeLabelName(k)}`] = v;
    common[`__meta_kubernetes_pod_annotationpresent_${sanitizeLabelName(k)}`] = "true";
  }
  const groups: { targets: string[]; labels: Record<string, string> }[] = [];
  for (const [init, containers] of [
    [false, template.spec?.containers ?? []],
    [true, template.spec?.initContainers ?? []],
  ] as const) {
    for (const c of containers) {
      for (const p of c.ports ?? []) {
        const address = pod.ports(c.name, p.containerPort);
        // A port the local pod does not run (none should be scraped) still gets a target, on a closed port.
        groups.push({
          targets: [address ?? `127.0.0.1:${p.containerPort}`],
          labels: {
            ...common,
            __meta_kubernetes_pod_container_init: String(init),
            __meta_kubernetes_pod_container_name: c.name,
            __meta_kubernetes_pod_container_image: c.image ?? "",
            __meta_kubernetes_pod_container_port_name: p.name ?? "",
            __meta_kubernetes_pod_container_port_number: String(p.containerPort),
            __meta_kubernetes_pod_container_port_protocol: p.protocol ?? "TCP",
          },
        });
      }
    }
  }
  return groups;
}

export interface ScrapeOverrides {
  /** Replaces the PodMonitor's interval so the test runs in seconds. */
  scrapeInterval: string;
  scrapeTimeout: string;
}

/** The scrape_configs the operator would generate for this PodMonitor, targeting the emulated pod. */
export function podMonitorScrapeConfigs(
  podMonitor: K8sObject,
  pod: EmulatedPod,
  overrides: ScrapeOverrides,
): Record<string, unknown>[] {
  const spec = (podMonitor.spec ?? {}) as PodMonitorSpec;
  const monitorNamespace = podMonitor.metadata.namespace ?? pod.namespace;
  const ns = spec.namespaceSelector;
  const namespaces = ns?.any ? undefined : (ns?.matchNames ?? [monitorNamespace]);
  if (namespaces && !namespaces.includes(pod.namespace)) {
    throw new Error(
      `PodMonitor ${podMonitor.metadata.name} selects namespaces ${namespaces.join(",")}, not the pod's ${pod.namespace}`,
    );
  }
  const endpoints = spec.podMetricsEndpoints ?? [];
  if (endpoints.length === 0) throw new Error(`PodMonitor ${podMonitor.metadata.name} has no podMetricsEndpoints`);
  const targets = podTargets(pod);
  return endpoints.map((ep, i) => {
    const relabel: Record<string, unknown>[] = [
      { source_labels: ["job"], target_label: "__tmp_prometheus_job_name" },
      ...selectorRelabels(spec.selector),
    ];
    if (ep.port !== undefined) {
      relabel.push({ action: "keep", source_labels: ["__meta_kubernetes_pod_container_port_name"], regex: ep.port });
    } else if (ep.portNumber !== undefined) {
      relabel.push({
        action: "keep",
        source_labels: ["__meta_kubernetes_pod_container_port_number"],
        regex: String(ep.portNumber),
      });
    } else if (ep.targetPort !== undefined) {
      const byName = typeof ep.targetPort === "string";
      relabel.push({
        action: "keep",
        source_labels: [`__meta_kubernetes_pod_container_port_${byName ? "name" : "number"}`],
        regex: String(ep.targetPort),
      });
    }
    relabel.push(
      { action: "drop", source_labels: ["__meta_kubernetes_pod_phase"], regex: "(Failed|Succeeded)" },
      { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
      { source_labels: ["__meta_kubernetes_pod_container_name"], target_label: "container" },
      { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
    );
    for (const l of spec.podTargetLabels ?? []) {
      relabel.push({
        source_labels: [`__meta_kubernetes_pod_label_${sanitizeLabelName(l)}`],
        target_label: sanitizeLabelName(l),
        regex: "(.+)",
        replacement: "$1",
      });
    }
    relabel.push({ target_label: "job", replacement: `${monitorNamespace}/${podMonitor.metadata.name}` });
    if (spec.jobLabel) {
      relabel.push({
        source_labels: [`__meta_kubernetes_pod_label_${sanitizeLabelName(spec.jobLabel)}`],
        target_label: "job",
        regex: "(.+)",
        replacement: "$1",
      });
    }
    relabel.push({ target_label: "endpoint", replacement: String(ep.port ?? ep.portNumber ?? ep.targetPort ?? "") });
    relabel.push(...(ep.relabelings ?? []).map(toPrometheusRelabel));
    const config: Record<string, unknown> = {
      job_name: `podMonitor/${monitorNamespace}/${podMonitor.metadata.name}/${i}`,
      honor_labels: ep.honorLabels ?? false,
      honor_timestamps: ep.honorTimestamps ?? true,
      scrape_interval: overrides.scrapeInterval,
      scrape_timeout: overrides.scrapeTimeout,
      metrics_path: ep.path ?? "/metrics",
      scheme: ep.scheme ?? "http",
      static_configs: targets,
      relabel_configs: relabel,
    };
    if (ep.params) config.params = ep.params;
    if (ep.metricRelabelings?.length) config.metric_relabel_configs = ep.metricRelabelings.map(toPrometheusRelabel);
    return config;
  });
}
