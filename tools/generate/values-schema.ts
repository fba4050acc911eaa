// Writes chart/values.schema.json: every key typed, unknown keys rejected. The
// settings under stateServer and supervisor come from the programs' zod specs
// (see chart-values.ts); the chart's own keys are typed here. The keys a
// deviceTypes entry may override are read from rpi-swarming.overridableKeys in
// chart/templates/_helpers.tpl and shared through $defs.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deviceSettings } from "@rpi-swarming/devices/settings";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { type ChartProcess, chartProcesses } from "./catalog.js";
import { chartOnlyKeys, type JsonSchema, namedSettings } from "./chart-values.js";

type S = JsonSchema;
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const values = parseYaml(readFileSync(join(root, "chart/values.yaml"), "utf8")) as Record<string, unknown>;
const str = (description: string, extra: S = {}): S => ({ type: "string", description, ...extra });
const bool = (description: string): S => ({ type: "boolean", description });
const num = (description: string, extra: S = {}): S => ({ type: "number", description, ...extra });
const obj = (description: string, properties: Record<string, S>, required?: string[]): S => ({
  type: "object",
  description,
  additionalProperties: false,
  properties,
  ...(required ? { required } : {}),
});
// Kubernetes objects and lists pass through; kubeconform checks the rendered result strictly.
const k8sObject = (description: string): S => ({ type: "object", description });
const k8sList = (description: string): S => ({ type: "array", description, items: { type: "object" } });
const stringMap = (description: string): S => ({
  type: "object",
  description,
  additionalProperties: { type: "string" },
});
const duration = (description: string): S => str(description, { pattern: "^([0-9]+(ms|s|m|h|d|w|y))+$" });
// A PromQL range window of alerts: not zero (PromQL refuses it) and one unit ("90m"), so the alert texts read well.
const window = (description: string): S => str(description, { pattern: "^[1-9][0-9]*(s|m|h|d|w)$" });
const labelKey = "^([a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$";
const probe = (description: string): S => ({ type: "object", description });
// A Kubernetes quantity of bytes ("8Gi", "512M", "1000000"), as an emptyDir's sizeLimit takes it.
const quantity = (description: string): S =>
  str(description, { pattern: "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$" });

/** A process section: its settings from the zod specs, then the chart's own container keys. */
const container = (name: string, own: Record<string, S>): S =>
  obj(`settings of the ${name} container`, {
    ...own,
    settings: {
      type: "object",
      description: `further settings of rpi-swarming ${name} written as-is into its config file`,
    },
    extraArgs: { type: "array", description: "extra command-line arguments", items: { type: "string" } },
    extraEnv: k8sList("extra environment variables of this container"),
    resources: k8sObject("resources of the container"),
    securityContext: k8sObject("security context merged over the one securityMode sets"),
    livenessProbe: probe("liveness probe"),
    readinessProbe: probe("readiness probe"),
    startupProbe: probe("startup probe"),
  });

/** The JSON Schemas of the settings a process section of values.yaml names. */
function settingsOf(section: ChartProcess): Record<string, S> {
  const named = namedSettings(
    section,
    (values[section] ?? {}) as Record<string, unknown>,
    chartProcesses[section].specs,
  );
  return Object.fromEntries(named.map((s) => [s.key, s.schema]));
}

