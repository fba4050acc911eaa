import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NotReadyError } from "@rpi-swarming/core";
import type { SimulatedDriver } from "@rpi-swarming/devices";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { failing, healthy, ScriptedDriver, scratchDir, testConfig, testLogger } from "./__fixtures__/helpers.js";
import { type StateServer, type StateServerDeps, startStateServer } from "./server.js";

let server: StateServer | undefined;
let scratch: ReturnType<typeof scratchDir>;

beforeEach(() => {
  scratch = scratchDir();
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  scratch.cleanup();
});

async function start(flags: Record<string, unknown> = {}, deps: Partial<StateServerDeps> = {}): Promise<StateServer> {
  server = await startStateServer(
    testConfig({ device: "simulated", probeIntervalSeconds: "3600", ...flags }, scratch.dir),
    {
      log: testLogger(),
      maintenancePollMs: 50,
      ...deps,
    },
  );
  return server;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server?.hookUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function json(path: string, body: unknown = {}): Promise<Record<string, unknown>> {
  const res = await post(path, body);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function getJson(path: string, base = server?.hookUrl): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function control(patch: Record<string, unknown>): Promise<Response> {
  const url = (server?.driver as SimulatedDriver | undefined)?.controlUrl ?? "http://127.0.0.1:1/unset";
  return fetch(url, { method: "POST", body: JSON.stringify(patch) });
}

describe("state server with the simulated device", () => {
  it("binds the hooks and the metrics on the configured addresses and becomes ready after the first probe", async () => {
    const s = await start();
    expect(s.hookUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await waitFor(async () => (await fetch(`${s.metricsUrl}/readyz`)).status === 200, "readyz");
    expect(await getJson("/healthz", s.metricsUrl)).toEqual({ ok: true });
  });

  it("answers get_dimensions with bot, static and device dimensions and the bot id", async () => {
    await start({ staticDimensions: ["pool=Skia", "zone=rack3"] });
    await server?.monitor.probeNow();
    const dims = await json("/get_dimensions", { id: ["someone-else"], os: ["Linux"], cpu: ["arm", "arm-32"] });
    expect(dims).toMatchObject({
      id: ["test-bot-1"],
      pool: ["Skia"],
      zone: ["rack3"],
      cpu: ["arm", "arm-32"],
      os: ["Android"],
      android_devices: ["1"],
      device_type: ["sargo"],
    });
    expect(await json("/get_dimensions", "")).toMatchObject({ id: ["test-bot-1"] });
  });

  it("answers get_state with the bot's keys, the device facts and static state", async () => {
    await start({ staticState: ["rack=A3"] });
    await server?.monitor.probeNow();
    const state = await json("/get_state", { cwd: "/b/s", quarantined: "bot says no" });
    expect(state).toMatchObject({
      cwd: "/b/s",
      rack: "A3",
      task_running: false,
      device: { kind: "simulated", serial: "SIMULATED0001", simulated: true, connection: "device" },
      battery: { ratio: 0.9, charging: false },
      quarantined: "bot says no",
    });
    expect(typeof state.last_probe_time).toBe("number");
    expect(state.temperatures_celsius).toHaveProperty("cpu0");
    expect(state).not.toHaveProperty("maintenance");
  });

  it("reports a low battery as maintenance after the next probe, and the status says why", async () => {
    await start();
    await server?.monitor.probeNow();
    expect((await control({ batteryRatio: 0.12 })).status).toBe(200);
    await server?.monitor.probeNow();
    expect((await json("/get_state")).maintenance).toBe("Battery low: 12% < 30%");
    const status = await getJson("/status");
    expect(status).toMatchObject({
      bot_id: "test-bot-1",
      device_kind: "simulated",
      simulated: true,
      ready: true,
      // No hook yet: the state server cannot tell.
      task_running: "unknown",
      bot_version: "unknown",
      health: { status: "maintenance", maintenance: [{ reason: "battery_low", message: "Battery low: 12% < 30%" }] },
      last_probe: { spawns: 0, problem: null },
    });
  });

  it("probes on demand through POST /probe and answers the status it led to", async () => {
    await start();
    await server?.monitor.probeNow();
    expect((await control({ unplugged: true })).status).toBe(200);
    // The interval is an hour: only the on-demand probe can see the phone go.
    const status = await json("/probe");
    expect(status).toMatchObject({ health: { status: "quarantined", quarantined: [{ reason: "device_missing" }] } });
    expect((await json("/get_state")).quarantined).toMatch(/SIMULATED0001/);
    const metrics = await (await fetch(`${server?.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/rpi_swarming_hook_requests_total\{[^}]*hook="probe"[^}]*\} 1/);
  });

  it("joins its quarantine message with the bot's own", async () => {
    await start();
    await control({ unauthorized: true });
    await server?.monitor.probeNow();
    const state = await json("/get_state", { quarantined: "disk full" });
    expect(state.quarantined).toMatch(/^disk full; Android device SIMULATED0001 is unauthorized/);
  });

  it("exports the documented metrics with the bot_id label", async () => {
    await start({ staticDimensions: ["pool=x"] });
    await server?.monitor.probeNow();
    await json("/get_dimensions");
    await fetch(`${server?.hookUrl}/nope`);
    const res = await fetch(`${server?.metricsUrl}/metrics`);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    for (const line of [
      'rpi_swarming_device_up{bot_id="test-bot-1"} 1',
      'rpi_swarming_device_info{device_kind="simulated",device_type="sargo",os="Q,QQ2A.200305.002,QQ2A.200305.002_6124905",serial="SIMULATED0001",bot_id="test-bot-1"} 1',
      'rpi_swarming_device_battery_ratio{bot_id="test-bot-1"} 0.9',
      'rpi_swarming_device_charging{bot_id="test-bot-1"} 0',
      'rpi_swarming_maintenance{reason="battery_low",bot_id="test-bot-1"} 0',
      'rpi_swarming_quarantined{reason="device_missing",bot_id="test-bot-1"} 0',
      'rpi_swarming_task_running{bot_id="test-bot-1"} 0',
      'rpi_swarming_hook_requests_total{hook="get_dimensions",code="200",bot_id="test-bot-1"} 1',
      'rpi_swarming_hook_requests_total{hook="unknown",code="404",bot_id="test-bot-1"} 1',
    ])
      expect(text).toContain(line);
    for (const name of [
      'rpi_swarming_device_temperature_celsius{sensor="cpu0"',
      "rpi_swarming_device_uptime_seconds",
      "rpi_swarming_probe_duration_seconds_bucket",
      "rpi_swarming_probes_total",
      "rpi_swarming_last_probe_timestamp_seconds",
      'rpi_swarming_hook_duration_seconds_bucket{le="0.005",bot_id="test-bot-1",hook="get_dimensions"}',
      "process_resident_memory_bytes",
    ])
      expect(text).toContain(name);
  });

  it("rejects bad input with a 4xx JSON error naming the problem and keeps serving", async () => {
    await start();
    const bad = await post("/get_dimensions", "{not json");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: "InvalidInputError",
      message: expect.stringContaining("not valid JSON"),
    });

    const types = await post("/get_dimensions", { pool: "Skia" });
    expect(types.status).toBe(400);
    expect(((await types.json()) as Record<string, unknown>).message).toContain("body.pool");

    const notObject = await post("/get_state", [1, 2]);
    expect(notObject.status).toBe(400);

    const huge = await post("/get_state", JSON.stringify({ x: "a".repeat(1024 * 1024 + 10) }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: "PayloadTooLargeError" });

    const unknown = await fetch(`${server?.hookUrl}/get_everything`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: "NotFoundError" });

    const method = await fetch(`${server?.hookUrl}/get_dimensions`);
    expect(method.status).toBe(405);
    expect(((await method.json()) as Record<string, unknown>).error).toBeTruthy();
    expect((await fetch(`${server?.hookUrl}/on_after_task`, { method: "PUT" })).status).toBe(405);

    expect((await post("/on_before_task", { task_id: 42 })).status).toBe(400);
    expect(await json("/get_dimensions")).toHaveProperty("id");
  });

  it("keeps answering hooks in milliseconds while the device hangs", async () => {
    await start({ commandTimeoutSeconds: "1" });
    await server?.monitor.probeNow();
    await control({ hung: true });
    const hungProbe = server?.monitor.probeNow();
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await json(i % 2 ? "/get_state" : "/get_dimensions");
      times.push(performance.now() - t);
    }
    expect(Math.max(...times)).toBeLessThan(250);
    await hungProbe;
    const state = await json("/get_state");
    expect(state.quarantined).toMatch(/did not answer within 1 s/);
  });

  it("picks up operator maintenance files without a restart", async () => {
    await start();
    await server?.monitor.probeNow();
    const path = join(scratch.dir, "test-bot-1");
    writeFileSync(path, "Replacing the USB hub\n");
    await waitFor(async () => typeof (await json("/get_state")).maintenance === "string", "maintenance on");
    expect((await json("/get_state")).maintenance).toBe(`Replacing the USB hub (operator, ${path})`);
    writeFileSync(join(scratch.dir, "all"), "");
    await waitFor(async () => String((await json("/get_state")).maintenance).includes("; "), "both messages");
    rmSync(path);
    rmSync(join(scratch.dir, "all"));
    await waitFor(async () => (await json("/get_state")).maintenance === undefined, "maintenance off");
    const metrics = await (await fetch(`${server?.metricsUrl}/metrics`)).text();
    expect(metrics).toContain('rpi_swarming_maintenance{reason="operator",bot_id="test-bot-1"} 0');
  });

  it("records the bot version and counts requests from another bot id", async () => {
    await start();
    const res = await post("/on_bot_startup", {}, { "X-Swarming-Bot-Version": "abc123", "X-Swarming-Bot-Id": "other" });
    expect(await res.json()).toEqual({ ok: true });
    const status = await getJson("/status");
    expect(status.bot_version).toBe("abc123");
    expect(typeof status.bot_last_seen).toBe("string");
    const metrics = await (await fetch(`${server?.metricsUrl}/metrics`)).text();
    expect(metrics).toContain('rpi_swarming_bot_reported_version_info{version="abc123",bot_id="test-bot-1"} 1');
    expect(metrics).toContain('rpi_swarming_hook_bot_id_mismatches_total{bot_id="test-bot-1"} 1');
  });

  it("marks a task running between on_before_task and on_after_task (POST or GET)", async () => {
    await start({ rebootAfterTask: false });
    expect(await json("/on_before_task", { task_id: "t-1" })).toEqual({ ok: true });
    expect(await getJson("/status")).toMatchObject({ task_running: true, task_id: "t-1" });
    expect((await json("/get_state")).task_running).toBe(true);
    expect(await getJson("/on_after_task")).toEqual({ ok: true, reboot: false });
    expect(await getJson("/status")).toMatchObject({ task_running: false, task_id: null });
    await getJson("/on_before_task?task_id=t-2");
    expect((await getJson("/status")).task_id).toBe("t-2");
    expect(await json("/on_bot_shutdown")).toEqual({ ok: true });
    expect((await getJson("/status")).task_running).toBe(false);
  });

  it("reboots the device after a task, reports it as maintenance until the device answers", async () => {
    await start({ rebootAfterTask: true, simulated: ["rebootSeconds=0.4"] });
    await server?.monitor.probeNow();
    await json("/on_before_task", { task_id: "t" });
    expect(await json("/on_after_task", { failure: false })).toEqual({ ok: true, reboot: true });
    const during = await json("/get_state");
    expect(during.maintenance).toMatch(/^Rebooting simulated device SIMULATED0001 after a task/);
    expect(during).not.toHaveProperty("quarantined");
    await server?.monitor.probeNow();
    expect((await json("/get_state")).maintenance).toMatch(/^Rebooting/);
    await new Promise((r) => setTimeout(r, 450));
    await server?.monitor.probeNow();
    const after = await json("/get_state");
    expect(after).not.toHaveProperty("maintenance");
    const metrics = await (await fetch(`${server?.metricsUrl}/metrics`)).text();
    expect(metrics).toContain(
      'rpi_swarming_device_reboots_total{cause="after_task",result="success",bot_id="test-bot-1"} 1',
    );
  });

  it("reboots the device when the supervisor asks, but never under a task", async () => {
    await start({ simulated: ["rebootSeconds=0.3"] });
    await server?.monitor.probeNow();
    await json("/on_before_task", { task_id: "t-9" });
    const refused = await post("/reboot_device", { reason: "bot asked for a host reboot" });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: "ConflictError", message: expect.stringContaining("t-9") });
    await json("/on_after_task");
    expect(await json("/reboot_device", { reason: "bot asked for a host reboot" })).toEqual({ ok: true });
    expect((await json("/get_state")).maintenance).toMatch(/^Rebooting simulated device SIMULATED0001 on request/);
    const condition = (await (await control({})).json()) as { rebooting: boolean };
    expect(condition.rebooting).toBe(true);
    await new Promise((r) => setTimeout(r, 350));
    await server?.monitor.probeNow();
    expect(await json("/get_state")).not.toHaveProperty("maintenance");
  });

  it("refuses to reboot when there is no device", async () => {
    await start({ device: "none" });
    const res = await post("/reboot_device", {});
    expect(res.status).toBe(400);
    expect(((await res.json()) as Record<string, unknown>).message).toContain("no device");
  });

  it("quarantines a device that does not come back within rebootTimeoutSeconds", async () => {
    const driver = new ScriptedDriver();
    await start({ device: "android", rebootAfterTask: true, rebootTimeoutSeconds: "0.2" }, { driver });
    await server?.monitor.probeNow();
    driver.next = () => failing("device_missing");
    expect((await json("/on_after_task")).reboot).toBe(true);
    expect(driver.actions).toEqual(["reboot"]);
    await server?.monitor.probeNow();
    expect((await json("/get_state")).maintenance).toMatch(/^Rebooting/);
    await new Promise((r) => setTimeout(r, 250));
    await server?.monitor.probeNow();
    const state = await json("/get_state");
    expect(state.quarantined).toMatch(/has not answered for \d+ s after a reboot after a task \(limit 0.2 s\)/);
    expect(driver.actions).toEqual(["reboot"]);
    driver.next = () => healthy();
    await server?.monitor.probeNow();
    expect(await json("/get_state")).not.toHaveProperty("quarantined");
  });

  it("serves authentication headers from the token provider, and 503 when it fails", async () => {
    let fail = false;
    await start(
      {},
      {
        tokens: {
          current: async () => {
            if (fail) throw new Error("metadata server down");
            return { token: "tok-123", expiresAt: 1_900_000_000.7 };
          },
        },
      },
    );
    expect(await getJson("/get_authentication_headers")).toEqual({
      headers: { Authorization: "Bearer tok-123" },
      expiry: 1_900_000_000,
    });
    fail = true;
    const res = await fetch(`${server?.hookUrl}/get_authentication_headers`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      error: NotReadyError.name,
      message: expect.stringContaining("metadata server down"),
    });
  });

  it("turns auth off when the token config file does not exist", async () => {
    await start();
    expect(await getJson("/get_authentication_headers")).toEqual({ headers: null, expiry: null });
  });

  it("reads the token config through core's TokenSource", async () => {
    const { createServer } = await import("node:http");
    const tokenServer = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify(
          req.headers["metadata-flavor"] === "Google" ? { access_token: "meta-tok", expires_in: 3600 } : {},
        ),
      );
    });
    await new Promise<void>((r) => tokenServer.listen(0, "127.0.0.1", r));
    try {
      const port = (tokenServer.address() as { port: number }).port;
      const tokenConfig = join(scratch.dir, "token.json");
      writeFileSync(
        tokenConfig,
        JSON.stringify({ url: `http://127.0.0.1:${port}/token`, headers: { "Metadata-Flavor": "Google" } }),
      );
      await start({ tokenConfig });
      const reply = await getJson("/get_authentication_headers");
      expect(reply.headers).toEqual({ Authorization: "Bearer meta-tok" });
      expect(reply.expiry).toBeGreaterThan(Date.now() / 1000 + 3500);
    } finally {
      await server?.close();
      server = undefined;
      await new Promise((r) => tokenServer.close(r));
    }
  });

  it("serves the configured bot settings", async () => {
    await start({ botSettings: ['{"free_partition": {"bot": {"size": 1073741824}}}'] });
    expect(await getJson("/get_settings")).toEqual({ free_partition: { bot: { size: 1073741824 } } });
  });
});
