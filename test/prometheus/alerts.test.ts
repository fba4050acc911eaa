/**
 * The chart's monitoring, proven end to end: Debian's Prometheus scrapes the
 * local pod (`rpi-swarming demo`, simulated device) with the scrape config the
 * chart's PodMonitor yields, evaluates the chart's PrometheusRule (from `helm
 * template`, `for:` shortened through values), and answers every dashboard
 * panel's query. Faults injected through the simulated device's control
 * interface, the Swarming double's fault control, a token endpoint and
 * signals make the matching alerts fire, and removing them makes the alerts
 * resolve (the counting alerts once the fault has left their window, which
 * the test values shorten).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { helmBinary, type K8sObject, objectsOfKind, type RuleGroup, renderChart, ruleGroups } from "./chart.js";
import { type DemoPod, startDemoPod } from "./demo-pod.js";
import {
  type Dashboard,
  dashboardsFromConfigMaps,
  flatPanels,
  loadDashboards,
  panelProblems,
  panelQueries,
  resolveVariables,
  substitute,
} from "./grafana.js";
import { type AlertInfo, PromApi, waitFor } from "./prom-api.js";
import { type PrometheusServer, prometheusBinary, startPrometheus } from "./prometheus-server.js";
import { assertParses, metricNames } from "./promql.js";
import { podMonitorScrapeConfigs } from "./scrape-config.js";
import { startTokenEndpoint, type TokenEndpoint } from "./token-endpoint.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const NAMESPACE = "rpi-swarming";
const RELEASE = "rpi-swarming";
const BOT_ID = "rpi-e2e-001";
const NODE = "rpi-e2e-node-1";
/** The demo restarts a killed pod process after this long; TargetDown must fire within it. */
const RESTART_DELAY_SECONDS = 25;
/**
 * Ceiling of the supervisor's wait before it restarts a crashed bot; the wait is drawn from
 * [ceiling/2, ceiling], so even the shortest (10 s) outlasts the 5 s `for:` of BotNotRunning.
 */
const BOT_RESTART_BACKOFF_SECONDS = 20;
/** How long one device command may hang before it is killed (the state server's commandTimeoutSeconds). */
const HUNG_COMMAND_SECONDS = 30;
const FIRE_TIMEOUT_MS = 60_000;
const RESOLVE_TIMEOUT_MS = 60_000;

const E2E_VALUES = join(ROOT, "test", "prometheus", "values-e2e.yaml");

