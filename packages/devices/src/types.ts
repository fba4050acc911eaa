/** What a device driver tells about the device after one probe. Shared by every driver. */

export type DeviceKind = "android" | "ios" | "simulated" | "none";

/** Dimensions as Swarming wants them: every value a list of strings. */
export type Dimensions = Record<string, string[]>;

/** Why a probe could not use the device; also the `reason` label of quarantine metrics. */
export type ProblemCode =
  | "device_missing"
  | "unauthorized"
  | "no_permissions"
  | "offline"
  | "several_devices"
  | "tool_missing"
  | "probe_failed";

export interface DeviceProblem {
  readonly code: ProblemCode;
  /** For people: names the device and what an operator should do. */
  readonly message: string;
  readonly serial?: string;
  /** The probe hit its time limit (the hung process group was killed). */
  readonly timedOut?: boolean;
}

export interface BatteryReading {
  /** 0-1; undefined when level or scale is unknown. */
  readonly ratio?: number;
  readonly temperatureCelsius?: number;
  /** Android health name: unknown, good, overheat, dead, over_voltage, failure, cold. */
  readonly health?: string;
  /** Android status name: unknown, charging, discharging, not_charging, full. */
  readonly status?: string;
  readonly charging?: boolean;
}

export interface DeviceReading {
  readonly serial: string;
  /** The connection state as the tool reports it (adb: `device`; iOS: `paired`). */
  readonly connection: string;
  /** Dimensions derived from the device (docs/devices.md), without `id` or static ones. */
  readonly dimensions: Dimensions;
  readonly battery?: BatteryReading;
  /** By sensor name; the battery's own reading is under `battery`. */
  readonly temperaturesCelsius: Record<string, number>;
  readonly uptimeSeconds?: number;
  /** Free-form facts for the state (model, product...), JSON-serialisable. */
  readonly extra?: Record<string, unknown>;
}

export interface ProbeResult {
  readonly kind: DeviceKind;
  /** ms since the epoch when the probe finished. */
  readonly finishedAt: number;
  readonly durationSeconds: number;
  /** External processes spawned by this probe. */
  readonly spawns: number;
  /** Set when a device answered. */
  readonly device?: DeviceReading;
  /** Set when something is wrong; a probe may have both (e.g. reconnect helped). */
  readonly problem?: DeviceProblem;
  /** True for the simulated driver, so logs and state say so. */
  readonly simulated?: boolean;
}

/** A ladder step; power_cycle is done by the power controller (packages/devices/src/power), not the driver. */
export type RecoveryAction = "reconnect" | "restart_server" | "reboot" | "power_cycle";

/** Where a device sits on USB, for the power controller; what the driver knows of it. */
export interface PowerTarget {
  /** Serial (Android) or UDID (iOS). */
  readonly serial?: string;
  /** The USB path adb prints (`usb:1-1.2` gives `1-1.2`): hub location 1-1, port 2. */
  readonly usbPath?: string;
}

export interface DeviceDriver {
  readonly kind: DeviceKind;
  /** One probe cycle. Never throws: problems are reported in the result. */
  probe(): Promise<ProbeResult>;
  /** One recovery step. Throws a domain error when it cannot be done. */
  recover(action: RecoveryAction): Promise<void>;
  /** The device last seen, for a power cycle; undefined before one was seen. */
  powerTarget?(): PowerTarget | undefined;
  /** Frees anything the driver holds (timers, control servers). */
  close(): Promise<void>;
}
