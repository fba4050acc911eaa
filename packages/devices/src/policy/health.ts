import type { DeviceKind, ProbeResult, ProblemCode, RecoveryAction } from "../types.js";

/** Why a bot is in maintenance; also the `reason` label of rpi_swarming_maintenance. */
export type MaintenanceReason = "starting" | "battery_low" | "too_hot" | "operator" | "rebooting";
/** Why a bot is quarantined; also the `reason` label of rpi_swarming_quarantined. */
export type QuarantineReason = ProblemCode | "reboot_timeout";

export const MAINTENANCE_REASONS: readonly MaintenanceReason[] = [
  "starting",
  "battery_low",
  "too_hot",
  "operator",
  "rebooting",
];
export const QUARANTINE_REASONS: readonly QuarantineReason[] = [
  "device_missing",
  "unauthorized",
  "no_permissions",
  "offline",
  "several_devices",
  "tool_missing",
  "probe_failed",
  "reboot_timeout",
];

export interface HealthEntry<R extends string> {
  readonly reason: R;
  readonly message: string;
}

export interface Health {
  readonly status: "ok" | "maintenance" | "quarantined";
  readonly maintenance: readonly HealthEntry<MaintenanceReason>[];
  readonly quarantined: readonly HealthEntry<QuarantineReason>[];
}

export interface Thresholds {
  readonly batteryMinRatio: number;
  readonly batteryHysteresisRatio: number;
  readonly maxTemperatureCelsius: number;
  readonly temperatureHysteresisCelsius: number;
  /**
   * Sensors held to maxTemperatureCelsius: names or globs (`*`, `?`), matched
   * case-insensitively against probeTemperatures' keys. Undefined means all.
   */
  readonly temperatureSensors?: readonly string[];
}

/** A message an operator left in the maintenance directory. */
export interface OperatorMessage {
  /** The file it came from. */
  readonly source: string;
  readonly message: string;
}

export interface RebootStatus {
  /** after_task: rebootAfterTask; recovery: the recovery ladder; requested: POST /reboot_device. */
  readonly cause: "after_task" | "recovery" | "requested";
  /** Set when the power was cut rather than the device told to reboot. */
  readonly via?: "power_cycle";
  /** ms since the epoch. */
  readonly startedAt: number;
  readonly timeoutSeconds: number;
}

export interface HealthInput {
  readonly kind: DeviceKind;
  /** The last finished probe; undefined before the first one. */
  readonly probe: ProbeResult | undefined;
  readonly thresholds: Thresholds;
  /** The health the previous evaluation gave; drives the hysteresis. */
  readonly previous: Health | undefined;
  readonly operatorMessages: readonly OperatorMessage[];
  /** Set from the moment a reboot is asked for until the device answers again. */
  readonly reboot: RebootStatus | undefined;
  /** Recovery steps already tried without success, in order. */
  readonly recoveryTried: readonly RecoveryAction[];
  /** The ladder's power cycle was held back by its cap or cool-down. */
  readonly powerCycleHeld?: "capped" | "cooling_down" | undefined;
  /** ms since the epoch. */
  readonly now: number;
}

const pct = (ratio: number) => `${Math.round(ratio * 100)}%`;
const deg = (c: number) => `${c.toFixed(1)} degC`;

/** The thresholds for a device: the first of its device types with overrides wins. */
export function resolveThresholds(
  base: Thresholds,
  overrides: Readonly<Record<string, Partial<Thresholds>>>,
  deviceTypes: readonly string[],
): Thresholds {
  for (const type of deviceTypes) {
    const o = overrides[type];
    if (o) return { ...base, ...o };
  }
  return base;
}

/** Every temperature of a probe by sensor, the battery's included. */
export function probeTemperatures(probe: ProbeResult | undefined): Record<string, number> {
  const device = probe?.device;
  if (!device) return {};
  const temps: Record<string, number> = { ...device.temperaturesCelsius };
  const battery = device.battery?.temperatureCelsius;
  if (battery !== undefined) temps.battery = battery;
  return temps;
}

/** Whether a sensor name matches a pattern: `*` any run of characters, `?` one, case-insensitive. */
export function sensorMatches(pattern: string, sensor: string): boolean {
  const source = [...pattern]
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, "i").test(sensor);
}

/** The temperatures the policy judges: those of the sensors thresholds.temperatureSensors selects. */
export function selectedTemperatures(
  temps: Readonly<Record<string, number>>,
  patterns: readonly string[] | undefined,
): Record<string, number> {
  if (patterns === undefined) return { ...temps };
  return Object.fromEntries(Object.entries(temps).filter(([s]) => patterns.some((p) => sensorMatches(p, s))));
}

function had(previous: Health | undefined, reason: MaintenanceReason): boolean {
  return previous?.maintenance.some((m) => m.reason === reason) ?? false;
}

