/**
 * Prometheus against the cluster suite's real Kubernetes (ci/suites/70-cluster.sh).
 *
 *   prometheus.ts config OUT.yml SD.json
 *                                   writes a Prometheus config whose scrape jobs are the ones the
 *                                   chart's rendered PodMonitor implies (the operator's relabelling
 *                                   included), discovering pods through SD.json
 *   prometheus.ts discover SD.json  keeps SD.json equal to what Kubernetes pod discovery
 *                                   (kubernetes_sd_configs, role pod) gives for the release's
 *                                   namespace: it lists the pods from the cluster's API server every
 *                                   second. Debian's Prometheus 2.42 is built without Kubernetes
 *                                   discovery ("field kubernetes_sd_configs not found"), so the
 *                                   suite feeds the same __meta_kubernetes_pod_* labels through
 *                                   file_sd_configs; the relabelling itself runs in Prometheus.
 *   prometheus.ts check URL         checks, against that Prometheus: both containers of every
 *                                   running pod are scraped with the PodMonitor's labels, and
 *                                   every metric the dashboards read has series
 *
 * Env: CLUSTER_RELEASE, CLUSTER_NAMESPACE, CLUSTER_VALUES (comma-separated values files),
 * CLUSTER_SET (comma-separated --set pairs), CLUSTER_API_SERVER, CLUSTER_CA, CLUSTER_CERT,
 * CLUSTER_KEY, CLUSTER_NODE. Exits 1 with the problems on stdout when a check fails.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { type K8sObject, objectsOfKind, renderChart } from "../prometheus/chart.js";
import { dashboardsFromConfigMaps, flatPanels, panelQueries } from "../prometheus/grafana.js";
import { PromApi } from "../prometheus/prom-api.js";
import { metricNames } from "../prometheus/promql.js";
import { podMonitorScrapeConfigs, sanitizeLabelName } from "../prometheus/scrape-config.js";

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

function writeConfig(out: string, sdFile: string): void {
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
    file_sd_configs: [{ files: [sdFile], refresh_interval: "1s" }],
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

interface Pod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  };
  spec: { nodeName?: string; containers: ContainerSpec[]; initContainers?: ContainerSpec[] };
  status: { phase?: string; podIP?: string; hostIP?: string; conditions?: { type: string; status: string }[] };
}
interface ContainerSpec {
  name: string;
  image?: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
}

function apiGet(path: string): Promise<unknown> {
  const url = new URL(path, env("CLUSTER_API_SERVER"));
  return new Promise((resolvePromise, reject) => {
    const req = httpsRequest(
      url,
      {
        ca: readFileSync(env("CLUSTER_CA")),
        cert: readFileSync(env("CLUSTER_CERT")),
        key: readFileSync(env("CLUSTER_KEY")),
        timeout: 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode} ${text.slice(0, 200)}`));
          else resolvePromise(JSON.parse(text));
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${path}: timeout`)));
    req.on("error", reject);
    req.end();
  });
}

/** Target groups as Kubernetes pod discovery makes them: one per container port (Prometheus' discovery/kubernetes/pod.go). */
function podTargetGroups(pods: Pod[]): { targets: string[]; labels: Record<string, string> }[] {
  const groups: { targets: string[]; labels: Record<string, string> }[] = [];
  for (const pod of pods) {
    if (!pod.status.podIP) continue;
    const owner = pod.metadata.ownerReferences?.find((o) => o.controller);
    const common: Record<string, string> = {
      __meta_kubernetes_namespace: pod.metadata.namespace,
      __meta_kubernetes_pod_name: pod.metadata.name,
      __meta_kubernetes_pod_ip: pod.status.podIP,
      __meta_kubernetes_pod_ready: String(
        pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
      ),
      __meta_kubernetes_pod_phase: pod.status.phase ?? "",
      __meta_kubernetes_pod_node_name: pod.spec.nodeName ?? "",
      __meta_kubernetes_pod_host_ip: pod.status.hostIP ?? "",
      __meta_kubernetes_pod_uid: pod.metadata.uid,
      ...(owner
        ? { __meta_kubernetes_pod_controller_kind: owner.kind, __meta_kubernetes_pod_controller_name: owner.name }
        : {}),
    };
    for (const [k, v] of Object.entries(pod.metadata.labels ?? {})) {
      common[`__meta_kubernetes_pod_label_${sanitizeLabelName(k)}`] = v;
      common[`__meta_kubernetes_pod_labelpresent_${sanitizeLabelName(k)}`] = "true";
    }
    for (const [k, v] of Object.entries(pod.metadata.annotations ?? {})) {
      common[`__meta_kubernetes_pod_annotation_${sanitizeLabelName(k)}`] = v;
      common[`__meta_kubernetes_pod_annotationpresent_${sanitizeLabelName(k)}`] = "true";
    }
    for (const [init, containers] of [
      [false, pod.spec.containers],
      [true, pod.spec.initContainers ?? []],
    ] as const) {
      for (const c of containers) {
        for (const p of c.ports ?? []) {
          groups.push({
            targets: [`${pod.status.podIP}:${p.containerPort}`],
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
  }
  return groups;
}

async function discover(sdFile: string): Promise<never> {
  const namespace = env("CLUSTER_NAMESPACE");
  let last = "";
  for (;;) {
    try {
      const list = (await apiGet(`/api/v1/namespaces/${namespace}/pods`)) as { items: Pod[] };
      const text = JSON.stringify(podTargetGroups(list.items), null, 1);
      if (text !== last) {
        writeFileSync(`${sdFile}.tmp`, text);
        renameSync(`${sdFile}.tmp`, sdFile);
        last = text;
      }
    } catch (err) {
      process.stderr.write(`discovery: ${(err as Error).message}\n`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const [cmd, arg, arg2] = process.argv.slice(2);
if (cmd === "config" && arg && arg2) {
  writeConfig(arg, arg2);
} else if (cmd === "discover" && arg) {
  await discover(arg);
} else if (cmd === "check" && arg) {
  const problems = await check(arg);
  if (problems.length > 0) {
    process.stdout.write(`${problems.join("\n")}\n`);
    process.exit(1);
  }
} else {
  process.stderr.write("usage: prometheus.ts config OUT.yml SD.json | discover SD.json | check PROMETHEUS_URL\n");
  process.exit(2);
}
