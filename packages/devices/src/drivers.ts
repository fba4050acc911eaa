import { ConfigError, type ConfigOf, type Logger } from "@rpi-swarming/core";
import { AndroidDriver } from "./android/index.js";
import { IosDriver } from "./ios/index.js";
import { NoneDriver } from "./none/index.js";
import type { deviceSettings } from "./settings.js";
import { SimulatedDriver } from "./simulated/index.js";
import type { DeviceDriver, DeviceKind } from "./types.js";

/** The device settings every driver factory receives (drivers add their own keys to deviceSettings). */
export type DeviceConfig = ConfigOf<typeof deviceSettings>;

export interface DriverContext {
  readonly log: Logger;
}

export type DriverFactory = (config: DeviceConfig, ctx: DriverContext) => Promise<DeviceDriver>;

/** One factory per device kind; the android and ios drivers register here. */
export const driverFactories: Partial<Record<DeviceKind, DriverFactory>> = {
  android: async (config, ctx) =>
    new AndroidDriver({
      adbPath: config.adbPath,
      serial: config.serial,
      commandTimeoutSeconds: config.commandTimeoutSeconds,
      log: ctx.log,
    }),
  ios: async (config, ctx) =>
    new IosDriver({
      toolDir: config.libimobiledeviceDir,
      serial: config.serial,
      commandTimeoutSeconds: config.commandTimeoutSeconds,
      log: ctx.log,
    }),
  none: async () => new NoneDriver(),
  simulated: (config, ctx) =>
    SimulatedDriver.start({
      options: config.simulated,
      controlPort: config.simulatedControlPort,
      commandTimeoutSeconds: config.commandTimeoutSeconds,
      log: ctx.log,
    }),
};

/** Builds the driver the `device` setting names. */
export function createDriver(config: DeviceConfig, ctx: DriverContext): Promise<DeviceDriver> {
  const factory = driverFactories[config.device];
  if (!factory) throw new ConfigError(`device: no driver for "${config.device}" is built into this version`);
  return factory(config, ctx);
}

/** Whether the device is rebooted after every task: the setting, else on for Android as labs do. */
export function rebootAfterTaskFor(config: Pick<DeviceConfig, "device" | "rebootAfterTask">): boolean {
  return config.rebootAfterTask ?? config.device === "android";
}