function batteryEntry(input: HealthInput): HealthEntry<MaintenanceReason> | undefined {
  const { batteryMinRatio: min, batteryHysteresisRatio: margin } = input.thresholds;
  const ratio = input.probe?.device?.battery?.ratio;
  const wasLow = had(input.previous, "battery_low");
  if (ratio === undefined) {
    // No reading says nothing new: keep what we had rather than flap.
    return wasLow ? input.previous?.maintenance.find((m) => m.reason === "battery_low") : undefined;
  }
  if (ratio < min) return { reason: "battery_low", message: `Battery low: ${pct(ratio)} < ${pct(min)}` };
  const leaveAt = Math.min(1, min + margin);
  if (wasLow && ratio < leaveAt)
    return { reason: "battery_low", message: `Battery low: ${pct(ratio)}, charging until ${pct(leaveAt)}` };
  return undefined;
}

function temperatureEntry(input: HealthInput): HealthEntry<MaintenanceReason> | undefined {
  const { maxTemperatureCelsius: max, temperatureHysteresisCelsius: margin, temperatureSensors } = input.thresholds;
  const temps = Object.entries(selectedTemperatures(probeTemperatures(input.probe), temperatureSensors)).sort(
    ([a], [b]) => a.localeCompare(b),
  );
  const hot = temps.filter(([, c]) => c > max);
  if (hot.length > 0)
    return { reason: "too_hot", message: `Too hot: ${hot.map(([s, c]) => `${s} ${deg(c)}`).join(", ")} > ${deg(max)}` };
  if (!had(input.previous, "too_hot")) return undefined;
  if (temps.length === 0) return input.previous?.maintenance.find((m) => m.reason === "too_hot");
  const leaveAt = max - margin;
  const warm = temps.filter(([, c]) => c > leaveAt);
  if (warm.length > 0)
    return {
      reason: "too_hot",
      message: `Too hot: ${warm.map(([s, c]) => `${s} ${deg(c)}`).join(", ")}, cooling until ${deg(leaveAt)}`,
    };
  return undefined;
}

/** Says why the ladder did not power-cycle the device, when its limits held it back. */
function heldNote(input: HealthInput): string {
  if (!input.powerCycleHeld) return "";
  const why = input.powerCycleHeld === "capped" ? "powerCyclesPerHour reached" : "within powerCycleCooldownSeconds";
  return `; no power cycle: ${why}`;
}

function deviceName(input: HealthInput): string {
  const serial = input.probe?.device?.serial ?? input.probe?.problem?.serial;
  return serial ? `${input.kind} device ${serial}` : `the ${input.kind} device`;
}

/**
 * The health policy: pure, so every rule is unit-tested. Quarantine is for
 * devices that cannot run a task until someone acts; maintenance is for
 * conditions that pass (battery, heat, reboot) or that an operator asked for.
 */
export function evaluateHealth(input: HealthInput): Health {
  const maintenance: HealthEntry<MaintenanceReason>[] = [];
  const quarantined: HealthEntry<QuarantineReason>[] = [];
  const { probe, reboot } = input;

  if (reboot) {
    const waited = (input.now - reboot.startedAt) / 1000;
    const why = { after_task: "after a task", recovery: "to recover it", requested: "on request" }[reboot.cause];
    if (waited <= reboot.timeoutSeconds) {
      const doing = reboot.via === "power_cycle" ? "Power-cycled" : "Rebooting";
      maintenance.push({
        reason: "rebooting",
        message: `${doing} ${deviceName(input)} ${why}; waiting up to ${reboot.timeoutSeconds} s for it to answer`,
      });
    } else {
      quarantined.push({
        reason: "reboot_timeout",
        message: `${deviceName(input)} has not answered for ${Math.round(waited)} s after a ${reboot.via === "power_cycle" ? "power cycle" : "reboot"} ${why} (limit ${reboot.timeoutSeconds} s)${heldNote(input)}; check its USB cable and power, or unplug and replug it`,
      });
    }
  } else if (probe === undefined) {
    maintenance.push({ reason: "starting", message: `Waiting for the first probe of the ${input.kind} device` });
  } else if (probe.problem && !probe.device) {
    const tried =
      input.recoveryTried.length > 0 ? ` (recovery tried without success: ${input.recoveryTried.join(", ")})` : "";
    quarantined.push({ reason: probe.problem.code, message: `${probe.problem.message}${tried}${heldNote(input)}` });
  } else if (probe.device) {
    const battery = batteryEntry(input);
    if (battery) maintenance.push(battery);
    const heat = temperatureEntry(input);
    if (heat) maintenance.push(heat);
  }

  for (const op of input.operatorMessages)
    maintenance.push({ reason: "operator", message: `${op.message} (operator, ${op.source})` });

  const status = quarantined.length > 0 ? "quarantined" : maintenance.length > 0 ? "maintenance" : "ok";
  return { status, maintenance, quarantined };
}