/** `window` of an alert in the test values, in seconds (one PromQL unit, as the chart's schema requires). */
function alertWindowSeconds(alert: string): number {
  const values = parse(readFileSync(E2E_VALUES, "utf8")) as {
    prometheusRule?: { alerts?: Record<string, { window?: string }> };
  };
  const window = values.prometheusRule?.alerts?.[alert]?.window;
  const m = window === undefined ? null : /^(\d+)(s|m|h)$/.exec(window);
  if (!m)
    throw new Error(`${E2E_VALUES}: prometheusRule.alerts.${alert}.window must be set in s, m or h (got ${window})`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
}
/** Restarts and hook errors are counted over these windows; the alerts resolve once the fault has left them. */
const RESTART_WINDOW_SECONDS = alertWindowSeconds("botRestartingOften");
const HOOK_ERROR_WINDOW_SECONDS = alertWindowSeconds("hookErrors");
const RESTART_TEST_MS = 240_000 + RESTART_WINDOW_SECONDS * 1000;
const HOOK_ERROR_TEST_MS = 150_000 + HOOK_ERROR_WINDOW_SECONDS * 1000;

/** Agreed container ports (brief: supervisor :20000, state server :20001). */
const SUPERVISOR_PORT = 20000;
const STATE_SERVER_PORT = 20001;

let work = "";
let pod: DemoPod | undefined;
let tokens: TokenEndpoint | undefined;
let prom: PrometheusServer | undefined;
let api: PromApi;
let groups: RuleGroup[] = [];
let dashboards: Dashboard[] = [];
let runStart = 0;
const fired = new Map<string, number>();
const resolved = new Map<string, number>();

function alertNames(): string[] {
  return groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
}

function ours(a: AlertInfo): boolean {
  return a.labels.bot_id === BOT_ID;
}

/** Alerts name the pod and the Pi (from the PodMonitor's target labels), so an operator knows where to look. */
function expectPodLabels(a: AlertInfo): void {
  expect(a.labels, a.labels.alertname).toMatchObject({ namespace: NAMESPACE, node: NODE });
  expect(a.labels.pod, a.labels.alertname).toMatch(/-e2e01$/);
}

async function waitFiring(name: string, match: (a: AlertInfo) => boolean = ours): Promise<AlertInfo> {
  const started = Date.now();
  const { seen } = await waitFor(
    async () => {
      const all = await api.alerts();
      const hit = all.find((a) => a.labels.alertname === name && a.state === "firing" && match(a));
      return { ok: hit !== undefined, seen: hit ?? all.map((a) => `${a.labels.alertname}:${a.state}`) };
    },
    { timeoutMs: FIRE_TIMEOUT_MS, what: `alert ${name} to fire` },
  );
  fired.set(name, Date.now() - started);
  expectPodLabels(seen as AlertInfo);
  return seen as AlertInfo;
}

async function waitResolved(
  name: string,
  match: (a: AlertInfo) => boolean = ours,
  timeoutMs = RESOLVE_TIMEOUT_MS,
): Promise<void> {
  const started = Date.now();
  await waitFor(
    async () => {
      const left = (await api.alerts()).filter((a) => a.labels.alertname === name && match(a));
      return { ok: left.length === 0, seen: left };
    },
    { timeoutMs, what: `alert ${name} to resolve` },
  );
  resolved.set(name, Date.now() - started);
}

async function gauge(expr: string): Promise<number | undefined> {
  const r = await api.query(expr);
  return r[0] ? Number(r[0].value[1]) : undefined;
}

async function device(patch: Record<string, unknown>): Promise<void> {
  await (pod as DemoPod).post((pod as DemoPod).urls.control, patch);
}

/** Injects a device fault, runs `whileFaulty`, and always takes the fault away again (so one failure does not cascade). */
async function withDeviceFault(
  fault: Record<string, unknown>,
  repair: Record<string, unknown>,
  whileFaulty: () => Promise<void>,
): Promise<void> {
  await device(fault);
  try {
    await whileFaulty();
  } finally {
    await device(repair);
  }
}

function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const line of markdown.split("\n")) {
    const m = /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    // GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
    const text = (m[1] as string)
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    anchors.add(text);
  }
  return anchors;
}

