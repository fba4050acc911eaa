import { createMetricsRegistry, NotSupportedError } from "@rpi-swarming/core";
import { capturingLogger, waitFor } from "@rpi-swarming/core/test-support";
import { describe, expect, it } from "vitest";
import { failing, healthy, monitorOptions, ScriptedDriver } from "./__fixtures__/helpers.js";
import { StateServerMetrics } from "./metrics.js";
import { DeviceMonitor, type MonitorOptions } from "./monitor.js";

function setup(over: Partial<MonitorOptions> = {}) {
  const driver = new ScriptedDriver();
  const registry = createMetricsRegistry("m-bot");
  const metrics = new StateServerMetrics(registry);
  const monitor = new DeviceMonitor(monitorOptions(driver, metrics, over));
  const metric = async (name: string) => (await registry.getSingleMetricAsString(name)).split("\n");
  return { driver, monitor, metric };
}

describe("DeviceMonitor recovery ladder", () => {
  it("climbs reconnect, restart_server, reboot one step per failing cycle, then stays quarantined", async () => {
    let clock = 1_000_000;
    const { driver, monitor, metric } = setup({ rebootTimeoutSeconds: 0.05, now: () => clock });
    driver.next = () => failing("offline");
    await monitor.probeNow();
    expect(driver.actions).toEqual(["reconnect"]);
    expect(monitor.snapshot.health.quarantined[0]?.message).toContain("recovery tried without success: reconnect");
    await monitor.probeNow();
    expect(driver.actions).toEqual(["reconnect", "restart_server"]);
    await monitor.probeNow();
    expect(driver.actions).toEqual(["reconnect", "restart_server", "reboot"]);
    expect(monitor.snapshot.health.maintenance[0]?.reason).toBe("rebooting");
    clock += 80;
    await monitor.probeNow();
    expect(monitor.snapshot.health.quarantined.map((q) => q.reason)).toEqual(["reboot_timeout"]);
    await monitor.probeNow();
    await monitor.probeNow();
    expect(driver.actions).toHaveLength(3);
    const actions = await metric("rpi_swarming_recovery_actions_total");
    expect(actions).toContain(
      'rpi_swarming_recovery_actions_total{action="reconnect",result="failure",bot_id="m-bot"} 1',
    );
    expect(actions).toContain(
      'rpi_swarming_recovery_actions_total{action="restart_server",result="failure",bot_id="m-bot"} 1',
    );
    expect(actions).toContain('rpi_swarming_recovery_actions_total{action="reboot",result="failure",bot_id="m-bot"} 1');
    expect(await metric("rpi_swarming_quarantined")).toContain(
      'rpi_swarming_quarantined{reason="reboot_timeout",bot_id="m-bot"} 1',
    );
    await monitor.stop();
  });

  it("stops climbing when a step helps, and counts the success", async () => {
    const { driver, monitor, metric } = setup();
    driver.next = () => failing("offline");
    driver.onRecover = (action) => {
      if (action === "reconnect") driver.next = () => healthy();
    };
    await monitor.probeNow();
    expect(driver.actions).toEqual(["reconnect"]);
    expect(monitor.snapshot.health.status).toBe("ok");
    expect(monitor.snapshot.recoveryTried).toEqual([]);
    expect(await metric("rpi_swarming_recovery_actions_total")).toContain(
      'rpi_swarming_recovery_actions_total{action="reconnect",result="success",bot_id="m-bot"} 1',
    );
    // A later failure starts the ladder from the bottom again.
    driver.next = () => failing("probe_failed");
    driver.onRecover = () => {};
    await monitor.probeNow();
    expect(driver.actions).toEqual(["reconnect", "reconnect"]);
    await monitor.stop();
  });

  it("counts a driver that throws as a failed step and moves on", async () => {
    const { driver, monitor, metric } = setup();
    driver.next = () => failing("device_missing");
    driver.onRecover = () => {
      throw new Error("adb: no devices");
    };
    await monitor.probeNow();
    await monitor.probeNow();
    expect(driver.actions).toEqual(["reconnect", "restart_server"]);
    expect(await metric("rpi_swarming_recovery_actions_total")).toContain(
      'rpi_swarming_recovery_actions_total{action="restart_server",result="failure",bot_id="m-bot"} 1',
    );
    await monitor.stop();
  });

  it("skips steps the driver does not support (iOS: reconnect, restart_server) without counting them", async () => {
    const { log, lines } = capturingLogger();
    let clock = 1_000_000;
    const { driver, monitor, metric } = setup({ log, rebootTimeoutSeconds: 0.05, now: () => clock });
    driver.next = () => failing("device_missing");
    driver.onRecover = (action) => {
      if (action !== "reboot") throw new NotSupportedError(`recovery step ${action} does not apply to iOS devices`);
    };
    await monitor.probeNow();
    // Both unsupported steps were asked once, then the first step the driver can do ran in the same cycle.
    expect(driver.actions).toEqual(["reconnect", "restart_server", "reboot"]);
    expect(monitor.snapshot.recoveryTried).toEqual(["reboot"]);
    expect(monitor.snapshot.health.maintenance[0]?.reason).toBe("rebooting");
    clock += 80;
    await monitor.probeNow();
    await monitor.probeNow();
    expect(monitor.snapshot.health.quarantined.map((q) => q.reason)).toEqual(["reboot_timeout"]);
    expect(driver.actions).toHaveLength(3);
    const actions = await metric("rpi_swarming_recovery_actions_total");
    // Only the reboot counts as an action (it timed out); the skipped steps count neither way.
    expect(actions.filter((l) => /^rpi_swarming_recovery_actions_total\{/.test(l))).toEqual([
      'rpi_swarming_recovery_actions_total{action="reboot",result="failure",bot_id="m-bot"} 1',
    ]);
    const skipped = lines.filter((l) => l.msg === "recovery step not supported by the driver; skipped");
    expect(skipped.map((l) => [l.step, l.level])).toEqual([
      ["reconnect", 20],
      ["restart_server", 20],
    ]);
    expect(lines.filter((l) => l.msg === "recovery step failed")).toEqual([]);
    // Above debug, only the reboot shows as a step taken.
    expect(lines.filter((l) => (l.level as number) > 20 && l.step !== undefined).map((l) => l.step)).toEqual([
      "reboot",
    ]);

    // The device comes back and goes away again: the ladder starts over with the supported steps only.
    driver.next = () => healthy();
    await monitor.probeNow();
    expect(monitor.snapshot.recoveryTried).toEqual([]);
    driver.next = () => failing("offline");
    await monitor.probeNow();
    expect(driver.actions).toEqual(["reconnect", "restart_server", "reboot", "reboot"]);
    expect(skipped).toHaveLength(2);
    await monitor.stop();
  });

  it("counts a device that answered with a note (reconnect revived it) as up, with no ladder", async () => {
    const { driver, monitor, metric } = setup();
    driver.next = () => ({
      ...healthy(),
      problem: { code: "offline", message: "was offline; adb reconnect revived it" },
    });
    await monitor.probeNow();
    expect(driver.actions).toEqual([]);
    expect(monitor.snapshot.health.status).toBe("ok");
    expect(await metric("rpi_swarming_device_up")).toContain('rpi_swarming_device_up{bot_id="m-bot"} 1');
    await monitor.stop();
  });

  it("does not try to cure what needs a person", async () => {
    const { driver, monitor } = setup();
    driver.next = () => failing("unauthorized");
    await monitor.probeNow();
    await monitor.probeNow();
    expect(driver.actions).toEqual([]);
    expect(monitor.snapshot.health.quarantined[0]?.reason).toBe("unauthorized");
    await monitor.stop();
  });

  it("never recovers while a task runs, and resumes after it", async () => {
    const { driver, monitor } = setup();
    await monitor.probeNow();
    monitor.taskStarted("task-1");
    driver.next = () => failing("offline");
    await monitor.probeNow();
    await monitor.probeNow();
    expect(driver.actions).toEqual([]);
    expect(monitor.snapshot.health.status).toBe("quarantined");
    expect(monitor.taskEnded()).toBe(false);
    await monitor.probeNow();
    expect(driver.actions).toEqual(["reconnect"]);
    await monitor.stop();
  });

  it("counts probe errors by reason, timeouts as timeout", async () => {
    const { driver, monitor, metric } = setup();
    driver.next = () => ({
      ...failing("probe_failed"),
      problem: { code: "probe_failed", message: "hung", timedOut: true },
    });
    monitor.taskStarted(null);
    await monitor.probeNow();
    driver.next = () => failing("unauthorized");
    await monitor.probeNow();
    const errors = await metric("rpi_swarming_probe_errors_total");
    expect(errors).toContain('rpi_swarming_probe_errors_total{reason="timeout",bot_id="m-bot"} 1');
    expect(errors).toContain('rpi_swarming_probe_errors_total{reason="unauthorized",bot_id="m-bot"} 1');
    await monitor.stop();
  });

  it("cuts off a driver probe that never returns with its watchdog", async () => {
    const { driver, monitor } = setup({ commandTimeoutSeconds: 0.01 });
    let release: () => void = () => {};
    driver.probe = () =>
      new Promise((resolve) => {
        release = () => resolve(healthy());
      });
    monitor.taskStarted(null);
    const started = Date.now();
    await monitor.probeNow();
    expect(Date.now() - started).toBeLessThan(5500);
    expect(monitor.snapshot.probe?.problem).toMatchObject({ code: "probe_failed", timedOut: true });
    // While the stuck probe has not settled, no second one is started.
    await monitor.probeNow();
    expect(monitor.snapshot.probe?.problem?.timedOut).toBe(true);
    release();
    driver.probe = async () => healthy();
    // The stuck probe settles on its own schedule; the next cycle then probes again.
    await waitFor("a probe cycle after the stuck probe settled", async () => {
      await monitor.probeNow();
      return monitor.snapshot.probe?.problem === undefined;
    });
    await monitor.stop();
  }, 15_000);

  it("joins concurrent on-demand probes into one cycle", async () => {
    const { driver, monitor } = setup();
    await Promise.all([monitor.probeNow(), monitor.probeNow(), monitor.probeNow()]);
    expect(driver.probes).toBe(1);
    await monitor.stop();
  });
});

describe("DeviceMonitor temperature sensors", () => {
  const base = { batteryMinRatio: 0.3, batteryHysteresisRatio: 0.05, maxTemperatureCelsius: 35 };
  const hotCpu = () => {
    const p = healthy();
    return { ...p, device: { ...(p.device as NonNullable<typeof p.device>), temperaturesCelsius: { cpu0: 39 } } };
  };

  it("holds only the selected sensors to the limit, per device type", async () => {
    const { driver, monitor } = setup({
      thresholds: { ...base, temperatureHysteresisCelsius: 2, temperatureSensors: ["*"] },
      // healthy() is a sargo.
      thresholdsByDeviceType: { sargo: { temperatureSensors: ["battery"] } },
    });
    driver.next = hotCpu;
    await monitor.probeNow();
    expect(monitor.snapshot.health.status).toBe("ok");
    await monitor.stop();

    const other = setup({ thresholds: { ...base, temperatureHysteresisCelsius: 2, temperatureSensors: ["*"] } });
    other.driver.next = hotCpu;
    await other.monitor.probeNow();
    expect(other.monitor.snapshot.health.maintenance.map((m) => m.reason)).toEqual(["too_hot"]);
    await other.monitor.stop();
  });

  it("warns once when temperatureSensors matches none of the device's sensors", async () => {
    const { log, lines } = capturingLogger();
    const { driver, monitor } = setup({
      log,
      thresholds: { ...base, temperatureHysteresisCelsius: 2, temperatureSensors: ["cpu_therm"] },
    });
    driver.next = hotCpu;
    await monitor.probeNow();
    await monitor.probeNow();
    expect(monitor.snapshot.health.status).toBe("ok");
    const warnings = lines.filter((l) => String(l.msg).startsWith("temperatureSensors matches none"));
    expect(warnings.map((l) => [l.level, l.temperatureSensors, l.sensors])).toEqual([
      [40, ["cpu_therm"], ["battery", "cpu0"]],
    ]);
    await monitor.stop();
  });
});