// The keys a deviceTypes entry may override (the list itself is rpi-swarming.overridableKeys).
const podProps: Record<string, S> = {
  image: obj("the project image", {
    registry: str("image registry"),
    repository: str("image repository", { minLength: 1 }),
    tag: { type: ["string", "number"], description: "image tag; empty means appVersion" },
    digest: str("image digest", { pattern: "^(sha256:[a-f0-9]{64})?$" }),
    pullPolicy: str("image pull policy", { enum: ["Always", "IfNotPresent", "Never"] }),
  }),
  swarming: obj("the Swarming bot", {
    server: str("URL of the Swarming server (required)", { pattern: "^(https?://[^\\s/]+.*)?$" }),
    botIdPrefix: str("prefix of the bot id before the node name", { pattern: "^[a-zA-Z0-9_.-]*$" }),
    botIdTemplate: str("bot id as an env expansion of $(NODE_NAME)", {
      pattern: "^([a-zA-Z0-9_.-]|\\$\\(NODE_NAME\\))*$",
    }),
  }),
  logLevel: str("log level", { enum: ["trace", "debug", "info", "warn", "error", "fatal"] }),
  dimensions: {
    type: "object",
    description: "static dimensions: key to a list of values or one value",
    propertyNames: { pattern: "^[a-zA-Z\\-_.][0-9a-zA-Z\\-_.]{0,63}$", not: { const: "id" } },
    additionalProperties: {
      anyOf: [
        { type: "string", minLength: 1, maxLength: 256 },
        { type: "array", minItems: 1, items: { type: "string", minLength: 1, maxLength: 256 } },
      ],
    },
  },
  state: { type: "object", description: "static state shown in the Swarming UI" },
  tokenConfig: obj("OAuth token config", {
    url: str("token endpoint", { pattern: "^(https?://.+)?$" }),
    headers: stringMap("headers of the token request"),
    existingSecret: str("existing Secret with the token config"),
    existingConfigMap: str("existing ConfigMap with the token config"),
    key: str("key of the token config", { minLength: 1 }),
  }),
  adbKey: obj("the lab's adb key pair", {
    existingSecret: str("existing Secret with adbkey and adbkey.pub"),
    privateKey: str("key of the private key in the Secret", { minLength: 1 }),
  }),
  usbmuxd: obj("usbmuxd sidecar for iOS devices", {
    enabled: bool("run it"),
    lockdownHostPath: str("host directory of the pairing records; empty keeps them in the pod"),
    resources: k8sObject("its resources"),
  }),
  securityMode: str("privileged, usb or custom", { enum: ["privileged", "usb", "custom"] }),
  usbHostPath: str("host USB device directory mounted into the state server; empty for none"),
  podSecurityContext: k8sObject("pod security context"),
  podAnnotations: stringMap("pod annotations"),
  podLabels: stringMap("extra pod labels"),
  annotations: stringMap("DaemonSet annotations"),
  terminationGracePeriodSeconds: {
    type: ["integer", "null"],
    minimum: 0,
    description: "pod grace period; null follows supervisor.shutdownGraceSeconds",
  },
  priorityClassName: str("priority class of the pods"),
  hostNetwork: bool("run in the node's network namespace"),
  dnsPolicy: str("DNS policy", { enum: ["", "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"] }),
  updateStrategy: obj("DaemonSet update strategy", {
    type: str("RollingUpdate or OnDelete", { enum: ["RollingUpdate", "OnDelete"] }),
    rollingUpdate: obj("rolling update settings", {
      maxUnavailable: { type: ["integer", "string"], description: "pods replaced at once" },
      maxSurge: { type: ["integer", "string"], description: "extra pods during an update (0 for node agents)" },
    }),
  }),
  extraVolumes: k8sList("extra volumes"),
  extraEnv: k8sList("extra environment variables of both containers"),
  extraVolumeMounts: k8sList("extra volume mounts of both containers"),
  extraContainers: k8sList("extra sidecar containers"),
  workVolume: k8sObject("volume source of /b; empty means an emptyDir"),
  sizeLimits: obj("size limits of the pod's emptyDirs", {
    work: quantity("/b (unless workVolume is set)"),
    shared: quantity("/b/shared"),
    supervisorTmp: quantity("the supervisor's /tmp"),
    supervisorHome: quantity("the supervisor's home"),
    stateServerTmp: quantity("the state server's /tmp"),
    stateServerHome: quantity("the state server's home"),
    usbmuxdRun: quantity("usbmuxd's /run"),
  }),
  scheduling: obj("where the pods run", {
    deviceTypeLabel: str("node label naming the device type", { pattern: labelKey }),
    excludeControlPlane: bool("keep off control-plane nodes"),
    excludeNodeLabels: {
      type: "array",
      description: "label keys of nodes never used",
      items: { type: "string", pattern: labelKey },
    },
  }),
  nodeSelector: stringMap("extra node selector"),
  tolerations: k8sList("tolerations"),
  affinity: k8sObject("affinity; replaces the generated node affinity"),
  stateServer: container("state-server", settingsOf("stateServer")),
  supervisor: container("supervisor", settingsOf("supervisor")),
};

