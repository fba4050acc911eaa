import type { ProbeSection } from "../android/probe-script.js";
import { simulatedProbeSections } from "./android-text.js";
import type { ConditionPatch, SimulatedOptions } from "./options.js";

/** The phone's condition as the control interface shows it. */
export interface SimulatedCondition {
  readonly simulated: true;
  readonly serial: string;
  readonly batteryRatio: number;
  readonly charging: boolean;
  readonly batteryTemperatureCelsius: number;
  readonly cpuTemperatureCelsius: number;
  readonly unplugged: boolean;
  readonly unauthorized: boolean;
  readonly offline: boolean;
  readonly hung: boolean;
  readonly rebooting: boolean;
  /** Seconds until a running reboot ends; 0 when not rebooting. */
  readonly rebootRemainingSeconds: number;
  readonly uptimeSeconds: number;
  readonly reboots: number;
}

const TEMPERATURE_PERIOD_SECONDS = 600;

/**
 * A deterministic virtual Android phone: its condition is a function of the
 * options, the faults injected and the clock alone, so tests can drive it
 * with a fake clock and demos with a fast one (timeScale).
 */
export class SimulatedPhone {
  private batteryRatio: number;
  private charging: boolean;
  private batteryBase: number;
  private cpuBase: number;
  private unplugged = false;
  private unauthorized = false;
  private offline = false;
  private hung = false;
  /** ms since the epoch. */
  private lastUpdate: number;
  private bootedAt: number;
  private rebootUntil = 0;
  private rebootCount = 0;

  constructor(
    readonly options: SimulatedOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.batteryRatio = options.batteryRatio;
    this.charging = options.charging;
    this.batteryBase = options.batteryTemperatureCelsius;
    this.cpuBase = options.cpuTemperatureCelsius;
    this.lastUpdate = now();
    this.bootedAt = this.lastUpdate;
  }

  /** Moves the battery on to the current time. */
  private advance(): number {
    const t = this.now();
    const hours = (Math.max(0, t - this.lastUpdate) / 3_600_000) * this.options.timeScale;
    this.lastUpdate = t;
    const o = this.options;
    if (hours > 0 && !this.unplugged) {
      const rate = this.charging ? o.chargePerHour : -o.drainPerHour;
      this.batteryRatio = Math.min(1, Math.max(0, this.batteryRatio + rate * hours));
    }
    if (o.chargeBelowRatio !== undefined) {
      if (!this.charging && this.batteryRatio < o.chargeBelowRatio) this.charging = true;
      else if (this.charging && this.batteryRatio >= o.chargeUntilRatio) this.charging = false;
    }
    return t;
  }

  private swing(t: number, phase: number): number {
    const simSeconds = ((t - this.bootedAt) / 1000) * this.options.timeScale;
    const angle = (2 * Math.PI * simSeconds) / TEMPERATURE_PERIOD_SECONDS + phase;
    return Math.round(this.options.temperatureSwingCelsius * Math.sin(angle) * 10) / 10;
  }

  isRebooting(t = this.now()): boolean {
    return t < this.rebootUntil;
  }

  condition(): SimulatedCondition {
    const t = this.advance();
    const rebooting = this.isRebooting(t);
    return {
      simulated: true,
      serial: this.options.serial,
      batteryRatio: Math.round(this.batteryRatio * 10_000) / 10_000,
      charging: this.charging,
      batteryTemperatureCelsius: this.batteryBase + this.swing(t, 0),
      cpuTemperatureCelsius: this.cpuBase + this.swing(t, Math.PI / 3),
      unplugged: this.unplugged,
      unauthorized: this.unauthorized,
      offline: this.offline,
      hung: this.hung,
      rebooting,
      rebootRemainingSeconds: rebooting ? Math.ceil((this.rebootUntil - t) / 1000) : 0,
      uptimeSeconds: rebooting ? 0 : Math.round(((t - this.bootedAt) / 1000) * this.options.timeScale * 100) / 100,
      reboots: this.rebootCount,
    };
  }

  apply(patch: ConditionPatch): SimulatedCondition {
    this.advance();
    if (patch.batteryRatio !== undefined) this.batteryRatio = patch.batteryRatio;
    if (patch.charging !== undefined) this.charging = patch.charging;
    if (patch.batteryTemperatureCelsius !== undefined) this.batteryBase = patch.batteryTemperatureCelsius;
    if (patch.cpuTemperatureCelsius !== undefined) this.cpuBase = patch.cpuTemperatureCelsius;
    if (patch.unplugged !== undefined) this.unplugged = patch.unplugged;
    if (patch.unauthorized !== undefined) this.unauthorized = patch.unauthorized;
    if (patch.offline !== undefined) this.offline = patch.offline;
    if (patch.hung !== undefined) this.hung = patch.hung;
    if (patch.reboot) this.reboot();
    return this.condition();
  }

  /** A reboot clears what a real reboot clears (offline, hung) and makes the phone vanish for rebootSeconds. */
  reboot(): void {
    const t = this.advance();
    this.rebootUntil = t + this.options.rebootSeconds * 1000;
    this.bootedAt = this.rebootUntil;
    this.offline = false;
    this.hung = false;
    this.rebootCount += 1;
  }

  /** `adb reconnect` brings an offline phone back. */
  reconnect(): void {
    this.offline = false;
  }

  /** What the phone's tools print now (getprop, dumpsys battery and thermalservice, /proc/uptime). */
  probeOutput(condition: SimulatedCondition = this.condition()): Record<ProbeSection, string> {
    return simulatedProbeSections(this.options, condition);
  }
}
