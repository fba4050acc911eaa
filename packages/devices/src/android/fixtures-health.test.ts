import { PassThrough } from "node:stream";
import { createLogger, loadConfig } from "@rpi-swarming/core";
import { afterEach, describe, expect, it } from "vitest";
import { type AndroidFixtureModel, FAKE_ADB_PATH, FakeAdbScenario } from "../exec/fake-tools.js";
import { evaluateHealth, probeTemperatures } from "../policy/health.js";
import { healthSettings } from "../settings.js";
import { AndroidDriver } from "./android-driver.js";

// Issue 10 item 5c: out of the box an ordinary idle phone is available. The fixture dumps are
// idle phones: CPU cores at 33-40 degC, battery and skin at 26-34 degC (the S20's skin is warm).
const drivers: AndroidDriver[] = [];
const scenarios: FakeAdbScenario[] = [];
afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.close()));
  for (const s of scenarios.splice(0)) s.remove();
});

async function healthOf(model: AndroidFixtureModel, flags: Record<string, unknown> = {}) {
  const fake = new FakeAdbScenario().devices([["8A2Y0B3C", "device", model]]);
  scenarios.push(fake);
  const driver = new AndroidDriver({
    adbPath: FAKE_ADB_PATH,
    commandTimeoutSeconds: 5,
    log: createLogger({ name: "test", level: "fatal", stream: new PassThrough() }),
    env: fake.env,
    reconnectSettleMs: 10,
  });
  drivers.push(driver);
  const probe = await driver.probe();
  const thresholds = loadConfig(healthSettings, { flags, env: {} });
  const health = evaluateHealth({
    kind: "android",
    probe,
    thresholds,
    previous: undefined,
    operatorMessages: [],
    reboot: undefined,
    recoveryTried: [],
    now: Date.now(),
  });
  return { health, temps: probeTemperatures(probe) };
}

describe("default temperatureSensors on the fixture phones", () => {
  it.each(["pixel3a-sargo-q", "pixel4-flame-r"] as const)(
    "an idle %s is available by default, though a CPU core is above 35 degC",
    async (model) => {
      const { health, temps } = await healthOf(model);
      const cpus = Object.entries(temps).filter(([s]) => /^cpu/.test(s));
      expect(Math.max(...cpus.map(([, c]) => c))).toBeGreaterThan(35);
      expect(health.status).toBe("ok");
      // CPU sensors still count when named.
      const named = await healthOf(model, { temperatureSensors: ["battery", "cpu*"] });
      const hot = cpus.filter(([, c]) => c > 35).map(([s, c]) => `${s} ${c.toFixed(1)} degC`);
      expect(named.health.maintenance).toEqual([
        { reason: "too_hot", message: `Too hot: ${hot.sort().join(", ")} > 35.0 degC` },
      ]);
    },
  );

  it("counts the battery and skin sensors by default, and only those", async () => {
    const tooHot = (h: Awaited<ReturnType<typeof healthOf>>["health"]) =>
      h.maintenance.filter((m) => m.reason === "too_hot").map((m) => m.message);
    // A Galaxy S20 whose skin reads 36.4 degC (its CPU clusters 37.5-41.2 degC are not counted).
    expect(tooHot((await healthOf("samsung-s20-x1s")).health)).toEqual(["Too hot: skin 36.4 degC > 35.0 degC"]);
    // A Nexus 5X has no thermal service: its battery at 41.2 degC is what counts.
    expect(tooHot((await healthOf("nexus5x-bullhead-o")).health)).toEqual(["Too hot: battery 41.2 degC > 35.0 degC"]);
  });
});
