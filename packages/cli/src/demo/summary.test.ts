import { describe, expect, it } from "vitest";
import type { Pod } from "./pod.js";
import { type PodSnapshot, renderSummary } from "./summary.js";

const pod = {
  workDir: "/tmp/pod",
  logDir: "/tmp/pod/logs",
  maintenanceDir: "/tmp/pod/maintenance",
  double: {},
  urls: {
    swarming: "http://127.0.0.1:1",
    doubleBots: "http://127.0.0.1:1/bots",
    doubleState: "http://127.0.0.1:1/_double/state",
    hooks: "http://127.0.0.1:2",
    status: "http://127.0.0.1:2/status",
    stateMetrics: "http://127.0.0.1:3/metrics",
    supervisorMetrics: "http://127.0.0.1:4/metrics",
    supervisorHealth: "http://127.0.0.1:4/healthz",
    simulatedControl: "http://127.0.0.1:5/control",
  },
} as unknown as Pod;

const now = Date.parse("2026-11-27T20:00:10Z");
const snap: PodSnapshot = {
  status: {
    bot_version: "5f1e0a3b2c4d5e6f",
    device_kind: "simulated",
    task_running: true,
    task_id: "t1",
    health: { status: "maintenance", maintenance: [{ reason: "battery_low", message: "Battery low: 12% < 30%" }] },
    dimensions: { id: ["b1"], device_type: ["sargo"], device_os: ["Q", "QQ2A"] },
    state: { battery: { ratio: 0.12 }, temperatures_celsius: { cpu0: 31.5 }, device_uptime_seconds: 99.4 },
  },
  statusError: undefined,
  supervisor: { ok: true, bot_running: true, bot_code_version: "ffff" },
  supervisorError: undefined,
  doubleBot: { polls: 7, lastSeen: "2026-11-27T20:00:07Z", maintenance: "Battery low: 12% < 30%" },
  takenAt: now,
};

describe("renderSummary", () => {
  it("shows the bot, health, task, device, dimensions, what Swarming sees and the URLs", () => {
    const text = renderSummary(pod, "b1", snap, true);
    expect(text).toContain("bot           running, version 5f1e0a3b2c4d…, 7 polls, last seen 3 s ago");
    expect(text).toContain("health        maintenance: Battery low: 12% < 30%");
    expect(text).toContain("task          running t1");
    expect(text).toContain("device        simulated: battery 12%; cpu0 31.5°C; up 99 s");
    expect(text).toContain("dimensions    device_type=sargo  device_os=Q,QQ2A");
    expect(text).not.toContain("id=b1");
    expect(text).toContain("Swarming sees maintenance: Battery low");
    for (const url of ["/status", ":3/metrics", ":4/metrics", "/bots", "/control"]) expect(text).toContain(url);
  });

  it("leaves out what changes every second when not live", () => {
    const text = renderSummary(pod, "b1", snap, false);
    expect(text).not.toContain("last seen");
    expect(text).not.toContain("up 99 s");
  });

  it("says when parts do not answer", () => {
    const down: PodSnapshot = {
      ...snap,
      status: undefined,
      statusError: "ECONNREFUSED",
      supervisor: undefined,
      supervisorError: "ECONNREFUSED",
      doubleBot: undefined,
    };
    const text = renderSummary(pod, "b1", down, true);
    expect(text).toContain("supervisor not answering (ECONNREFUSED)");
    expect(text).toContain("state server  not answering (ECONNREFUSED): the bot quarantines itself");
    expect(text).not.toContain("Swarming sees");
  });
});
