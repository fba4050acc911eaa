// Source of chart/dashboards/*.json (Grafana dashboards shipped by the chart).
// Run: node chart/tests/tools/dashboards.mjs chart/dashboards
// The chart suite checks that the JSON files equal what this writes.
import { mkdirSync, writeFileSync } from "node:fs";

// Grafana variables are written as ${name} inside plain strings, not JS templates.
// biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable reference
const ds = { type: "prometheus", uid: "${datasource}" };
const outDir = process.argv[2] ?? "chart/dashboards";
mkdirSync(outDir, { recursive: true });
let nextId = 1;
function target(expr, legend, extra = {}) {
  return { datasource: ds, expr, legendFormat: legend ?? "__auto", refId: "", range: true, instant: false, ...extra };
}
function panel(type, title, description, unit, gridPos, targets, extra = {}) {
  for (const [i, t] of targets.entries()) t.refId = String.fromCharCode(65 + i);
  const p = {
    id: nextId++,
    type,
    title,
    description,
    datasource: ds,
    gridPos,
    fieldConfig: { defaults: { unit, ...(extra.defaults ?? {}) }, overrides: extra.overrides ?? [] },
    options: extra.options ?? {},
    targets,
  };
  if (extra.transformations) p.transformations = extra.transformations;
  return p;
}
/** Horizontal bars: how many bots each reason of a per-reason 0/1 gauge holds now. */
const reasonBars = (title, desc, metric, x) =>
  panel(
    "bargauge",
    title,
    desc,
    "none",
    { h: 7, w: 6, x, y: 4 },
    [target(`sum by (reason) (rpi_swarming_${metric}{${B}})`, "{{reason}}", { instant: true, range: false })],
    {
      options: {
        orientation: "horizontal",
        displayMode: "basic",
        reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
      },
      defaults: { min: 0 },
    },
  );
const stat = (title, desc, unit, x, y, expr, extra = {}) =>
  panel(
    "stat",
    title,
    desc,
    unit,
    { h: 4, w: extra.w ?? 4, x, y },
    [target(expr, extra.legend ?? "", { instant: true, range: false })],
    {
      defaults: extra.defaults,
      options: {
        reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
        colorMode: "value",
        graphMode: "none",
        textMode: extra.textMode ?? "auto",
      },
    },
  );
const ts = (title, desc, unit, gridPos, targets, defaults = {}) =>
  panel("timeseries", title, desc, unit, gridPos, targets, {
    defaults: { custom: { drawStyle: "line", lineWidth: 1, fillOpacity: 10, spanNulls: false }, ...defaults },
    options: {
      legend: { displayMode: "list", placement: "bottom", showLegend: true },
      tooltip: { mode: "multi", sort: "desc" },
    },
  });
function dashboard(uid, title, description, vars, panels, tags) {
  return {
    uid,
    title,
    description,
    tags,
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: "1m",
    time: { from: "now-24h", to: "now" },
    timezone: "browser",
    links: [
      {
        type: "dashboards",
        tags: ["rpi-swarming"],
        asDropdown: false,
        title: "rpi-swarming",
        includeVars: true,
        keepTime: true,
      },
    ],
    annotations: { list: [] },
    templating: {
      list: [
        {
          name: "datasource",
          label: "Data source",
          type: "datasource",
          query: "prometheus",
          current: {},
          hide: 0,
          refresh: 1,
          regex: "",
        },
        ...vars,
      ],
    },
    panels,
  };
}
const bot = (multi) => ({
  name: "bot_id",
  label: "Bot",
  type: "query",
  datasource: ds,
  query: { query: "label_values(rpi_swarming_device_up, bot_id)", refId: "bot_id" },
  definition: "label_values(rpi_swarming_device_up, bot_id)",
  refresh: 2,
  sort: 1,
  hide: 0,
  multi,
  includeAll: multi,
  ...(multi ? { allValue: ".*", current: { selected: true, text: ["All"], value: ["$__all"] } } : { current: {} }),
});

