/**
 * The recovery ladder's power-cycle rung and POST /power_cycle, end to end in
 * the state server: the real android driver over the fake adb, the uhubctl
 * controller over the fake uhubctl, whose port power the fake adb sees.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { createLogger } from "@rpi-swarming/core";
import { waitFor } from "@rpi-swarming/core/test-support";
import {
  AndroidDriver,
  FAKE_ADB_PATH,
  FAKE_UHUBCTL_PATH,
  FakeAdbScenario,
  FakeUhubctlScenario,
} from "@rpi-swarming/devices";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scratchDir, testConfig, testLogger } from "./__fixtures__/helpers.js";
import { type StateServer, startStateServer } from "./server.js";

let server: StateServer | undefined;
let adb: FakeAdbScenario;
let hubs: FakeUhubctlScenario;
let scratch: ReturnType<typeof scratchDir>;

beforeEach(() => {
  scratch = scratchDir();
  adb = new FakeAdbScenario();
  hubs = new FakeUhubctlScenario()
    .hub("1-1", "ppps", 4, "2109:3431 USB2.0 Hub, USB 2.10")
    .attach("1-1", 2, "18d1:4ee7 Google Pixel 3a 8A2Y0B3C");
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  adb.remove();
  hubs.remove();
  scratch.cleanup();
});

async function start(flags: Record<string, unknown> = {}, log = testLogger()): Promise<StateServer> {
  const config = testConfig(
    {
      device: "android",
      adbPath: FAKE_ADB_PATH,
      probeIntervalSeconds: "3600",
      commandTimeoutSeconds: "2",
      maxTemperatureCelsius: "40",
      powerController: "uhubctl",
      uhubctlPath: FAKE_UHUBCTL_PATH,
      powerOffSeconds: "0.05",
      powerSettleSeconds: "60",
      powerCyclesPerHour: "1",
      powerCycleCooldownSeconds: "0",
      ...flags,
    },
    scratch.dir,
  );
  const env = { ...adb.env, ...hubs.env };
  const driver = new AndroidDriver({
    adbPath: config.adbPath,
    serial: config.serial,
    commandTimeoutSeconds: config.commandTimeoutSeconds,
    log,
    env,
    reconnectSettleMs: 10,
  });
  server = await startStateServer(config, { log, driver, maintenancePollMs: 50, powerEnv: env });
  return server;
}

async function metric(name: string): Promise<string[]> {
  return (await server?.registry.getSingleMetricAsString(name))?.split("\n") ?? [];
}

async function status(): Promise<Record<string, unknown>> {
  return (await (await fetch(`${server?.hookUrl}/status`)).json()) as Record<string, unknown>;
}

async function post(path: string, body: unknown = {}) {
  const res = await fetch(`${server?.hookUrl}${path}`, { method: "POST", body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** A phone stuck offline: reconnect, a new adb server and `adb reboot` cannot help it. */
function hungPhone(): void {
  adb.devices([["8A2Y0B3C", "offline", "pixel3a-sargo-q"]]);
}

