import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { commonSettings, createLogger, type Logger, loadConfig } from "@rpi-swarming/core";
import type { DeviceDriver, DeviceKind, ProbeResult, RecoveryAction } from "@rpi-swarming/devices";
import type { StateServerMetrics } from "../metrics.js";
import type { MonitorOptions } from "../monitor.js";
import type { StateServerConfig } from "../server.js";
import { stateServerSettings } from "../settings.js";

/** A logger that drops everything (set RPI_TEST_LOG=debug to see it). */
export function testLogger(): Logger {
  const level = process.env.RPI_TEST_LOG as "debug" | undefined;
  if (level) return createLogger({ level, stream: process.stderr });
  return createLogger({
    level: "fatal",
    stream: new Writable({
      write(_c, _e, cb) {
        cb();
      },
    }),
  });
}

/** A scratch directory removed by the returned cleanup. */
export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "rpi-state-server-test-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A full configuration as the CLI would load it, on free loopback ports. */
export function testConfig(flags: Record<string, unknown>, maintenanceDir: string): StateServerConfig {
  return loadConfig(
    { ...commonSettings, ...stateServerSettings },
    {
      flags: {
        botId: "test-bot-1",
        hookPort: "0",
        metricsHost: "127.0.0.1",
        metricsPort: "0",
        simulatedControlPort: "0",
        maintenanceDir,
        tokenConfig: join(maintenanceDir, "no-token-config.json"),
        ...flags,
      },
      env: {},
    },
  );
}

/** DeviceMonitor options for tests that drive probes themselves (probeNow): an android driver double, default thresholds. */
export function monitorOptions(
  driver: DeviceDriver,
  metrics: StateServerMetrics,
  over: Partial<MonitorOptions> = {},
): MonitorOptions {
  return {
    driver,
    kind: "android",
    log: testLogger(),
    metrics,
    probeIntervalSeconds: 3600,
    commandTimeoutSeconds: 1,
    rebootAfterTask: false,
    rebootTimeoutSeconds: 300,
    thresholds: {
      batteryMinRatio: 0.3,
      batteryHysteresisRatio: 0.05,
      maxTemperatureCelsius: 35,
      temperatureHysteresisCelsius: 2,
    },
    thresholdsByDeviceType: {},
    ...over,
  };
}

export const NOW = 1_800_000_000_000;

export function healthy(kind: DeviceKind = "android"): ProbeResult {
  return {
    kind,
    finishedAt: Date.now(),
    durationSeconds: 0.01,
    spawns: 2,
    device: {
      serial: "FAKE01",
      connection: "device",
      dimensions: { android_devices: ["1"], os: ["Android"], device_type: ["sargo"] },
      battery: { ratio: 0.9, temperatureCelsius: 25, charging: true },
      temperaturesCelsius: { cpu0: 30 },
      uptimeSeconds: 100,
    },
  };
}

export function failing(code: "offline" | "device_missing" | "unauthorized" | "probe_failed"): ProbeResult {
  return {
    kind: "android",
    finishedAt: Date.now(),
    durationSeconds: 0.01,
    spawns: 1,
    problem: { code, message: `Android device FAKE01 is ${code}; do something`, serial: "FAKE01" },
  };
}

/**
 * A driver double: probes answer from `next` (a function the test swaps),
 * recovery steps are recorded and may change what the next probe says.
 */
export class ScriptedDriver implements DeviceDriver {
  readonly kind = "android" as const;
  next: () => ProbeResult = () => healthy();
  readonly actions: RecoveryAction[] = [];
  onRecover: (action: RecoveryAction) => void = () => {};
  probes = 0;

  async probe(): Promise<ProbeResult> {
    this.probes += 1;
    return this.next();
  }

  async recover(action: RecoveryAction): Promise<void> {
    this.actions.push(action);
    this.onRecover(action);
  }

  async close(): Promise<void> {}
}