// ---- fleet overview
const B = `bot_id=~"$bot_id"`;
const mapping01 = (zero, one) => ({
  mappings: [{ type: "value", options: { 0: { text: zero, color: "red" }, 1: { text: one, color: "green" } } }],
});
const fleet = [
  stat(
    "Bots up",
    "Swarming bot processes running (rpi_swarming_bot_up).",
    "none",
    0,
    0,
    `sum(rpi_swarming_bot_up{${B}}) or vector(0)`,
  ),
  stat(
    "Bots down",
    "Supervisors whose bot process is not running.",
    "none",
    4,
    0,
    `count(rpi_swarming_bot_up{${B}} == 0) or vector(0)`,
  ),
  stat(
    "Busy",
    "Bots running a task (between on_before_task and on_after_task).",
    "none",
    8,
    0,
    `sum(rpi_swarming_task_running{${B}}) or vector(0)`,
  ),
  stat(
    "Idle",
    "Bots up, not running a task, and neither in maintenance nor quarantined: ready for tasks.",
    "none",
    12,
    0,
    `count((rpi_swarming_bot_up{${B}} == 1) unless on (bot_id) (rpi_swarming_task_running == 1) unless on (bot_id) (max by (bot_id) (rpi_swarming_maintenance) == 1) unless on (bot_id) (max by (bot_id) (rpi_swarming_quarantined) == 1)) or vector(0)`,
  ),
  stat(
    "In maintenance",
    "Bots held in maintenance for any reason (battery low, too hot, operator, rebooting): they take no tasks.",
    "none",
    16,
    0,
    `count(max by (bot_id) (rpi_swarming_maintenance{${B}}) == 1) or vector(0)`,
  ),
  stat(
    "Quarantined",
    "Bots quarantined for any reason (device missing, unauthorized, offline, ...): they take no tasks.",
    "none",
    20,
    0,
    `count(max by (bot_id) (rpi_swarming_quarantined{${B}}) == 1) or vector(0)`,
  ),
  reasonBars("Maintenance by reason", "How many bots each maintenance reason holds right now.", "maintenance", 0),
  reasonBars("Quarantine by reason", "How many bots each quarantine reason holds right now.", "quarantined", 6),
  panel(
    "table",
    "Bot status",
    "One row per bot: bot process, device, task, maintenance and quarantine (1 = yes), battery. Click a bot for its detail dashboard.",
    "none",
    { h: 7, w: 12, x: 12, y: 4 },
    [
      target(`max by (bot_id) (rpi_swarming_bot_up{${B}})`, "", { instant: true, range: false, format: "table" }),
      target(`max by (bot_id) (rpi_swarming_device_up{${B}})`, "", { instant: true, range: false, format: "table" }),
      target(`max by (bot_id) (rpi_swarming_task_running{${B}})`, "", { instant: true, range: false, format: "table" }),
      target(`max by (bot_id) (rpi_swarming_maintenance{${B}})`, "", { instant: true, range: false, format: "table" }),
      target(`max by (bot_id) (rpi_swarming_quarantined{${B}})`, "", { instant: true, range: false, format: "table" }),
      target(`max by (bot_id) (rpi_swarming_device_battery_ratio{${B}})`, "", {
        instant: true,
        range: false,
        format: "table",
      }),
    ],
    {
      transformations: [
        { id: "merge", options: {} },
        {
          id: "organize",
          options: {
            excludeByName: { Time: true },
            renameByName: {
              "Value #A": "bot up",
              "Value #B": "device up",
              "Value #C": "task running",
              "Value #D": "maintenance",
              "Value #E": "quarantined",
              "Value #F": "battery",
            },
          },
        },
      ],
      overrides: [
        { matcher: { id: "byName", options: "battery" }, properties: [{ id: "unit", value: "percentunit" }] },
        {
          matcher: { id: "byName", options: "bot_id" },
          properties: [
            {
              id: "links",
              value: [
                {
                  title: "Bot detail",
                  // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variables
                  url: "/d/rpi-swarming-bot/rpi-swarming-bot?var-datasource=${datasource}&var-bot_id=${__value.text}&${__url_time_range}",
                },
              ],
            },
          ],
        },
      ],
      options: { showHeader: true, sortBy: [{ displayName: "bot_id", desc: false }] },
    },
  ),
  ts(
    "Battery charge per device",
    "Battery charge of each device (0-100 %); below the battery threshold the bot goes into maintenance.",
    "percentunit",
    { h: 8, w: 12, x: 0, y: 11 },
    [target(`rpi_swarming_device_battery_ratio{${B}}`, "{{bot_id}}")],
    { min: 0, max: 1 },
  ),
  ts(
    "Device temperature per device",
    "Hottest sensor of each device (battery, CPU, ...); above the temperature threshold the bot goes into maintenance.",
    "celsius",
    { h: 8, w: 12, x: 12, y: 11 },
    [target(`max by (bot_id) (rpi_swarming_device_temperature_celsius{${B}})`, "{{bot_id}}")],
  ),
  ts(
    "Bots by state",
    "Bots busy, in maintenance, quarantined and down over time.",
    "none",
    { h: 8, w: 12, x: 0, y: 19 },
    [
      target(`sum(rpi_swarming_task_running{${B}}) or vector(0)`, "busy"),
      target(`count(max by (bot_id) (rpi_swarming_maintenance{${B}}) == 1) or vector(0)`, "maintenance"),
      target(`count(max by (bot_id) (rpi_swarming_quarantined{${B}}) == 1) or vector(0)`, "quarantined"),
      target(`count(rpi_swarming_bot_up{${B}} == 0) or vector(0)`, "down"),
    ],
    { min: 0, decimals: 0 },
  ),
  ts(
    "Bot restarts by reason",
    "Bot process restarts per hour across the selected bots, by reason (exit, signal, reboot_request, update).",
    "suffix:/h",
    { h: 8, w: 12, x: 12, y: 19 },
    [target(`sum by (reason) (rate(rpi_swarming_bot_restarts_total{${B}}[$__rate_interval])) * 3600`, "{{reason}}")],
    { min: 0 },
  ),
  ts(
    "Hook requests by status code",
    "Requests of the bots' hook scripts to their state servers, by HTTP status.",
    "reqps",
    { h: 8, w: 8, x: 0, y: 27 },
    [target(`sum by (code) (rate(rpi_swarming_hook_requests_total{${B}}[$__rate_interval]))`, "{{code}}")],
    { min: 0 },
  ),
  ts(
    "Probe errors by reason",
    "Device probe cycles that found a problem, by reason.",
    "ops",
    { h: 8, w: 8, x: 8, y: 27 },
    [target(`sum by (reason) (rate(rpi_swarming_probe_errors_total{${B}}[$__rate_interval]))`, "{{reason}}")],
    { min: 0 },
  ),
  ts(
    "Bot code downloads and token refreshes",
    "Bot code downloads and OAuth token fetches by result.",
    "ops",
    { h: 8, w: 8, x: 16, y: 27 },
    [
      target(
        `sum by (result) (rate(rpi_swarming_bot_code_downloads_total{${B}}[$__rate_interval]))`,
        "download {{result}}",
      ),
      target(`sum by (result) (rate(rpi_swarming_token_refreshes_total{${B}}[$__rate_interval]))`, "token {{result}}"),
    ],
    { min: 0 },
  ),
  panel(
    "table",
    "Devices",
    "What each bot's device is (kind, type, OS, serial).",
    "none",
    { h: 8, w: 24, x: 0, y: 35 },
    [
      target(`max by (bot_id, device_kind, device_type, os, serial) (rpi_swarming_device_info{${B}})`, "", {
        instant: true,
        range: false,
        format: "table",
      }),
    ],
    {
      transformations: [{ id: "organize", options: { excludeByName: { Time: true, Value: true } } }],
      options: { showHeader: true },
    },
  ),
];
writeFileSync(
  `${outDir}/fleet-overview.json`,
  `${JSON.stringify(
    dashboard(
      "rpi-swarming-fleet",
      "rpi-swarming / Fleet overview",
      "How many Swarming bots are up, idle, busy, in maintenance or quarantined and why; battery and temperature of every device.",
      [bot(true)],
      fleet,
      ["rpi-swarming"],
    ),
    null,
    2,
  )}\n`,
);