describe("power cycle on the recovery ladder", () => {
  it("climbs to power_cycle after reboot, cuts the port's power, and the phone comes back", async () => {
    hungPhone();
    const s = await start();
    for (let i = 0; i < 3; i++) await s.monitor.probeNow();
    expect((await status()).recovery_tried).toEqual(["reconnect", "restart_server", "reboot"]);
    expect(hubs.calls()).toEqual([]);
    await s.monitor.probeNow();
    expect(hubs.calls()).toEqual(["-l 1-1 -p 2 -a off", "-l 1-1 -p 2 -a on"]);
    expect(hubs.powered("1-1", 2)).toBe(true);
    const during = await status();
    expect(during.rebooting).toMatchObject({ cause: "recovery", via: "power_cycle" });
    expect(JSON.stringify(during.health)).toMatch(
      /Power-cycled android device 8A2Y0B3C to recover it; waiting up to 60 s/,
    );
    await s.monitor.probeNow();
    const after = await status();
    expect(after.health).toMatchObject({ status: "ok" });
    expect(after.rebooting).toBeNull();
    expect(after.recovery_tried).toEqual([]);
    expect(await metric("rpi_swarming_device_power_cycles_total")).toContain(
      'rpi_swarming_device_power_cycles_total{result="ok",bot_id="test-bot-1"} 1',
    );
    expect(await metric("rpi_swarming_recovery_actions_total")).toContain(
      'rpi_swarming_recovery_actions_total{action="power_cycle",result="success",bot_id="test-bot-1"} 1',
    );
    // A power cycle is not a device reboot.
    expect((await metric("rpi_swarming_device_reboots_total")).join("\n")).not.toMatch(/result="success"/);
  });

  it("power-cycles a phone that did not come back from its reboot, and it comes back", async () => {
    adb.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    // `adb reboot` works, but the phone never shows up again (a boot loop).
    adb.set("reboot-listings", "100000");
    const s = await start({ rebootTimeoutSeconds: "0.2" });
    await s.monitor.probeNow();
    // The phone cuts every probe short; reconnect and a new adb server do not help.
    adb.set("shell-bytes", "20");
    for (let i = 0; i < 3; i++) await s.monitor.probeNow();
    expect(adb.calls()).toContain("-s 8A2Y0B3C reboot");
    expect((await status()).rebooting).toMatchObject({ cause: "recovery" });
    adb.set("shell-bytes", undefined);
    await waitFor("the reboot timeout", async () => {
      await s.monitor.probeNow();
      return JSON.stringify((await status()).health).includes("reboot_timeout");
    });
    expect(hubs.calls()).toEqual([]);
    await s.monitor.probeNow();
    expect(hubs.calls()).toEqual(["-l 1-1 -p 2 -a off", "-l 1-1 -p 2 -a on"]);
    await s.monitor.probeNow();
    expect((await status()).health).toMatchObject({ status: "ok" });
    const actions = await metric("rpi_swarming_recovery_actions_total");
    expect(actions).toContain(
      'rpi_swarming_recovery_actions_total{action="reboot",result="failure",bot_id="test-bot-1"} 1',
    );
    expect(actions).toContain(
      'rpi_swarming_recovery_actions_total{action="power_cycle",result="success",bot_id="test-bot-1"} 1',
    );
    expect(await metric("rpi_swarming_device_reboots_total")).toContain(
      'rpi_swarming_device_reboots_total{cause="recovery",result="timeout",bot_id="test-bot-1"} 1',
    );
  });

  it("holds a second power cycle within the hour at the cap: the phone is quarantined instead", async () => {
    hungPhone();
    const s = await start();
    for (let i = 0; i < 5; i++) await s.monitor.probeNow();
    expect((await status()).health).toMatchObject({ status: "ok" });
    hungPhone();
    for (let i = 0; i < 6; i++) await s.monitor.probeNow();
    // Still only the first cycle's two calls.
    expect(hubs.calls()).toHaveLength(2);
    const st = await status();
    expect(st.health).toMatchObject({ status: "quarantined", quarantined: [{ reason: "offline" }] });
    expect(st.recovery_tried).toEqual(["reconnect", "restart_server", "reboot"]);
    expect(JSON.stringify(st.health)).toMatch(
      /recovery tried without success: reconnect, restart_server, reboot\); no power cycle: powerCyclesPerHour reached/,
    );
    const cycles = await metric("rpi_swarming_device_power_cycles_total");
    expect(cycles).toContain('rpi_swarming_device_power_cycles_total{result="capped",bot_id="test-bot-1"} 1');
    expect(cycles).toContain('rpi_swarming_device_power_cycles_total{result="ok",bot_id="test-bot-1"} 1');
  });

  it("counts a failed power cycle (a port the hub lacks) and ends the ladder", async () => {
    hungPhone();
    const s = await start({ powerHubLocation: "1-1", powerHubPort: "7" });
    for (let i = 0; i < 5; i++) await s.monitor.probeNow();
    expect(await metric("rpi_swarming_device_power_cycles_total")).toContain(
      'rpi_swarming_device_power_cycles_total{result="failed",bot_id="test-bot-1"} 1',
    );
    expect(await metric("rpi_swarming_recovery_actions_total")).toContain(
      'rpi_swarming_recovery_actions_total{action="power_cycle",result="failure",bot_id="test-bot-1"} 1',
    );
    expect((await status()).health).toMatchObject({ status: "quarantined" });
  });
});

