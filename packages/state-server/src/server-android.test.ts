import { waitFor } from "@rpi-swarming/core/test-support";
import { AndroidDriver, FAKE_ADB_PATH, FakeAdbScenario, livingProcessesInGroup } from "@rpi-swarming/devices";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scratchDir, testConfig, testLogger } from "./__fixtures__/helpers.js";
import { type StateServer, startStateServer } from "./server.js";

// The state server over the real android driver and the scripted fake adb (what the bot meets on a Pi).
let server: StateServer | undefined;
let adb: FakeAdbScenario;
let scratch: ReturnType<typeof scratchDir>;

beforeEach(() => {
  scratch = scratchDir();
  adb = new FakeAdbScenario();
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  adb.remove();
  scratch.cleanup();
});

async function start(flags: Record<string, unknown> = {}): Promise<StateServer> {
  const config = testConfig(
    {
      device: "android",
      adbPath: FAKE_ADB_PATH,
      probeIntervalSeconds: "3600",
      commandTimeoutSeconds: "1",
      // The Pixel 3a dump runs at 36.1 degC on one core: this lab tolerates it.
      maxTemperatureCelsius: "40",
      ...flags,
    },
    scratch.dir,
  );
  const log = testLogger();
  const driver = new AndroidDriver({
    adbPath: config.adbPath,
    serial: config.serial,
    commandTimeoutSeconds: config.commandTimeoutSeconds,
    log,
    env: adb.env,
    reconnectSettleMs: 10,
  });
  server = await startStateServer(config, { log, driver, maintenancePollMs: 50 });
  return server;
}

async function hook(path: string, body: unknown = {}): Promise<Record<string, unknown>> {
  const res = await fetch(`${server?.hookUrl}${path}`, { method: "POST", body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe("state server with the android driver and a fake adb", () => {
  it("serves a Pixel 3a's dimensions and state from two adb calls", async () => {
    adb.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    await start({ staticDimensions: ["pool=Skia"] });
    await server?.monitor.probeNow();
    expect(await hook("/get_dimensions")).toMatchObject({
      android_devices: ["1"],
      device_type: ["sargo"],
      os: ["Android"],
      pool: ["Skia"],
      id: ["test-bot-1"],
    });
    const state = await hook("/get_state");
    expect(state).toMatchObject({ device: { kind: "android", serial: "8A2Y0B3C", connection: "device" } });
    expect(state).not.toHaveProperty("quarantined");
    const status = (await (await fetch(`${server?.hookUrl}/status`)).json()) as { last_probe: { spawns: number } };
    expect(status.last_probe.spawns).toBe(2);
  });

  it("answers hooks at once while adb shell hangs, then quarantines and kills the hung processes", async () => {
    adb.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    await start();
    await server?.monitor.probeNow();
    adb.set("hang", "shell");
    const probing = server?.monitor.probeNow();
    const worst = { ms: 0 };
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      await hook(i % 2 ? "/get_state" : "/get_dimensions");
      worst.ms = Math.max(worst.ms, performance.now() - t);
    }
    expect(worst.ms).toBeLessThan(250);
    await probing;
    const state = await hook("/get_state");
    expect(String(state.quarantined)).toMatch(/8A2Y0B3C/);
    const pids = adb.hangPids();
    expect(pids.length).toBeGreaterThan(0);
    // The runner starts each adb in its own process group led by the adb process.
    const leaders = pids.filter((_, i) => i % 2 === 0);
    await waitFor(
      "the hung adb groups killed",
      () => leaders.every((l) => livingProcessesInGroup(l).length === 0),
      5000,
    );
    // The ladder's first step ran after the failed probe (no task was running).
    expect(adb.calls().some((c) => c.includes("reconnect"))).toBe(true);
  });

  it("quarantines a phone that goes away, climbs the recovery ladder, and serves it again when it is back", async () => {
    adb.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    await start();
    await server?.monitor.probeNow();
    adb.devices([]);
    await server?.monitor.probeNow();
    expect(String((await hook("/get_state")).quarantined)).toMatch(/No Android device is attached/);
    expect(await hook("/get_dimensions")).not.toHaveProperty("android_devices");
    await server?.monitor.probeNow();
    await server?.monitor.probeNow();
    const steps = adb.calls().filter((c) => /reconnect|kill-server|start-server|reboot/.test(c));
    expect(steps.some((c) => c.includes("reconnect"))).toBe(true);
    expect(steps.some((c) => c.includes("kill-server"))).toBe(true);
    expect(String((await hook("/get_state")).quarantined)).toMatch(
      /recovery tried without success: reconnect, restart_server, reboot/,
    );
    adb.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    await server?.monitor.probeNow();
    const state = await hook("/get_state");
    expect(state).not.toHaveProperty("quarantined");
    expect(await hook("/get_dimensions")).toMatchObject({ android_devices: ["1"] });
    const metrics = await (await fetch(`${server?.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /rpi_swarming_recovery_actions_total\{action="restart_server",result="failure",bot_id="test-bot-1"\} 1/,
    );
    expect(metrics).toContain('rpi_swarming_device_up{bot_id="test-bot-1"} 1');
  });

  it("quarantines an unauthorized phone with the operator's steps and tries no recovery", async () => {
    adb.devices([["8A2Y0B3C", "unauthorized"]]);
    await start();
    await server?.monitor.probeNow();
    await server?.monitor.probeNow();
    const state = await hook("/get_state");
    expect(String(state.quarantined)).toMatch(/8A2Y0B3C.*(USB debugging|adbkey)/s);
    expect(adb.calls().filter((c) => /reconnect|kill-server|reboot/.test(c))).toEqual([]);
  });

  it("reboots the phone after a task by default and is in maintenance until it is listed again", async () => {
    adb.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]).set("reboot-listings", "1");
    await start();
    await server?.monitor.probeNow();
    await hook("/on_before_task", { task_id: "t-1" });
    expect(await hook("/on_after_task")).toEqual({ ok: true, reboot: true });
    expect(String((await hook("/get_state")).maintenance)).toMatch(/^Rebooting android device 8A2Y0B3C after a task/);
    await waitFor("adb reboot", () => adb.calls().some((c) => /-s 8A2Y0B3C reboot/.test(c)), 5000);
    for (let i = 0; i < 5 && (await hook("/get_state")).maintenance !== undefined; i++)
      await server?.monitor.probeNow();
    const after = await hook("/get_state");
    expect(after, JSON.stringify({ after, calls: adb.calls() })).not.toHaveProperty("maintenance");
  });
});