// ---- bot detail
nextId = 1;
const D = `bot_id="$bot_id"`;
const detail = [
  stat(
    "Bot process",
    "Whether the supervisor's Swarming bot process runs.",
    "none",
    0,
    0,
    `max(rpi_swarming_bot_up{${D}})`,
    { w: 3, defaults: mapping01("stopped", "running") },
  ),
  stat(
    "Device",
    "Whether the device is attached and answered the last probe.",
    "none",
    3,
    0,
    `max(rpi_swarming_device_up{${D}})`,
    { w: 3, defaults: mapping01("missing", "up") },
  ),
  stat("Task", "Whether the bot runs a task now.", "none", 6, 0, `max(rpi_swarming_task_running{${D}})`, {
    w: 3,
    defaults: { mappings: [{ type: "value", options: { 0: { text: "idle" }, 1: { text: "busy" } } }] },
  }),
  stat(
    "Battery",
    "Battery charge from the last probe.",
    "percentunit",
    9,
    0,
    `max(rpi_swarming_device_battery_ratio{${D}})`,
    { w: 3 },
  ),
  stat(
    "Hottest sensor",
    "Highest device temperature from the last probe.",
    "celsius",
    12,
    0,
    `max(rpi_swarming_device_temperature_celsius{${D}})`,
    { w: 3 },
  ),
  stat("Device uptime", "Time since the device booted.", "s", 15, 0, `max(rpi_swarming_device_uptime_seconds{${D}})`, {
    w: 3,
  }),
  stat(
    "Bot process uptime",
    "Time since the current bot process started.",
    "s",
    18,
    0,
    `time() - max(rpi_swarming_bot_start_time_seconds{${D}})`,
    { w: 3 },
  ),
  stat(
    "Last probe age",
    "Time since the last finished device probe; grows when probes hang.",
    "s",
    21,
    0,
    `time() - max(rpi_swarming_last_probe_timestamp_seconds{${D}})`,
    { w: 3 },
  ),
  ts(
    "Maintenance reasons",
    "1 while a reason holds the bot in maintenance (battery_low, too_hot, operator, rebooting).",
    "none",
    { h: 7, w: 12, x: 0, y: 4 },
    [target(`max by (reason) (rpi_swarming_maintenance{${D}})`, "{{reason}}")],
    { min: 0, max: 1, decimals: 0 },
  ),
  ts(
    "Quarantine reasons",
    "1 while a reason quarantines the bot (device_missing, unauthorized, offline, ...).",
    "none",
    { h: 7, w: 12, x: 12, y: 4 },
    [target(`max by (reason) (rpi_swarming_quarantined{${D}})`, "{{reason}}")],
    { min: 0, max: 1, decimals: 0 },
  ),
  ts(
    "Battery and charging",
    "Battery charge (0-100 %) and whether it charges (100 % = charging).",
    "percentunit",
    { h: 8, w: 12, x: 0, y: 11 },
    [
      target(`max(rpi_swarming_device_battery_ratio{${D}})`, "charge"),
      target(`max(rpi_swarming_device_charging{${D}})`, "charging"),
    ],
    { min: 0, max: 1 },
  ),
  ts(
    "Temperatures by sensor",
    "Every device temperature sensor from the probes.",
    "celsius",
    { h: 8, w: 12, x: 12, y: 11 },
    [target(`max by (sensor) (rpi_swarming_device_temperature_celsius{${D}})`, "{{sensor}}")],
  ),
  ts(
    "Probe duration",
    "Median and 95th percentile duration of one device probe cycle.",
    "s",
    { h: 8, w: 8, x: 0, y: 19 },
    [
      target(
        `histogram_quantile(0.5, sum by (le) (rate(rpi_swarming_probe_duration_seconds_bucket{${D}}[$__rate_interval])))`,
        "p50",
      ),
      target(
        `histogram_quantile(0.95, sum by (le) (rate(rpi_swarming_probe_duration_seconds_bucket{${D}}[$__rate_interval])))`,
        "p95",
      ),
    ],
    { min: 0 },
  ),
  ts(
    "Probes and probe errors",
    "Probe cycles per second, and those that found a problem by reason.",
    "ops",
    { h: 8, w: 8, x: 8, y: 19 },
    [
      target(`sum(rate(rpi_swarming_probes_total{${D}}[$__rate_interval]))`, "probes"),
      target(`sum by (reason) (rate(rpi_swarming_probe_errors_total{${D}}[$__rate_interval]))`, "error {{reason}}"),
    ],
    { min: 0 },
  ),
  ts(
    "Recovery actions",
    "Recovery ladder steps taken (reconnect, restart_server, reboot) by result.",
    "ops",
    { h: 8, w: 8, x: 16, y: 19 },
    [
      target(
        `sum by (action, result) (rate(rpi_swarming_recovery_actions_total{${D}}[$__rate_interval]))`,
        "{{action}} {{result}}",
      ),
    ],
    { min: 0 },
  ),
  ts(
    "Hook requests",
    "Hook API requests of the bot's hook script by hook and HTTP status.",
    "reqps",
    { h: 8, w: 12, x: 0, y: 27 },
    [
      target(
        `sum by (hook, code) (rate(rpi_swarming_hook_requests_total{${D}}[$__rate_interval]))`,
        "{{hook}} {{code}}",
      ),
    ],
    { min: 0 },
  ),
  ts(
    "Hook latency (p95)",
    "95th percentile hook API latency by hook.",
    "s",
    { h: 8, w: 12, x: 12, y: 27 },
    [
      target(
        `histogram_quantile(0.95, sum by (hook, le) (rate(rpi_swarming_hook_duration_seconds_bucket{${D}}[$__rate_interval])))`,
        "{{hook}}",
      ),
    ],
    { min: 0 },
  ),
  ts(
    "Bot restarts and reboot requests",
    "Bot process restarts per hour by reason, and reboots the bot asked for through sudo.",
    "suffix:/h",
    { h: 8, w: 8, x: 0, y: 35 },
    [
      target(
        `sum by (reason) (rate(rpi_swarming_bot_restarts_total{${D}}[$__rate_interval])) * 3600`,
        "restart {{reason}}",
      ),
      target(`sum(rate(rpi_swarming_bot_reboot_requests_total{${D}}[$__rate_interval])) * 3600`, "reboot request"),
    ],
    { min: 0 },
  ),
  ts(
    "Bot code downloads and update checks",
    "Bot code downloads and scheduled update checks by result.",
    "ops",
    { h: 8, w: 8, x: 8, y: 35 },
    [
      target(
        `sum by (result) (rate(rpi_swarming_bot_code_downloads_total{${D}}[$__rate_interval]))`,
        "download {{result}}",
      ),
      target(
        `sum by (result) (rate(rpi_swarming_bot_code_update_checks_total{${D}}[$__rate_interval]))`,
        "check {{result}}",
      ),
    ],
    { min: 0 },
  ),
  ts(
    "Bot code download time and throughput",
    "95th percentile duration of successful downloads, and bytes received per second.",
    "s",
    { h: 8, w: 8, x: 16, y: 35 },
    [
      target(
        `histogram_quantile(0.95, sum by (le) (rate(rpi_swarming_bot_code_download_duration_seconds_bucket{${D}}[$__rate_interval])))`,
        "p95 duration",
      ),
      target(`sum(rate(rpi_swarming_bot_code_download_bytes_total{${D}}[$__rate_interval]))`, "bytes/s"),
    ],
    { min: 0 },
  ),
  ts(
    "Token refreshes",
    "OAuth token fetches by result (both processes).",
    "ops",
    { h: 8, w: 8, x: 0, y: 43 },
    [target(`sum by (result) (rate(rpi_swarming_token_refreshes_total{${D}}[$__rate_interval]))`, "{{result}}")],
    { min: 0 },
  ),
  ts(
    "Memory",
    "Resident memory of the supervisor and the state server processes.",
    "bytes",
    { h: 8, w: 8, x: 8, y: 43 },
    [target(`process_resident_memory_bytes{${D}}`, "{{instance}}")],
    { min: 0 },
  ),
  ts(
    "CPU",
    "CPU time used by each process, as a fraction of one core.",
    "percentunit",
    { h: 8, w: 8, x: 16, y: 43 },
    [target(`rate(process_cpu_seconds_total{${D}}[$__rate_interval])`, "{{instance}}")],
    { min: 0 },
  ),
  panel(
    "table",
    "Versions and device",
    "Bot code version in place (supervisor), version the hook script reports, and what the device is.",
    "none",
    { h: 6, w: 24, x: 0, y: 51 },
    [
      target(`max by (version) (rpi_swarming_bot_code_info{${D}})`, "", {
        instant: true,
        range: false,
        format: "table",
      }),
      target(`max by (version) (rpi_swarming_bot_reported_version_info{${D}})`, "", {
        instant: true,
        range: false,
        format: "table",
      }),
      target(`max by (device_kind, device_type, os, serial) (rpi_swarming_device_info{${D}})`, "", {
        instant: true,
        range: false,
        format: "table",
      }),
    ],
    {
      transformations: [
        { id: "merge", options: {} },
        {
          id: "organize",
          options: { excludeByName: { Time: true, "Value #A": true, "Value #B": true, "Value #C": true } },
        },
      ],
      options: { showHeader: true },
    },
  ),
];
// The download panel mixes seconds and bytes/s: give the second query its own unit.
const dl = detail.find((p) => p.title.startsWith("Bot code download time"));
dl.fieldConfig.overrides = [
  { matcher: { id: "byFrameRefID", options: "B" }, properties: [{ id: "unit", value: "Bps" }] },
];
const _bc = detail.find((p) => p.title === "Battery and charging");
writeFileSync(
  `${outDir}/bot-detail.json`,
  `${JSON.stringify(
    dashboard(
      "rpi-swarming-bot",
      "rpi-swarming / Bot detail",
      "One Swarming bot and its device in detail: health, battery, temperatures, probes, hooks, bot process and bot code.",
      [bot(false)],
      detail,
      ["rpi-swarming"],
    ),
    null,
    2,
  )}\n`,
);
