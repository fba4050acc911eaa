import type { Server } from "node:http";
import { join } from "node:path";
import {
  type ConfigOf,
  closeServer,
  type commonSettings,
  createMetricsRegistry,
  type Logger,
  listen,
  TokenSource,
} from "@rpi-swarming/core";
import { createDriver, createPowerController, type DeviceDriver, rebootAfterTaskFor } from "@rpi-swarming/devices";
import type { Registry } from "prom-client";
import { createHookApp, type TokenProvider } from "./hooks-app.js";
import { MaintenanceWatcher } from "./maintenance.js";
import { StateServerMetrics } from "./metrics.js";
import { createMetricsApp } from "./metrics-app.js";
import { DeviceMonitor } from "./monitor.js";
import { POWER_CYCLE_HISTORY_FILE, PowerCycler } from "./power-cycler.js";
import type { stateServerSettings } from "./settings.js";
import { TaskTracker } from "./task-marker.js";

export type StateServerConfig = ConfigOf<typeof stateServerSettings & typeof commonSettings>;

export interface StateServerDeps {
  readonly log: Logger;
  /** A driver built by the caller (tests); default: the one the `device` setting names. */
  readonly driver?: DeviceDriver;
  /** Token provider; default: core's TokenSource over `tokenConfig`; null turns auth off. */
  readonly tokens?: TokenProvider | null;
  /** Re-read interval of the maintenance directory. */
  readonly maintenancePollMs?: number;
  /** Extra environment for uhubctl and power commands (tests point the fakes at their worlds). */
  readonly powerEnv?: Readonly<Record<string, string>>;
  readonly now?: () => number;
}

export interface StateServer {
  readonly hookUrl: string;
  readonly metricsUrl: string;
  readonly monitor: DeviceMonitor;
  readonly driver: DeviceDriver;
  readonly registry: Registry;
  readonly maintenance: MaintenanceWatcher;
  /** Stops probing, watching and serving, and releases the driver. */
  close(): Promise<void>;
}

/** Builds and starts every part of the state server. */
export async function startStateServer(config: StateServerConfig, deps: StateServerDeps): Promise<StateServer> {
  const log = deps.log.child({ component: "state-server" });
  const registry = createMetricsRegistry(config.botId);
  const metrics = new StateServerMetrics(registry);
  // Before the driver: a power setting that is wrong is a ConfigError at start-up (exit 2).
  const controller = createPowerController(config, {
    log: deps.log,
    commandTimeoutSeconds: config.commandTimeoutSeconds,
    ...(deps.powerEnv ? { env: deps.powerEnv } : {}),
  });
  const power = controller
    ? new PowerCycler({
        controller,
        offSeconds: config.powerOffSeconds,
        settleSeconds: config.powerSettleSeconds,
        limits: { perHour: config.powerCyclesPerHour, cooldownSeconds: config.powerCycleCooldownSeconds },
        metrics,
        log: deps.log.child({ component: "power" }),
        now: deps.now ?? Date.now,
        historyFile: config.sharedDir ? join(config.sharedDir, POWER_CYCLE_HISTORY_FILE) : undefined,
      })
    : undefined;
  const driver = deps.driver ?? (await createDriver(config, { log: deps.log }));
  let tokenSource: TokenSource | undefined;
  const started: Server[] = [];
  let maintenance: MaintenanceWatcher | undefined;
  let monitor: DeviceMonitor | undefined;

  const close = async () => {
    await monitor?.stop();
    maintenance?.stop();
    tokenSource?.stop();
    await Promise.all(started.map((s) => closeServer(s)));
    power?.close();
    await driver.close();
  };

  try {
    let tokens: TokenProvider | null;
    if (deps.tokens !== undefined) tokens = deps.tokens;
    else {
      tokenSource = new TokenSource({ configPath: config.tokenConfig, log: deps.log, metrics: registry });
      await tokenSource.start();
      tokens = tokenSource.enabled ? tokenSource : null;
    }

    const m = new DeviceMonitor({
      driver,
      kind: config.device,
      log: deps.log,
      metrics,
      probeIntervalSeconds: config.probeIntervalSeconds,
      commandTimeoutSeconds: config.commandTimeoutSeconds,
      rebootAfterTask: rebootAfterTaskFor(config),
      rebootTimeoutSeconds: config.rebootTimeoutSeconds,
      thresholds: config,
      thresholdsByDeviceType: config.thresholdsByDeviceType,
      power,
      serial: config.serial,
      ...(deps.now ? { now: deps.now } : {}),
    });
    monitor = m;
    maintenance = new MaintenanceWatcher({
      dir: config.maintenanceDir,
      botId: config.botId,
      log: deps.log.child({ component: "maintenance" }),
      onChange: (messages) => m.setOperatorMessages(messages),
      ...(deps.maintenancePollMs ? { pollMs: deps.maintenancePollMs } : {}),
    });
    await maintenance.start();

    const tasks = new TaskTracker(m, { sharedDir: config.sharedDir, log: deps.log, metrics });
    await tasks.start();
    const { app: hookApp } = createHookApp({
      botId: config.botId,
      kind: config.device,
      monitor: m,
      tasks,
      metrics,
      log: deps.log,
      staticDimensions: config.staticDimensions,
      staticState: config.staticState,
      botSettings: config.botSettings,
      tokens,
    });
    const hooks = await listen(hookApp, config.hookHost, config.hookPort);
    started.push(hooks.server);
    const metricsApp = createMetricsApp({ registry, log: deps.log, ready: () => m.snapshot.ready });
    const metricsServer = await listen(metricsApp, config.metricsHost, config.metricsPort);
    started.push(metricsServer.server);

    m.start();
    log.info(
      {
        hookUrl: hooks.url,
        metricsUrl: metricsServer.url,
        device: config.device,
        simulated: config.device === "simulated",
        powerController: config.powerController,
        auth: tokens !== null,
      },
      "state server listening",
    );
    return {
      hookUrl: hooks.url,
      metricsUrl: metricsServer.url,
      monitor: m,
      driver,
      registry,
      maintenance,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