describe("chart monitoring against a real Prometheus and the local pod", () => {
  beforeAll(async () => {
    prometheusBinary();
    helmBinary(ROOT);
    work = mkdtempSync(join(tmpdir(), "rpi-swarming-prom-e2e-"));
    const objects: K8sObject[] = renderChart({
      root: ROOT,
      release: RELEASE,
      namespace: NAMESPACE,
      valuesFiles: [E2E_VALUES],
    });
    // Short evaluation: the test waits seconds, not minutes.
    groups = ruleGroups(objects).map((g) => ({ ...g, interval: "1s" }));
    const podMonitors = objectsOfKind(objects, "PodMonitor");
    const daemonSets = objectsOfKind(objects, "DaemonSet");
    if (podMonitors.length !== 1) throw new Error(`expected one PodMonitor in the render, got ${podMonitors.length}`);
    if (daemonSets.length !== 1) throw new Error(`expected one DaemonSet in the render, got ${daemonSets.length}`);
    dashboards = dashboardsFromConfigMaps(objects);
    const files = loadDashboards(join(ROOT, "chart", "dashboards")).map((d) => d.file);
    if (files.length === 0) throw new Error("chart/dashboards holds no dashboard JSON");
    // Every dashboard in the chart is shipped (dashboards.enabled in the test values).
    expect(dashboards.map((d) => d.file)).toEqual(files);

    // The state server hands the bot tokens from this endpoint; one long-lived token is fetched at start.
    tokens = await startTokenEndpoint(3600);
    const tokenConfig = join(work, "oauth2_access_token_config.json");
    tokens.writeConfig(tokenConfig);
    pod = await startDemoPod({
      root: ROOT,
      workDir: work,
      botId: BOT_ID,
      restartDelaySeconds: RESTART_DELAY_SECONDS,
      probeIntervalSeconds: 1,
      supervisorArgs: [
        // Update checks every few seconds, so a bot code fault shows in downloads quickly.
        "--update-schedule=*/3 * * * * *",
        "--update-jitter-seconds=0",
        `--restart-backoff-min-seconds=${BOT_RESTART_BACKOFF_SECONDS}`,
        `--restart-backoff-max-seconds=${BOT_RESTART_BACKOFF_SECONDS}`,
      ],
      stateServerArgs: [
        // A hung device then holds a probe for this long, so the probes visibly stall.
        `--command-timeout-seconds=${HUNG_COMMAND_SECONDS}`,
        `--token-config=${tokenConfig}`,
      ],
    });
    const demo = pod;
    const daemonSet = daemonSets[0] as K8sObject;
    const scrapeConfigs = podMonitorScrapeConfigs(
      podMonitors[0] as K8sObject,
      {
        daemonSet,
        namespace: NAMESPACE,
        podName: `${daemonSet.metadata.name}-e2e01`,
        nodeName: NODE,
        ports: (_container, containerPort) =>
          containerPort === SUPERVISOR_PORT
            ? `127.0.0.1:${demo.ports.supervisorMetrics}`
            : containerPort === STATE_SERVER_PORT
              ? `127.0.0.1:${demo.ports.stateMetrics}`
              : undefined,
      },
      { scrapeInterval: "1s", scrapeTimeout: "1s" },
    );
    prom = await startPrometheus({
      workDir: work,
      config: { global: { scrape_interval: "1s", evaluation_interval: "1s" }, scrape_configs: scrapeConfigs },
      rules: { groups },
    });
    api = new PromApi(prom.url);
    runStart = Date.now() / 1000;
  }, 180_000);

  afterAll(async () => {
    const report = [...new Set([...fired.keys(), ...resolved.keys()])].map(
      (n) => `${n}: fired after ${fired.get(n) ?? "-"} ms, resolved after ${resolved.get(n) ?? "-"} ms`,
    );
    if (report.length > 0) process.stderr.write(`[prometheus e2e]\n  ${report.join("\n  ")}\n`);
    try {
      await prom?.stop();
    } finally {
      await pod?.stop();
      await tokens?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);

  it("scrapes both processes of the pod with the labels the PodMonitor gives them", async () => {
    const { seen } = await waitFor(
      async () => {
        const t = await api.targets();
        return { ok: t.length === 2 && t.every((x) => x.health === "up"), seen: t };
      },
      { timeoutMs: 45_000, what: "both targets up" },
    );
    const labels = seen.map((t) => t.labels).sort((a, b) => (a.container ?? "").localeCompare(b.container ?? ""));
    expect(labels.map((l) => [l.container, l.endpoint])).toEqual([
      ["state-server", "state-server"],
      ["supervisor", "supervisor"],
    ]);
    for (const l of labels) {
      expect(l).toMatchObject({ namespace: NAMESPACE, node: NODE, job: "rpi-swarming" });
      expect(l.pod).toMatch(/-e2e01$/);
    }
    expect(await gauge(`count(up{job="rpi-swarming"} == 1)`)).toBe(2);
    // bot_id comes from the processes themselves, on every project series of both targets.
    const byBot = await api.query(`count by (bot_id, container) ({__name__=~"rpi_swarming_.+"})`);
    expect(byBot.map((s) => [s.metric.bot_id, s.metric.container]).sort()).toEqual([
      [BOT_ID, "state-server"],
      [BOT_ID, "supervisor"],
    ]);
  }, 60_000);

  it("loads every alert of the chart's PrometheusRule, each linking to its runbook section", async () => {
    const names = alertNames();
    expect(names.length).toBeGreaterThanOrEqual(10);
    const rules = await api.alertingRules();
    expect(rules.map((r) => r.name).sort()).toEqual([...names].sort());
    const anchors = headingAnchors(readFileSync(join(ROOT, "docs", "operations.md"), "utf8"));
    for (const r of rules) {
      expect(r.health, `${r.name}: ${r.lastError}`).not.toBe("err");
      assertParses(r.query, r.name);
      expect(r.labels?.severity, r.name).toMatch(/^(critical|warning|info)$/);
      expect(r.annotations?.summary, r.name).toBeTruthy();
      expect(r.annotations?.description, r.name).toBeTruthy();
      const url = r.annotations?.runbook_url ?? "";
      expect(url, r.name).toMatch(/docs\/operations\.md#/);
      const anchor = url.slice(url.indexOf("#") + 1);
      expect(anchor, r.name).toBe(r.name.toLowerCase());
      expect(anchors.has(anchor), `docs/operations.md has no heading for #${anchor}`).toBe(true);
    }
  });

  it("is quiet while the pod is healthy", async () => {
    await waitFor(
      async () => {
        const seen = {
          botUp: await gauge(`rpi_swarming_bot_up{bot_id="${BOT_ID}"}`),
          deviceUp: await gauge(`rpi_swarming_device_up{bot_id="${BOT_ID}"}`),
          maintenance: await gauge(`max(rpi_swarming_maintenance{bot_id="${BOT_ID}"})`),
          quarantined: await gauge(`max(rpi_swarming_quarantined{bot_id="${BOT_ID}"})`),
        };
        const ok = seen.botUp === 1 && seen.deviceUp === 1 && seen.maintenance === 0 && seen.quarantined === 0;
        return { ok, seen };
      },
      { timeoutMs: 60_000, what: "a running bot and a healthy device in Prometheus" },
    );
    // Longer than every shortened `for:`, so anything pending would have fired.
    await new Promise((r) => setTimeout(r, 8_000));
    const active = (await api.alerts()).map((a) => `${a.labels.alertname}{${JSON.stringify(a.labels)}} ${a.state}`);
    expect(active).toEqual([]);
  }, 90_000);

  it("fires RpiSwarmingBatteryLow when the battery drains, and resolves when it is charged", async () => {
    await withDeviceFault({ batteryRatio: 0.05, charging: false }, { batteryRatio: 0.95 }, async () => {
      const alert = await waitFiring("RpiSwarmingBatteryLow");
      expect(alert.labels).toMatchObject({ bot_id: BOT_ID, severity: "warning" });
      // Maintenance for any reason that lasts also says so.
      await waitFiring(
        "RpiSwarmingMaintenanceTooLong",
        (a) => a.labels.bot_id === BOT_ID && a.labels.reason === "battery_low",
      );
    });
    await waitResolved("RpiSwarmingBatteryLow");
    await waitResolved("RpiSwarmingMaintenanceTooLong");
  }, 150_000);

  it("fires RpiSwarmingMaintenanceTooLong for an operator's maintenance file, and resolves when it is removed", async () => {
    // As the runbook's maintenance procedure does through the ConfigMap: a file named after the bot.
    const file = join(work, "pod", "maintenance", BOT_ID);
    writeFileSync(file, "replacing the USB cable (prometheus e2e)\n");
    try {
      const alert = await waitFiring("RpiSwarmingMaintenanceTooLong", (a) => ours(a) && a.labels.reason === "operator");
      expect(alert.labels.severity).toBe("info");
    } finally {
      rmSync(file, { force: true });
    }
    await waitResolved("RpiSwarmingMaintenanceTooLong");
  }, 150_000);

  it("fires RpiSwarmingDeviceTooHot when the device overheats, and resolves when it cools", async () => {
    // The battery: CPU sensors are not held to the limit by default (temperatureSensors).
    await withDeviceFault({ batteryTemperatureCelsius: 48 }, { batteryTemperatureCelsius: 28 }, async () => {
      const alert = await waitFiring("RpiSwarmingDeviceTooHot");
      expect(alert.labels.bot_id).toBe(BOT_ID);
    });
    await waitResolved("RpiSwarmingDeviceTooHot");
  }, 150_000);

  it("fires RpiSwarmingDeviceMissing when the device is unplugged, and resolves when it is back", async () => {
    await withDeviceFault({ unplugged: true }, { unplugged: false }, async () => {
      const alert = await waitFiring("RpiSwarmingDeviceMissing");
      expect(alert.labels.bot_id).toBe(BOT_ID);
      expect(await gauge(`rpi_swarming_device_up{bot_id="${BOT_ID}"}`)).toBe(0);
    });
    await waitResolved("RpiSwarmingDeviceMissing");
  }, 150_000);

  it("fires RpiSwarmingDeviceQuarantined with the reason when the device refuses the adb key", async () => {
    await withDeviceFault({ unauthorized: true }, { unauthorized: false }, async () => {
      const alert = await waitFiring("RpiSwarmingDeviceQuarantined");
      expect(alert.labels.reason).toBe("unauthorized");
    });
    await waitResolved("RpiSwarmingDeviceQuarantined");
  }, 150_000);

  it(
    "fires RpiSwarmingBotNotRunning and RpiSwarmingBotRestartingOften when the bot crashes in a loop, and resolves both when it stops crashing",
    async () => {
      const demo = pod as DemoPod;
      // The test values fire above 2 restarts.
      const crashes = 3;
      for (let i = 0; i < crashes; i++) {
        const { seen: pid } = await waitFor(
          async () => {
            const p = demo.botPid();
            return { ok: p !== undefined, seen: p };
          },
          { timeoutMs: 60_000, what: `the bot process (crash ${i + 1})` },
        );
        process.kill(pid as number, "SIGKILL");
        if (i === 0) {
          // The supervisor waits at least BOT_RESTART_BACKOFF_SECONDS / 2 before the restart: longer than `for:`.
          await waitFiring("RpiSwarmingBotNotRunning");
        }
        await waitFor(
          async () => {
            const p = demo.botPid();
            return { ok: p !== undefined && p !== pid, seen: p };
          },
          { timeoutMs: 60_000, what: `the bot restarted after crash ${i + 1}` },
        );
      }
      await waitResolved("RpiSwarmingBotNotRunning");
      const alert = await waitFiring("RpiSwarmingBotRestartingOften");
      expect(Number(alert.value)).toBeGreaterThan(2);
      // The bot runs again and is left alone: the restarts leave the window and the alert resolves.
      await waitResolved("RpiSwarmingBotRestartingOften", ours, RESTART_WINDOW_SECONDS * 1000 + RESOLVE_TIMEOUT_MS);
      expect(
        await gauge(
          `sum(increase(rpi_swarming_bot_restarts_total{bot_id="${BOT_ID}",reason=~"exit|signal"}[${RESTART_WINDOW_SECONDS}s]))`,
        ),
      ).toBeLessThanOrEqual(2);
      expect(await gauge(`rpi_swarming_bot_up{bot_id="${BOT_ID}"}`)).toBe(1);
    },
    RESTART_TEST_MS,
  );

  it("fires RpiSwarmingBotCodeDownloadFailing while the server fails bot code downloads, and resolves after one succeeds", async () => {
    const demo = pod as DemoPod;
    // The bot must not fetch the new code itself (the supervisor would then take its copy and
    // download nothing): the server does not tell it to update, as for a bot that cannot.
    await demo.post(`${demo.urls.double}/_double/auto-update`, { enabled: false });
    await demo.post(`${demo.urls.double}/_double/faults`, { mode: "status", status: 503, on: "download" });
    try {
      // New code on the server makes the supervisor's next update check download it (and fail).
      await demo.post(`${demo.urls.double}/_double/publish`, {
        standIn: {
          hookScript: join(ROOT, "packages", "swarming-hooks", "bot_config.py"),
          extraFiles: { "e2e-version.txt": `prometheus e2e ${Date.now()}` },
        },
      });
      const alert = await waitFiring("RpiSwarmingBotCodeDownloadFailing");
      expect(alert.labels.bot_id).toBe(BOT_ID);
      expect(
        await gauge(`sum(rpi_swarming_bot_code_downloads_total{bot_id="${BOT_ID}",result="http_error"})`),
      ).toBeGreaterThan(0);
    } finally {
      await demo.post(`${demo.urls.double}/_double/faults`, { mode: "none" });
    }
    try {
      // The supervisor's next update check downloads the code: a success resolves the alert.
      await waitResolved("RpiSwarmingBotCodeDownloadFailing");
    } finally {
      await demo.post(`${demo.urls.double}/_double/auto-update`, { enabled: true });
    }
  }, 150_000);

  it("fires RpiSwarmingProbesStalled while a hung device holds the probe, and resolves when probes finish again", async () => {
    await withDeviceFault({ hung: true }, { hung: false }, async () => {
      const alert = await waitFiring("RpiSwarmingProbesStalled");
      expect(alert.labels.bot_id).toBe(BOT_ID);
    });
    // The hung command runs into its time limit first; then probes finish every second again.
    await waitResolved("RpiSwarmingProbesStalled");
    await waitResolved("RpiSwarmingDeviceQuarantined");
  }, 180_000);

  it(
    "fires RpiSwarmingHookErrors when hook requests fail, and resolves when they stop",
    async () => {
      const demo = pod as DemoPod;
      const hookUrl = `http://127.0.0.1:${demo.ports.hook}/get_dimensions`;
      const threshold = 0.05;
      // What a hook script that does not match the state server sends: bodies it cannot take (400).
      let sent = 0;
      await waitFor(
        async () => {
          for (let i = 0; i < 50; i++) {
            const res = await fetch(hookUrl, {
              method: "POST",
              body: "{not json",
              headers: { "content-type": "application/json" },
            });
            expect(res.status).toBe(400);
            await res.arrayBuffer();
            sent += 1;
          }
          const ratio = await gauge(
            `sum(rate(rpi_swarming_hook_requests_total{bot_id="${BOT_ID}",code=~"[45].."}[${HOOK_ERROR_WINDOW_SECONDS}s])) / sum(rate(rpi_swarming_hook_requests_total{bot_id="${BOT_ID}"}[${HOOK_ERROR_WINDOW_SECONDS}s]))`,
          );
          return { ok: (ratio ?? 0) > 2 * threshold, seen: { ratio, sent } };
        },
        { timeoutMs: 60_000, intervalMs: 1_500, what: "the hook error ratio in Prometheus above twice the threshold" },
      );
      const alert = await waitFiring("RpiSwarmingHookErrors");
      expect(Number(alert.value)).toBeGreaterThan(threshold);
      // No more bad requests: once they have left the rule's window the ratio drops and the alert resolves.
      await waitResolved("RpiSwarmingHookErrors", ours, HOOK_ERROR_WINDOW_SECONDS * 1000 + RESOLVE_TIMEOUT_MS);
    },
    HOOK_ERROR_TEST_MS,
  );

  it("fires RpiSwarmingTokenRefreshFailing when the state server restarts while the token endpoint is down, and resolves when it is back", async () => {
    const demo = pod as DemoPod;
    const endpoint = tokens as TokenEndpoint;
    expect(endpoint.served.ok, "the state server fetched its token at start").toBeGreaterThan(0);
    endpoint.setFailing(true);
    try {
      // A running state server holds a valid token; a restarted one must fetch a new one, and cannot.
      const pid = demo.podProcessPid("state-server");
      expect(pid, "state server process of the demo").toBeDefined();
      process.kill(pid as number, "SIGKILL");
      const started = Date.now();
      const alert = await waitFor(
        async () => {
          const hit = (await api.alertsNamed("RpiSwarmingTokenRefreshFailing", "firing")).find(ours);
          return { ok: hit !== undefined, seen: hit ?? { failedRequests: endpoint.served.failed } };
        },
        {
          timeoutMs: RESTART_DELAY_SECONDS * 1000 + FIRE_TIMEOUT_MS,
          what: "alert RpiSwarmingTokenRefreshFailing to fire",
        },
      );
      fired.set("RpiSwarmingTokenRefreshFailing", Date.now() - started);
      expectPodLabels(alert.seen as AlertInfo);
      expect((alert.seen as AlertInfo).labels.severity).toBe("critical");
      expect(endpoint.served.failed).toBeGreaterThan(0);
    } finally {
      endpoint.setFailing(false);
    }
    // The next retry (or the bot's next get_authentication_headers) gets a token.
    await waitResolved("RpiSwarmingTokenRefreshFailing", ours, 120_000);
  }, 300_000);

  it("fires RpiSwarmingTargetDown when the state server is killed, and resolves when it is back", async () => {
    const demo = pod as DemoPod;
    const isStateServer = (a: AlertInfo) => a.labels.container === "state-server";
    // The state server is back from the previous test first.
    await waitResolved("RpiSwarmingTargetDown", isStateServer, RESTART_DELAY_SECONDS * 1000 + RESOLVE_TIMEOUT_MS);
    const pid = demo.podProcessPid("state-server");
    expect(pid, "state server process of the demo").toBeDefined();
    process.kill(pid as number, "SIGKILL");
    const alert = await waitFiring("RpiSwarmingTargetDown", isStateServer);
    expect(alert.labels).toMatchObject({ namespace: NAMESPACE, node: NODE, endpoint: "state-server" });
    // The demo restarts it after RESTART_DELAY_SECONDS, as kubelet restarts a container.
    await waitResolved("RpiSwarmingTargetDown", isStateServer);
  }, 150_000);

  it("has series for every metric the dashboards and alert rules read", async () => {
    const used = new Map<string, string[]>();
    const note = (metric: string, where: string) => used.set(metric, [...(used.get(metric) ?? []), where]);
    for (const g of groups)
      for (const r of g.rules) for (const m of metricNames(r.expr)) note(m, r.alert ?? r.record ?? "");
    for (const d of dashboards) {
      for (const p of flatPanels(d)) {
        for (const q of panelQueries(p)) for (const m of metricNames(q.expr)) note(m, `${d.file}: ${p.title}`);
      }
      for (const v of d.templating?.list ?? []) {
        const q = typeof v.query === "string" ? v.query : v.query?.query;
        const sel = q ? /^label_values\(\s*(.+)\s*,\s*\w+\s*\)$/s.exec(q.trim())?.[1] : undefined;
        if (sel) for (const m of metricNames(sel)) note(m, `${d.file}: $${v.name}`);
      }
    }
    const missing: string[] = [];
    for (const [metric, where] of used) {
      const series = await api.series(`{__name__="${metric}"}`);
      if (series.length === 0) missing.push(`${metric} (used by ${[...new Set(where)].join(", ")})`);
    }
    expect(missing).toEqual([]);
  }, 60_000);

  it("gives every dashboard panel a title, description and unit, and data for each of its queries", async () => {
    const rangeSeconds = Math.max(60, Math.ceil(Date.now() / 1000 - runStart));
    const problems: string[] = [];
    let checked = 0;
    let panels = 0;
    for (const d of dashboards) {
      const vars = await resolveVariables(d, api, { rateInterval: "1m", interval: "15s", rangeSeconds });
      for (const p of flatPanels(d)) {
        panels += 1;
        const where = `${d.file}: panel ${p.id ?? "?"} "${p.title ?? ""}"`;
        for (const problem of panelProblems(p)) problems.push(`${where}: ${problem}`);
        for (const q of panelQueries(p)) {
          const expr = substitute(q.expr, vars);
          if (/\$\w|\[\[/.test(expr)) {
            problems.push(`${where} ${q.refId}: unresolved variable in ${expr}`);
            continue;
          }
          try {
            assertParses(expr, `${where} ${q.refId}`);
            const series = await api.queryRange(expr, rangeSeconds, 2);
            // A series of NaN only (e.g. a quantile of no observations) shows nothing in Grafana either.
            const points = series.flatMap((s) => s.values).filter(([, v]) => v !== "NaN");
            if (points.length === 0) problems.push(`${where} ${q.refId}: no data for ${expr}`);
            checked += 1;
          } catch (err) {
            problems.push(`${where} ${q.refId}: ${(err as Error).message}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(panels).toBeGreaterThan(0);
    expect(checked).toBeGreaterThanOrEqual(panels);
    process.stderr.write(`[prometheus e2e] ${panels} dashboard panels, ${checked} queries returned data\n`);
  }, 120_000);
});