// container() types the chart's own keys that chart-values.ts leaves out of the settings.
for (const section of Object.keys(chartProcesses) as ChartProcess[]) {
  const own = Object.keys((podProps[section]?.properties ?? {}) as S).filter((k) => !(k in settingsOf(section)));
  if (own.join(" ") !== chartOnlyKeys.join(" "))
    throw new Error(
      `${section}: container() in values-schema.ts types ${own.join(" ")} but chartOnlyKeys in chart-values.ts lists ${chartOnlyKeys.join(" ")}`,
    );
}

const overridable = overridableKeys(root);
const untyped = overridable.filter((k) => !(k in podProps));
const notOverridable = Object.keys(podProps).filter((k) => !overridable.includes(k));
if (untyped.length > 0 || notOverridable.length > 0)
  throw new Error(
    `rpi-swarming.overridableKeys (chart/templates/_helpers.tpl) and podProps (tools/generate/values-schema.ts) differ: ${[
      ...untyped.map((k) => `${k} has no schema`),
      ...notOverridable.map((k) => `${k} is not overridable`),
    ].join(", ")}`,
  );
// The device kinds of a deviceTypes entry are those of the state server's device setting.
const deviceKinds = (z.toJSONSchema(deviceSettings.device.schema, { io: "input" }) as S).enum;
const podRefs = Object.fromEntries(Object.keys(podProps).map((k) => [k, { $ref: `#/$defs/${k}` }]));

const alert = (extra: Record<string, S> = {}): S =>
  obj("one alert", {
    enabled: bool("render this alert"),
    for: duration("how long the condition must hold before it fires"),
    severity: str("severity label", { minLength: 1 }),
    ...extra,
  });
const monitor = (kind: string): S =>
  obj(`prometheus-operator ${kind}`, {
    enabled: bool(`create the ${kind}`),
    namespace: str("namespace; empty means the release namespace"),
    labels: stringMap("labels"),
    interval: { anyOf: [duration("scrape interval"), { const: "" }] },
    scrapeTimeout: { anyOf: [duration("scrape timeout"), { const: "" }] },
    relabelings: k8sList("extra relabelings"),
    metricRelabelings: k8sList("metric relabelings"),
  });

const deviceType: S = {
  anyOf: [
    { type: "null", description: "removes an entry of the defaults" },
    obj("one device type: a DaemonSet with its own overrides", {
      enabled: bool("render this DaemonSet"),
      device: str("device driver", { enum: deviceKinds }),
      nodeLabelValue: str("value of the device-type node label; empty means the entry's name", {
        pattern: "^([a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?$",
        maxLength: 63,
      }),
      ...podRefs,
    }),
  ],
};