describe("POST /power_cycle", () => {
  it("power-cycles on request, then refuses by the cap (429, Retry-After) unless forced", async () => {
    adb.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    const s = await start();
    await s.monitor.probeNow();
    const first = await post("/power_cycle", { reason: "screen frozen" });
    expect(first).toMatchObject({ status: 200, body: { ok: true, off_seconds: 0.05, settle_seconds: 60 } });
    expect(hubs.calls()).toEqual(["-l 1-1 -p 2 -a off", "-l 1-1 -p 2 -a on"]);
    const capped = await post("/power_cycle");
    expect(capped.status).toBe(429);
    expect(capped.body.error).toBe("TooManyRequestsError");
    expect(capped.body.message).toMatch(
      /^the device was power-cycled 1 times in the last hour \(powerCyclesPerHour 1\); retry in \d+ s, or force it$/,
    );
    expect(Number(capped.headers.get("retry-after"))).toBeGreaterThan(3500);
    expect((await post("/power_cycle", { force: true })).status).toBe(200);
    expect(hubs.calls()).toHaveLength(4);
    const cycles = await metric("rpi_swarming_device_power_cycles_total");
    expect(cycles).toContain('rpi_swarming_device_power_cycles_total{result="ok",bot_id="test-bot-1"} 2');
    expect(cycles).toContain('rpi_swarming_device_power_cycles_total{result="capped",bot_id="test-bot-1"} 1');
    await s.monitor.probeNow();
    expect((await status()).health).toMatchObject({ status: "ok" });
  });

  it("refuses while a task runs (409), and an unknown body key (400)", async () => {
    adb.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    await start({ powerCyclesPerHour: "5" });
    expect((await post("/on_before_task", { task_id: "t1" })).status).toBe(200);
    const refused = await post("/power_cycle", { force: true });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toBe("a task is running (t1); the device's power is not cut under it");
    expect((await post("/power_cycle", { forse: true })).status).toBe(400);
    expect(hubs.calls()).toEqual([]);
    expect(await metric("rpi_swarming_device_power_cycles_total")).toContain(
      'rpi_swarming_device_power_cycles_total{result="task_running",bot_id="test-bot-1"} 1',
    );
  });

  it("says 501 without a power controller, and 502 with uhubctl's words when the switch fails", async () => {
    adb.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    await start({ powerController: "none" });
    const none = await post("/power_cycle");
    expect(none.status).toBe(501);
    expect(none.body.message).toMatch(/^no power controller is configured \(powerController none\)/);
    await server?.close();
    server = undefined;
    const s = await start({ powerHubLocation: "1-4", powerHubPort: "1" });
    await s.monitor.probeNow();
    const failed = await post("/power_cycle");
    expect(failed.status).toBe(502);
    expect(failed.body.message).toMatch(/No compatible devices detected at location 1-4!/);
    expect((await status()).rebooting).toBeNull();
  });
});

describe("powerController http", () => {
  it("switches a plug, and never logs or answers its token when the plug fails", async () => {
    const TOKEN = "plug-token-5f2c9e";
    const seen: string[] = [];
    let failWith = 0;
    const plug: Server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      res.writeHead(failWith || 200).end(failWith ? "relay busy" : "{}");
    });
    await new Promise<void>((resolve) => plug.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(plug.address() as AddressInfo).port}`;
    const lines: string[] = [];
    const log = createLogger({
      level: "trace",
      stream: new Writable({
        write(chunk, _e, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    });
    try {
      adb.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
      const request = (action: string) => ({
        url: `${url}/relay/0?turn=${action}&token=${TOKEN}`,
        headers: { Authorization: `Bearer ${TOKEN}` },
      });
      const s = await start(
        {
          powerController: "http",
          powerHttp: JSON.stringify({ off: request("off"), on: request("on") }),
          powerCyclesPerHour: "5",
        },
        log,
      );
      await s.monitor.probeNow();
      expect((await post("/power_cycle")).status).toBe(200);
      expect(seen).toEqual([
        `POST /relay/0?turn=off&token=${TOKEN} Bearer ${TOKEN}`,
        `POST /relay/0?turn=on&token=${TOKEN} Bearer ${TOKEN}`,
      ]);
      failWith = 503;
      const failed = await post("/power_cycle");
      expect(failed.status).toBe(502);
      expect(failed.body.message).toBe(
        `power off request POST ${url}/relay/0?turn=off&token=<redacted> answered 503: relay busy`,
      );
      expect(lines.some((l) => l.includes("power cycle failed"))).toBe(true);
      expect(lines.filter((l) => l.includes(TOKEN))).toEqual([]);
    } finally {
      plug.closeAllConnections();
      await new Promise<void>((resolve) => plug.close(() => resolve()));
    }
  });
});
