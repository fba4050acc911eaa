import { createLogger } from "@rpi-swarming/core";
import { stateServerSettings } from "@rpi-swarming/state-server/settings";
import { defineCommand } from "../command.js";

/**
 * `rpi-swarming probe`: one probe, printed as `{"dimensions", "state"}` like
 * the bot's `attributes` command; exit 0 when the device is healthy.
 */
export const probeCommand = defineCommand({
  name: "probe",
  summary: "probe the device once and print its dimensions and state as JSON; exit 1 when it is not healthy",
  // The state server's settings, so one config file serves both; the network ones are unused here.
  settings: stateServerSettings,
  async run(config) {
    // stdout carries the JSON alone, so logs go to stderr.
    // Loaded on use, like the state server's, to keep the other commands light.
    const { createDriver, evaluateHealth, resolveThresholds } = await import("@rpi-swarming/devices");
    const { buildDimensions, buildState, MaintenanceWatcher } = await import("@rpi-swarming/state-server");
    const log = createLogger({ level: config.logLevel, stream: process.stderr }).child({ command: "probe" });
    // A free control port: a running state server may hold the default one.
    const driver = await createDriver({ ...config, simulatedControlPort: 0 }, { log });
    try {
      const maintenance = new MaintenanceWatcher({
        dir: config.maintenanceDir,
        botId: config.botId,
        log,
        onChange: () => {},
      });
      await maintenance.refresh();
      const probe = await driver.probe();
      const deviceDimensions = probe.device?.dimensions ?? {};
      const health = evaluateHealth({
        kind: config.device,
        probe,
        thresholds: resolveThresholds(config, config.thresholdsByDeviceType, deviceDimensions.device_type ?? []),
        previous: undefined,
        operatorMessages: maintenance.messages,
        reboot: undefined,
        recoveryTried: [],
        now: Date.now(),
      });
      const snapshot = { probe, deviceDimensions, health, taskRunning: false };
      const { dimensions } = buildDimensions(config.botId, {}, config.staticDimensions, snapshot);
      const state = buildState({}, config.staticState, snapshot);
      process.stdout.write(`${JSON.stringify({ dimensions, state }, null, 2)}\n`);
      if (health.status === "ok") return 0;
      const reasons = [...health.quarantined, ...health.maintenance].map((e) => `${e.reason}: ${e.message}`);
      process.stderr.write(
        `rpi-swarming probe: the ${config.device} device is ${health.status}:\n  ${reasons.join("\n  ")}\n`,
      );
      return 1;
    } finally {
      await driver.close();
    }
  },
});
