/**
 * Prometheus against the cluster suite's real Kubernetes (ci/suites/70-cluster.sh).
 *
 *   prometheus.ts config OUT.yml   writes a Prometheus config whose scrape jobs are the ones the
 *                                   chart's rendered PodMonitor implies, with pod discovery
 *                                   (kubernetes_sd_configs) against the cluster's API server
 *   prometheus.ts check URL         checks, against that Prometheus: both containers of every
 *                                   running pod are scraped with the PodMonitor's labels, and
 *                                   every metric the dashboards read has series
 *
 * Env: CLUSTER_RELEASE, CLUSTER_NAMESPACE, CLUSTER_VALUES (comma-separated values files),
 * CLUSTER_SET (comma-separated --set pairs), CLUSTER_API_SERVER, CLUSTER_CA, CLUSTER_CERT,
 * CLUSTER_KEY, CLUSTER_NODE. Exits 1 with the problems on stdout when a check fails.
 */
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { type K8sObject, objectsOfKind, renderChart } from "../prometheus/chart.js";
import { dashboardsFromConfigMaps, flatPanels, panelQueries } from "../prometheus/grafana.js";
import { PromApi } from "../prometheus/prom-api.js";
import { metricNames } from "../prometheus/promql.js";
import { podMonitorScrapeConfigs } from "../prometheus/scrape-config.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

function render(): K8sObject[] {
  return renderChart({
    root: ROOT,
    release: env("CLUSTER_RELEASE"),
    namespace: env("CLUSTER_NAMESPACE"),
    valuesFiles: env("CLUSTER_VALUES")
      .split(",")
      .map((f) => resolve(ROOT, f)),
    set: [
      ...(process.env.CLUSTER_SET ? process.env.CLUSTER_SET.split(",") : []),
      "podMonitor.enabled=true",
      "dashboards.enabled=true",
    ],
  });
}

function writeConfig(out: string): void {
  const objects = render();
  const podMonitors = objectsOfKind(objects, "PodMonitor");
  const daemonSet = objectsOfKind(objects, "DaemonSet")[0];
  if (podMonitors.length !== 1 || !daemonSet) throw new Error("expected one PodMonitor and a DaemonSet in the render");
  const namespace = env("CLUSTER_NAMESPACE");
  // The operator's relabelling for the PodMonitor; its static targets are replaced by pod discovery.
  const jobs = podMonitorScrapeConfigs(
    podMonitors[0] as K8sObject,
    { daemonSet, namespace, podName: "unused", nodeName: "unused", ports: () => undefined },
    { scrapeInterval: "2s", scrapeTimeout: "2s" },
  ).map(({ static_configs: _unused, ...job }) => ({
    ...job,
    kubernetes_sd_configs: [
      {
        role: "pod",
        api_server: env("CLUSTER_API_SERVER"),
        namespaces: { names: [namespace] },
        tls_config: { ca_file: env("CLUSTER_CA"), cert_file: env("CLUSTER_CERT"), key_file: env("CLUSTER_KEY") },
      },
    ],
  }));
  writeFileSync(out, stringify({ global: { scrape_interval: "2s", evaluation_interval: "2s" }, scrape_configs: jobs }));
}

async function check(url: string): Promise<string[]> {
  const api = new PromApi(url);
  const problems: string[] = [];
  const namespace = env("CLUSTER_NAMESPACE");
  const node = env("CLUSTER_NODE");
  // Both processes of the pod, up, with the labels the PodMonitor gives them.
  const up = await api.query(`up{namespace="${namespace}"}`);
  for (const container of ["supervisor", "state-server"]) {
    const s = up.filter((r) => r.metric.container === container);
    if (s.length === 0) problems.push(`no scrape target for container ${container} (up: ${JSON.stringify(up)})`);
    for (const r of s) {
      if (r.value[1] !== "1") problems.push(`${container} target is down: ${JSON.stringify(r.metric)}`);
      for (const [k, v] of Object.entries({ node, endpoint: container, job: "rpi-swarming" })) {
        if (r.metric[k] !== v) problems.push(`${container} target has ${k}=${r.metric[k]}, expected ${v}`);
      }
      if (!r.metric.pod) problems.push(`${container} target has no pod label`);
    }
  }
  const used = new Map<string, Set<string>>();
  for (const d of dashboardsFromConfigMaps(render())) {
    const note = (m: string, where: string) => used.set(m, (used.get(m) ?? new Set()).add(`${d.file}: ${where}`));
    for (const p of flatPanels(d))
      for (const q of panelQueries(p)) for (const m of metricNames(q.expr)) note(m, p.title ?? "");
    for (const v of d.templating?.list ?? []) {
      const q = typeof v.query === "string" ? v.query : v.query?.query;
      const sel = q ? /^label_values\(\s*(.+)\s*,\s*\w+\s*\)$/s.exec(q.trim())?.[1] : undefined;
      if (sel) for (const m of metricNames(sel)) note(m, `$${v.name}`);
    }
  }
  if (used.size === 0) problems.push("the rendered dashboards read no metric");
  for (const [metric, where] of used) {
    const series = await api.series(`{__name__="${metric}", namespace="${namespace}"}`);
    if (series.length === 0) problems.push(`no series of ${metric} (used by ${[...where].join("; ")})`);
  }
  process.stdout.write(`${used.size} dashboard metrics checked\n`);
  return problems;
}

const [cmd, arg] = process.argv.slice(2);
if (cmd === "config" && arg) {
  writeConfig(arg);
} else if (cmd === "check" && arg) {
  const problems = await check(arg);
  if (problems.length > 0) {
    process.stdout.write(`${problems.join("\n")}\n`);
    process.exit(1);
  }
} else {
  process.stderr.write("usage: prometheus.ts config OUT.yml | check PROMETHEUS_URL\n");
  process.exit(2);
}
