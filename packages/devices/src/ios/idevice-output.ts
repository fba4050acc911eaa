import type { BatteryReading, Dimensions } from "../types.js";

/** UDIDs as `idevice_id -l` prints them: 40 hex digits (older) or 8-16 hex digits with a dash (2018 on). */
const UDID_PATTERN = /^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{8}-[0-9a-fA-F]{16})$/;

/** Parses `idevice_id -l`: one UDID per line; anything else is skipped. */
export function parseIdeviceIdList(text: string): string[] {
  const udids: string[] = [];
  for (const line of text.split("\n")) {
    const udid = line.trim();
    if (UDID_PATTERN.test(udid) && !udids.includes(udid)) udids.push(udid);
  }
  return udids;
}

/**
 * Parses `ideviceinfo` key/value output. Only top-level keys are kept:
 * nested dictionaries and arrays print their members indented below a
 * `Key:` line, and none of the keys we use is nested.
 */
export function parseIdeviceinfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const match = /^([A-Za-z][A-Za-z0-9_]*): ?(.*)$/.exec(line);
    if (match?.[1] && match[2] !== undefined && !(match[1] in info)) info[match[1]] = match[2].trim();
  }
  return info;
}

/** `os` and `device_type` as docs/devices.md gives them; keys without a value are left out. */
export function iosDimensions(info: Readonly<Record<string, string>>): Dimensions {
  const dims: Dimensions = { os: ["iOS"] };
  const version = info.ProductVersion;
  if (version && /^[0-9A-Za-z.]+$/.test(version)) dims.os = ["iOS", `iOS-${version}`];
  if (info.ProductType) dims.device_type = [info.ProductType];
  return dims;
}

/** Parses the `com.apple.mobile.battery` domain; undefined when it holds no charge reading. */
export function parseIosBattery(text: string): BatteryReading | undefined {
  const b = parseIdeviceinfo(text);
  const capacity = b.BatteryCurrentCapacity;
  const percent = capacity !== undefined && /^\d+$/.test(capacity) ? Number(capacity) : undefined;
  if (percent === undefined && b.BatteryIsCharging === undefined) return undefined;
  const charging = b.BatteryIsCharging === undefined ? undefined : b.BatteryIsCharging === "true";
  let status: string | undefined;
  if (b.FullyCharged === "true") status = "full";
  else if (charging) status = "charging";
  else if (charging === false) status = b.ExternalConnected === "true" ? "not_charging" : "discharging";
  const reading: { -readonly [K in keyof BatteryReading]: BatteryReading[K] } = {};
  if (percent !== undefined) reading.ratio = Math.min(1, percent / 100);
  if (status !== undefined) reading.status = status;
  if (charging !== undefined) reading.charging = charging;
  return reading;
}
