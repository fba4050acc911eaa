import type { BatteryReading } from "../types.js";

const HEALTH_NAMES: Readonly<Record<string, string>> = {
  "1": "unknown",
  "2": "good",
  "3": "overheat",
  "4": "dead",
  "5": "over_voltage",
  "6": "failure",
  "7": "cold",
};

const STATUS_NAMES: Readonly<Record<string, string>> = {
  "1": "unknown",
  "2": "charging",
  "3": "discharging",
  "4": "not_charging",
  "5": "full",
};

/** The `key: value` lines of `dumpsys battery`, keys as printed (`AC powered`, `level`...). */
export function batteryFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^\s+([A-Za-z][A-Za-z0-9 _]*?):\s*(.*?)\s*$/.exec(line);
    if (match?.[1] && match[2] !== undefined && !(match[1] in fields)) fields[match[1]] = match[2];
  }
  return fields;
}

function integer(value: string | undefined): number | undefined {
  if (value === undefined || !/^-?\d+$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Parses `dumpsys battery`. Returns undefined when the output holds none of
 * the fields we use (service missing, garbage). Charge ratio = level / scale;
 * temperature is in tenths of a degree C.
 */
export function parseDumpsysBattery(text: string): BatteryReading | undefined {
  const f = batteryFields(text);
  const level = integer(f.level);
  const scale = integer(f.scale);
  const tenths = integer(f.temperature);
  const healthCode = integer(f.health);
  const statusCode = integer(f.status);
  const powered = ["AC powered", "USB powered", "Wireless powered", "Dock powered"]
    .map((k) => f[k])
    .filter((v): v is string => v === "true" || v === "false");
  if ([level, tenths, healthCode, statusCode].every((v) => v === undefined) && powered.length === 0) return undefined;

  const ratio =
    level !== undefined && scale !== undefined && scale > 0 && level >= 0 ? Math.min(1, level / scale) : undefined;
  const status = statusCode === undefined ? undefined : (STATUS_NAMES[String(statusCode)] ?? "unknown");
  const health = healthCode === undefined ? undefined : (HEALTH_NAMES[String(healthCode)] ?? "unknown");
  // The status says best whether charge flows in; the power sources are the fallback.
  let charging: boolean | undefined;
  if (status === "charging") charging = true;
  else if (status === "discharging" || status === "not_charging" || status === "full") charging = false;
  else if (powered.length > 0) charging = powered.includes("true");

  const reading: { -readonly [K in keyof BatteryReading]: BatteryReading[K] } = {};
  if (ratio !== undefined) reading.ratio = ratio;
  if (tenths !== undefined) reading.temperatureCelsius = tenths / 10;
  if (health !== undefined) reading.health = health;
  if (status !== undefined) reading.status = status;
  if (charging !== undefined) reading.charging = charging;
  return reading;
}
