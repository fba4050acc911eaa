// Writes strict JSON schemas for the prometheus-operator objects the chart renders
// (monitoring.coreos.com/v1 PodMonitor, ServiceMonitor, PrometheusRule), written
// from the operator's CRD field definitions; kubeconform validates against them.
// Unknown fields are errors, as the API server's structural schemas prune/reject them.
// Usage: node monitoring-schemas.mjs OUT_DIR   (files named <kind>-monitoring-v1.json)
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const outDir = process.argv[2];
const strict = (properties, required) => ({
  type: "object",
  additionalProperties: false,
  properties,
  ...(required ? { required } : {}),
});
const string = { type: "string" };
const bool = { type: "boolean" };
const int = { type: "integer" };
const stringMap = { type: "object", additionalProperties: { type: "string" } };
const stringList = { type: "array", items: { type: "string" } };
const intOrString = { anyOf: [{ type: "integer" }, { type: "string" }] };
// monitoringv1.Duration
const duration = {
  type: "string",
  pattern: "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
};
const nonEmptyDuration = { ...duration, minLength: 1 };
const labelName = { type: "string", pattern: "^[a-zA-Z_][a-zA-Z0-9_]*$" };
const secretKeySelector = strict({ name: string, key: string, optional: bool }, ["key"]);
const configMapKeySelector = strict({ name: string, key: string, optional: bool }, ["key"]);
const secretOrConfigMap = strict({ secret: secretKeySelector, configMap: configMapKeySelector });
const labelSelectorRequirement = strict({ key: string, operator: string, values: stringList }, ["key", "operator"]);
const labelSelector = strict({
  matchLabels: stringMap,
  matchExpressions: { type: "array", items: labelSelectorRequirement },
});
const namespaceSelector = strict({ any: bool, matchNames: stringList });
// Both spellings are accepted by the CRD.
const relabelActions = [
  "replace",
  "Replace",
  "keep",
  "Keep",
  "drop",
  "Drop",
  "hashmod",
  "HashMod",
  "labelmap",
  "LabelMap",
  "labeldrop",
  "LabelDrop",
  "labelkeep",
  "LabelKeep",
  "lowercase",
  "Lowercase",
  "uppercase",
  "Uppercase",
  "keepequal",
  "KeepEqual",
  "dropequal",
  "DropEqual",
];
const relabelConfig = strict({
  sourceLabels: { type: "array", items: labelName },
  separator: string,
  targetLabel: string,
  regex: string,
  modulus: { type: "integer", minimum: 0 },
  replacement: string,
  action: { type: "string", enum: relabelActions },
});
const safeTLSConfig = strict({
  ca: secretOrConfigMap,
  cert: secretOrConfigMap,
  keySecret: secretKeySelector,
  serverName: string,
  insecureSkipVerify: bool,
  minVersion: { type: "string", enum: ["TLS10", "TLS11", "TLS12", "TLS13"] },
  maxVersion: { type: "string", enum: ["TLS10", "TLS11", "TLS12", "TLS13"] },
});
const basicAuth = strict({ username: secretKeySelector, password: secretKeySelector });
const authorization = strict({ type: string, credentials: secretKeySelector });
const oauth2 = strict(
  {
    clientId: secretOrConfigMap,
    clientSecret: secretKeySelector,
    tokenUrl: { type: "string", minLength: 1 },
    scopes: stringList,
    endpointParams: stringMap,
    tlsConfig: safeTLSConfig,
    proxyUrl: string,
    noProxy: string,
    proxyFromEnvironment: bool,
    proxyConnectHeader: { type: "object", additionalProperties: { type: "array", items: secretKeySelector } },
  },
  ["clientId", "clientSecret", "tokenUrl"],
);
// Fields PodMetricsEndpoint and Endpoint share.
const endpointCommon = {
  port: string,
  path: string,
  scheme: { type: "string", enum: ["http", "https", "HTTP", "HTTPS"] },
  params: { type: "object", additionalProperties: stringList },
  interval: duration,
  scrapeTimeout: duration,
  honorLabels: bool,
  honorTimestamps: bool,
  trackTimestampsStaleness: bool,
  relabelings: { type: "array", items: relabelConfig },
  metricRelabelings: { type: "array", items: relabelConfig },
  filterRunning: bool,
  followRedirects: bool,
  enableHttp2: bool,
  proxyUrl: { type: "string", pattern: "^(http|https|socks5)://.+$" },
  noProxy: string,
  proxyFromEnvironment: bool,
  proxyConnectHeader: { type: "object", additionalProperties: { type: "array", items: secretKeySelector } },
  tlsConfig: safeTLSConfig,
  bearerTokenSecret: secretKeySelector,
  basicAuth,
  oauth2,
  authorization,
};
const scrapeProtocols = {
  type: "array",
  items: {
    type: "string",
    enum: [
      "PrometheusProto",
      "OpenMetricsText0.0.1",
      "OpenMetricsText1.0.0",
      "PrometheusText0.0.4",
      "PrometheusText1.0.0",
    ],
  },
};
// Fields PodMonitorSpec and ServiceMonitorSpec share.
const monitorCommon = {
  jobLabel: string,
  podTargetLabels: stringList,
  selector: labelSelector,
  selectorMechanism: { type: "string", enum: ["RelabelConfig", "RoleSelector"] },
  namespaceSelector,
  sampleLimit: { type: "integer", minimum: 0 },
  targetLimit: { type: "integer", minimum: 0 },
  labelLimit: { type: "integer", minimum: 0 },
  labelNameLengthLimit: { type: "integer", minimum: 0 },
  labelValueLengthLimit: { type: "integer", minimum: 0 },
  keepDroppedTargets: { type: "integer", minimum: 0 },
  attachMetadata: strict({ node: bool }),
  scrapeClass: { type: "string", minLength: 1 },
  bodySizeLimit: { type: "string", pattern: "(^0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$" },
  scrapeProtocols,
  fallbackScrapeProtocol: { type: "string", enum: scrapeProtocols.items.enum },
  scrapeClassicHistograms: bool,
  nativeHistogramBucketLimit: { type: "integer", minimum: 0 },
  nativeHistogramMinBucketFactor: intOrString,
  convertClassicHistogramsToNHCB: bool,
};
const objectMeta = strict({
  name: { type: "string", maxLength: 253, pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" },
  generateName: string,
  namespace: string,
  labels: stringMap,
  annotations: stringMap,
  finalizers: stringList,
  ownerReferences: { type: "array", items: { type: "object" } },
});
const resource = (kind, spec) => ({
  $schema: "http://json-schema.org/draft-07/schema#",
  description: `${kind} (monitoring.coreos.com/v1), strict`,
  ...strict(
    {
      apiVersion: { type: "string", enum: ["monitoring.coreos.com/v1"] },
      kind: { type: "string", enum: [kind] },
      metadata: objectMeta,
      spec,
      // Written by the operator (status subresource), never by charts.
      status: { type: "object" },
    },
    ["apiVersion", "kind", "metadata", "spec"],
  ),
});

const podMetricsEndpoint = strict({
  ...endpointCommon,
  portNumber: { type: "integer", minimum: 1, maximum: 65535 },
  targetPort: intOrString,
});
const endpoint = strict({ ...endpointCommon, targetPort: intOrString, bearerTokenFile: string });
const rule = strict(
  {
    record: string,
    alert: string,
    expr: intOrString,
    for: duration,
    keep_firing_for: nonEmptyDuration,
    labels: stringMap,
    annotations: stringMap,
  },
  ["expr"],
);
const ruleGroup = strict(
  {
    name: { type: "string", minLength: 1 },
    labels: stringMap,
    interval: duration,
    query_offset: duration,
    limit: int,
    partial_response_strategy: { type: "string", pattern: "^(?i)(abort|warn)?$" },
    rules: { type: "array", items: rule },
  },
  ["name"],
);

mkdirSync(outDir, { recursive: true });
const write = (name, schema) => writeFileSync(join(outDir, name), `${JSON.stringify(schema, null, 2)}\n`);
write(
  "podmonitor-monitoring-v1.json",
  resource(
    "PodMonitor",
    strict({ ...monitorCommon, podMetricsEndpoints: { type: "array", items: podMetricsEndpoint } }, ["selector"]),
  ),
);
write(
  "servicemonitor-monitoring-v1.json",
  resource(
    "ServiceMonitor",
    strict(
      {
        ...monitorCommon,
        targetLabels: stringList,
        endpoints: { type: "array", items: endpoint },
        serviceDiscoveryRole: { type: "string", enum: ["Endpoints", "EndpointSlice"] },
      },
      ["selector"],
    ),
  ),
);
write(
  "prometheusrule-monitoring-v1.json",
  resource("PrometheusRule", strict({ groups: { type: "array", items: ruleGroup } })),
);
