import { AndroidDriver, FAKE_ADB_PATH, FakeAdbScenario, type RecoveryAction } from "@rpi-swarming/devices";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { failing, healthy, ScriptedDriver, scratchDir, testConfig, testLogger } from "./__fixtures__/helpers.js";
import { type StateServer, startStateServer } from "./server.js";

// Issue 11 item 4: a failed probe is what the hooks answer from while the recovery ladder runs,
// not the last good probe (the bot would take a task on a dead phone for the length of the step).
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

async function getState(): Promise<Record<string, unknown>> {
  const res = await fetch(`${server?.hookUrl}/get_state`, { method: "POST", body: "{}" });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** Whether a promise has settled, without waiting for it. */
async function settled(p: Promise<unknown> | undefined): Promise<boolean> {
  const marker = Symbol("pending");
  return (await Promise.race([p, new Promise((r) => setImmediate(() => r(marker)))])) !== marker;
}

describe("a failed probe during recovery", () => {
  it("is published before the recovery step starts, and stays published until it ends", async () => {
    const driver = new ScriptedDriver();
    let release: () => void = () => {};
    let stepStarted: (action: RecoveryAction) => void = () => {};
    const started = new Promise<RecoveryAction>((r) => {
      stepStarted = r;
    });
    driver.recover = (action) => {
      driver.actions.push(action);
      stepStarted(action);
      // The step takes as long as the test says (adb reconnect can take its whole timeout).
      return new Promise<void>((r) => {
        release = () => {
          driver.next = () => healthy();
          r();
        };
      });
    };
    server = await startStateServer(
      testConfig({ device: "android", probeIntervalSeconds: "3600", rebootAfterTask: false }, scratch.dir),
      { log: testLogger(), driver },
    );
    await server.monitor.probeNow();
    expect(await getState()).not.toHaveProperty("quarantined");

    driver.next = () => failing("offline");
    const cycle = server.monitor.probeNow();
    expect(await started).toBe("reconnect");
    // The step has not returned: the hooks already say the phone is gone.
    const during = await getState();
    expect(String(during.quarantined)).toMatch(/FAKE01 is offline/);
    const status = (await (await fetch(`${server.hookUrl}/status`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ health: { status: "quarantined" }, last_probe: { problem: { code: "offline" } } });
    const metrics = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    expect(metrics).toContain('rpi_swarming_device_up{bot_id="test-bot-1"} 0');
    expect(metrics).toContain('rpi_swarming_quarantined{reason="offline",bot_id="test-bot-1"} 1');
    expect(await settled(cycle)).toBe(false);

    release();
    await cycle;
    expect(await getState()).not.toHaveProperty("quarantined");
  });

  it("with the android driver and a fake adb whose reconnect hangs until its timeout", async () => {
    const adb = new FakeAdbScenario();
    try {
      adb.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
      const config = testConfig(
        {
          device: "android",
          adbPath: FAKE_ADB_PATH,
          probeIntervalSeconds: "3600",
          commandTimeoutSeconds: "2",
          maxTemperatureCelsius: "40",
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
      server = await startStateServer(config, { log, driver });
      await server.monitor.probeNow();
      expect(await getState()).not.toHaveProperty("quarantined");

      // Gone from the list: the probe itself runs no reconnect, so a reconnect call is the ladder's step.
      adb.devices([]);
      adb.set("hang", "reconnect");
      const cycle = server.monitor.probeNow();
      // Wait on the condition, not on a time: the reconnect is running (and hangs for 2 s).
      const until = Date.now() + 10_000;
      while (!adb.calls().some((c) => c.includes("reconnect")) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 10));
      expect(adb.calls().some((c) => c.includes("reconnect"))).toBe(true);
      const during = await getState();
      expect(String(during.quarantined)).toMatch(/No Android device is attached/);
      expect(await settled(cycle)).toBe(false);
      await cycle;
      expect(String((await getState()).quarantined)).toMatch(/recovery tried without success: reconnect/);
    } finally {
      await server?.close();
      server = undefined;
      adb.remove();
    }
  }, 20_000);
});
