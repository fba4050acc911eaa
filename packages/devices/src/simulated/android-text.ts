import type { ProbeSection } from "../android/probe-script.js";
import type { SimulatedOptions } from "./options.js";

/** The part of the phone's condition that its tools print. */
export interface PrintedCondition {
  readonly serial: string;
  readonly batteryRatio: number;
  readonly charging: boolean;
  readonly batteryTemperatureCelsius: number;
  readonly cpuTemperatureCelsius: number;
  readonly uptimeSeconds: number;
}

/** `getprop` lines (sorted by key, as Android prints them) for the simulated phone's identity. */
export function simulatedGetprop(o: SimulatedOptions, serial: string): string {
  const props: Record<string, string> = {
    "ro.boot.serialno": serial,
    "ro.build.id": o.buildId,
    "ro.build.product": o.deviceType,
    "ro.build.type": o.buildType,
    "ro.build.version.incremental": o.buildIncremental,
    "ro.product.board": o.deviceType,
    "ro.product.brand": o.brand,
    "ro.product.device": o.deviceType,
    "ro.product.model": `${o.deviceType} (simulated)`,
    "ro.product.name": o.deviceType,
    "ro.serialno": serial,
    "sys.boot_completed": "1",
  };
  return Object.keys(props)
    .sort()
    .map((k) => `[${k}]: [${props[k]}]`)
    .join("\n");
}

/** `dumpsys battery` as Android prints it: level out of scale 100, temperature in tenths of a degree C. */
export function simulatedDumpsysBattery(c: PrintedCondition): string {
  const full = c.charging && c.batteryRatio >= 1;
  // Status codes: 2 charging, 3 discharging, 5 full (docs/devices.md).
  const status = full ? 5 : c.charging ? 2 : 3;
  return [
    "Current Battery Service state:",
    "  AC powered: false",
    `  USB powered: ${c.charging}`,
    "  Wireless powered: false",
    `  status: ${status}`,
    "  health: 2",
    "  present: true",
    `  level: ${Math.round(c.batteryRatio * 100)}`,
    "  scale: 100",
    "  voltage: 4321",
    `  temperature: ${Math.round(c.batteryTemperatureCelsius * 10)}`,
    "  technology: Li-ion",
  ].join("\n");
}

/** `dumpsys thermalservice` with one CPU sensor, `cpu0`. */
export function simulatedThermalservice(c: PrintedCondition): string {
  return [
    "IsStatusOverride: false",
    "Thermal Status: 0",
    "HAL Ready: true",
    "Current temperatures from HAL:",
    `\tTemperature{mValue=${c.cpuTemperatureCelsius}, mType=0, mName=cpu0, mStatus=0}`,
    "Current cooling devices from HAL:",
  ].join("\n");
}

/** `/proc/uptime`: seconds since boot, then idle seconds. */
export function simulatedProcUptime(c: PrintedCondition): string {
  return `${c.uptimeSeconds.toFixed(2)} ${(c.uptimeSeconds * 3).toFixed(2)}`;
}

/** What the probe script's `adb shell` prints, section by section. */
export function simulatedProbeSections(o: SimulatedOptions, c: PrintedCondition): Record<ProbeSection, string> {
  return {
    getprop: simulatedGetprop(o, c.serial),
    battery: simulatedDumpsysBattery(c),
    thermal: simulatedThermalservice(c),
    uptime: simulatedProcUptime(c),
  };
}