const schema: S = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $comment:
    "Generated by tools/generate/values-schema.ts (npm run generate) from the zod setting specs and chart/templates/_helpers.tpl; do not edit by hand.",
  title: "rpi-swarming chart values",
  ...obj("values of the rpi-swarming chart", {
    global: obj("values shared with parent charts", {
      imageRegistry: str("registry overriding image.registry"),
      imagePullSecrets: { type: "array", description: "pull secret names", items: { type: "string" } },
    }),
    nameOverride: str("replaces the chart name"),
    fullnameOverride: str("replaces the full name"),
    commonLabels: stringMap("labels of every resource"),
    commonAnnotations: stringMap("annotations of every resource"),
    imagePullSecrets: { type: "array", description: "pull secret names", items: { type: "string" } },
    deviceTypes: {
      type: "object",
      description: "one DaemonSet per enabled entry",
      propertyNames: { pattern: "^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$" },
      additionalProperties: deviceType,
    },
    maintenance: {
      type: "object",
      description: "bot id (or all) to maintenance message",
      propertyNames: { pattern: "^[-._a-zA-Z0-9]+$", maxLength: 253 },
      additionalProperties: { type: "string", minLength: 1 },
    },
    ...podRefs,
    serviceAccount: obj("service account", {
      create: bool("create a ServiceAccount"),
      name: str("its name"),
      annotations: stringMap("its annotations"),
      automountServiceAccountToken: bool("mount an API token"),
    }),
    service: obj("headless Service", {
      enabled: bool("create it"),
      annotations: stringMap("its annotations"),
      labels: stringMap("its labels"),
    }),
    networkPolicy: obj("NetworkPolicy admitting only the monitoring namespace to the metrics ports", {
      enabled: bool("create it"),
      namespaces: {
        type: "array",
        description: "namespaces admitted, by name",
        items: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" },
      },
      namespaceSelector: k8sObject("namespace selector used instead of namespaces when set"),
      podSelector: k8sObject("pods of those namespaces admitted; empty means all"),
      extraIngress: k8sList("further ingress rules"),
    }),
    prometheusAnnotations: obj("prometheus.io pod annotations", {
      enabled: bool("add them"),
      port: str("which process", { enum: ["state-server", "supervisor"] }),
    }),
    podMonitor: monitor("PodMonitor"),
    serviceMonitor: monitor("ServiceMonitor"),
    prometheusRule: obj("prometheus-operator PrometheusRule", {
      enabled: bool("create it"),
      namespace: str("namespace; empty means the release namespace"),
      labels: stringMap("labels"),
      runbookBaseUrl: str("runbook page", { pattern: "^https?://" }),
      targetSelector: str("label matchers of this chart's targets in up"),
      additionalRuleLabels: stringMap("labels added to every alert"),
      extraRules: k8sList("extra rules"),
      alerts: obj("the alerts", {
        deviceMissing: alert(),
        deviceQuarantined: alert(),
        batteryLow: alert(),
        deviceTooHot: alert(),
        devicePowerCycledOften: alert({
          window: window("range over which power cycles are counted"),
          maxPowerCycles: num("power cycles within the window above which it fires", { minimum: 0 }),
        }),
        maintenanceTooLong: alert(),
        probesStalled: alert({
          staleSeconds: num("age of the last probe that counts as stalled", { exclusiveMinimum: 0 }),
        }),
        botNotRunning: alert(),
        botRestartingOften: alert({
          window: window("range over which restarts are counted"),
          maxRestarts: num("restarts within the window above which it fires", { minimum: 0 }),
        }),
        botCodeDownloadFailing: alert({ window: window("range in which downloads failed and none succeeded") }),
        tokenRefreshFailing: alert({ window: window("range in which token fetches failed and none succeeded") }),
        hookErrors: alert({
          window: window("range over which the error ratio is computed"),
          maxErrorRatio: num("error ratio 0-1 within the window above which it fires", { minimum: 0, maximum: 1 }),
        }),
        tasksCut: alert({ window: window("range in which a cut task keeps the alert firing") }),
        botCodeBehind: alert(),
        targetDown: alert(),
      }),
    }),
    dashboards: obj("Grafana dashboards", {
      enabled: bool("ship them"),
      namespace: str("namespace of the ConfigMaps"),
      label: str("sidecar label key", { pattern: labelKey }),
      labelValue: str("sidecar label value"),
      annotations: stringMap("annotations of the ConfigMaps"),
      labels: stringMap("extra labels of the ConfigMaps"),
    }),
    tests: obj("helm test", {
      enabled: bool("render the test pod"),
      resources: k8sObject("its resources"),
    }),
  }),
};
schema.$defs = podProps;

/** The text of chart/values.schema.json. */
export function valuesSchema(): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** The keys of the rpi-swarming.overridableKeys define. */
function overridableKeys(root: string): string[] {
  const helpers = readFileSync(join(root, "chart/templates/_helpers.tpl"), "utf8");
  const m = helpers.match(/define "rpi-swarming\.overridableKeys" -\}\}\s*([^{]*?)\s*\{\{-? end/);
  if (!m?.[1]) throw new Error("chart/templates/_helpers.tpl has no rpi-swarming.overridableKeys define");
  return m[1].split(/\s+/);
}
