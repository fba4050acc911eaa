/**
 * The monitor's power-cycle rung with a driver double and an in-memory power
 * controller: fast, no external tool (the same paths with the fake uhubctl and
 * adb are in power-cycle.int.test.ts).
 */
import { createMetricsRegistry } from "@rpi-swarming/core";
import { describe, expect, it } from "vitest";
import { failing, healthy, monitorOptions, ScriptedDriver, testLogger } from "./__fixtures__/helpers.js";
import { MemoryPower } from "./__fixtures__/memory-power.js";
import { StateServerMetrics } from "./metrics.js";
import { DeviceMonitor } from "./monitor.js";
import { PowerCycler } from "./power-cycler.js";

function setup(limits = { perHour: 2, cooldownSeconds: 600 }) {
  let clock = 1_800_000_000_000;
  const now = () => clock;
  const driver = new ScriptedDriver();
  const registry = createMetricsRegistry("p-bot");
  const metrics = new StateServerMetrics(registry);
  const controller = new MemoryPower();
  const power = new PowerCycler({
    controller,
    offSeconds: 0,
    settleSeconds: 90,
    limits,
    metrics,
    log: testLogger(),
    now,
  });
  const monitor = new DeviceMonitor(
    monitorOptions(driver, metrics, { rebootTimeoutSeconds: 0.001, power, serial: "FAKE01", now }),
  );
  const cycles = async () =>
    (await registry.getSingleMetricAsString("rpi_swarming_device_power_cycles_total"))
      .split("\n")
      .filter((l) => !l.startsWith("#"));
  const advance = (ms: number) => {
    clock += ms;
  };
  return { driver, controller, monitor, cycles, advance };
}

/** reconnect, restart_server, reboot (it times out at once): the next failing cycle power-cycles. */
async function climbToPowerCycle(m: ReturnType<typeof setup>): Promise<void> {
  for (let i = 0; i < 3; i++) await m.monitor.probeNow();
  m.advance(10);
  await m.monitor.probeNow(); // the reboot's timeout is reported
  await m.monitor.probeNow();
}

describe("DeviceMonitor power_cycle rung", () => {
  it("power-cycles after reboot, waits powerSettleSeconds for the device, and counts it", async () => {
    const m = setup();
    m.driver.next = () => failing("offline");
    m.controller.onOn = () => {
      m.driver.next = () => healthy();
    };
    await climbToPowerCycle(m);
    expect(m.driver.actions).toEqual(["reconnect", "restart_server", "reboot"]);
    expect(m.controller.calls).toEqual(["off FAKE01", "on FAKE01"]);
    expect(m.monitor.snapshot.reboot).toMatchObject({ cause: "recovery", via: "power_cycle", timeoutSeconds: 90 });
    expect(m.monitor.snapshot.health.maintenance[0]?.message).toMatch(/^Power-cycled android device FAKE01/);
    await m.monitor.probeNow();
    expect(m.monitor.snapshot.health.status).toBe("ok");
    expect(await m.cycles()).toEqual([
      'rpi_swarming_device_power_cycles_total{result="ok",bot_id="p-bot"} 1',
      'rpi_swarming_device_power_cycles_total{result="failed",bot_id="p-bot"} 0',
    ]);
    await m.monitor.stop();
  });

  it("holds a power cycle within the cool-down: quarantined, counted once, not retried until the device answers", async () => {
    const m = setup();
    m.driver.next = () => failing("offline");
    m.controller.onOn = () => {
      m.driver.next = () => healthy();
    };
    await climbToPowerCycle(m);
    await m.monitor.probeNow();
    expect(m.monitor.snapshot.health.status).toBe("ok");
    // Hangs again 5 minutes later: the ladder climbs, but the power cycle is held back.
    m.advance(300_000);
    m.driver.next = () => failing("offline");
    await climbToPowerCycle(m);
    await m.monitor.probeNow();
    expect(m.controller.calls).toHaveLength(2);
    expect(m.monitor.snapshot.health.status).toBe("quarantined");
    expect(m.monitor.snapshot.health.quarantined[0]?.message).toMatch(
      /; no power cycle: within powerCycleCooldownSeconds; check its USB cable/,
    );
    expect(await m.cycles()).toContain(
      'rpi_swarming_device_power_cycles_total{result="cooling_down",bot_id="p-bot"} 1',
    );
    // Still quarantined after the cool-down: the held ladder ends until the device answers.
    m.advance(600_000);
    await m.monitor.probeNow();
    expect(m.controller.calls).toHaveLength(2);
    await m.monitor.stop();
  });

  it("does not take a probe that ran while the power was being switched as the device's return", async () => {
    const m = setup();
    m.driver.next = () => healthy();
    await m.monitor.probeNow();
    let release: () => void = () => {};
    m.controller.offGate = new Promise<void>((r) => {
      release = r;
    });
    const request = m.monitor.powerCycleDevice("test", false);
    expect(m.monitor.snapshot.health.status).toBe("maintenance");
    // A scheduled probe while the relay still switches: the phone still answers, its power not yet off.
    await m.monitor.probeNow();
    expect(m.monitor.snapshot.health.status).toBe("maintenance");
    expect(m.monitor.snapshot.reboot).toMatchObject({ cause: "requested", via: "power_cycle" });
    release();
    await request;
    await m.monitor.probeNow();
    expect(m.monitor.snapshot.health.status).toBe("ok");
    expect(m.monitor.snapshot.reboot).toBeUndefined();
    await m.monitor.stop();
  });

  it("counts a failed power cycle and switches the power back on", async () => {
    const m = setup();
    m.driver.next = () => failing("offline");
    m.controller.failOff = true;
    await climbToPowerCycle(m);
    expect(m.controller.calls).toEqual(["off FAKE01", "on FAKE01"]);
    // Still the reboot that timed out: the power cycle did not happen.
    expect(m.monitor.snapshot.reboot).toMatchObject({ cause: "recovery" });
    expect(m.monitor.snapshot.reboot?.via).toBeUndefined();
    expect(m.monitor.snapshot.health.quarantined.map((q) => q.reason)).toEqual(["reboot_timeout"]);
    expect(await m.cycles()).toContain('rpi_swarming_device_power_cycles_total{result="failed",bot_id="p-bot"} 1');
    await m.monitor.stop();
  });
});
