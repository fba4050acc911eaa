import { createMetricsRegistry } from "@rpi-swarming/core";
import type { RecoveryAction } from "@rpi-swarming/devices";
import { describe, expect, it } from "vitest";
import { failing, monitorOptions, ScriptedDriver } from "./__fixtures__/helpers.js";
import { StateServerMetrics } from "./metrics.js";
import { DeviceMonitor } from "./monitor.js";

describe("a reboot asked for while a recovery step runs", () => {
  it("is still watched when the step ends (the step's outcome does not erase it)", async () => {
    const driver = new ScriptedDriver();
    let release: () => void = () => {};
    let stepStarted: (action: RecoveryAction) => void = () => {};
    const started = new Promise<RecoveryAction>((r) => {
      stepStarted = r;
    });
    driver.recover = (action) => {
      driver.actions.push(action);
      if (action !== "reconnect") return Promise.resolve();
      stepStarted(action);
      return new Promise<void>((r) => {
        release = r;
      });
    };
    const monitor = new DeviceMonitor(monitorOptions(driver, new StateServerMetrics(createMetricsRegistry("r-bot"))));
    driver.next = () => failing("offline");
    const cycle = monitor.probeNow();
    expect(await started).toBe("reconnect");
    // POST /reboot_device while `adb reconnect` still runs.
    await monitor.rebootDevice("operator");
    expect(monitor.snapshot.reboot?.cause).toBe("requested");
    release();
    await cycle;
    expect(driver.actions).toEqual(["reconnect", "reboot"]);
    expect(monitor.snapshot.reboot?.cause).toBe("requested");
    expect(monitor.snapshot.health.maintenance.map((m) => m.reason)).toEqual(["rebooting"]);
    // The device is away while it reboots: watched, not a reason to climb the ladder.
    await monitor.probeNow();
    expect(driver.actions).toEqual(["reconnect", "reboot"]);
    expect(monitor.snapshot.health.maintenance.map((m) => m.reason)).toEqual(["rebooting"]);
    await monitor.stop();
  });
});
