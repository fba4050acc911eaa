import { type Dimensions, type Health, type MergedDimensions, mergeDimensions } from "@rpi-swarming/devices";
import type { Snapshot } from "./monitor.js";

/** Dimension keys that claim a device answers; dropped while it does not. */
const PRESENCE_KEYS = ["android_devices"];

/** The dimensions for the bot: its own, the static ones, the device's (kept while it is briefly away). */
export function buildDimensions(
  botId: string,
  botDimensions: Dimensions,
  staticDimensions: Dimensions,
  snapshot: Pick<Snapshot, "probe" | "deviceDimensions">,
): MergedDimensions {
  // A probe may carry a device and a note (e.g. it was offline and reconnect revived it): it answered.
  const answering = snapshot.probe?.device !== undefined;
  const device = { ...snapshot.deviceDimensions };
  if (!answering) for (const key of PRESENCE_KEYS) delete device[key];
  return mergeDimensions(botId, botDimensions, staticDimensions, device);
}

/** A state value the bot already had, joined with ours: messages are joined, ours never lost. */
function join(botValue: unknown, ours: readonly string[]): unknown {
  if (ours.length === 0) return botValue;
  const parts: string[] = [];
  if (typeof botValue === "string" && botValue.trim() !== "") parts.push(botValue);
  for (const m of ours) if (!parts.includes(m)) parts.push(m);
  return parts.join("; ");
}

/** `maintenance` and `quarantined` strings from a health verdict. */
export function healthMessages(health: Health): { maintenance: string[]; quarantined: string[] } {
  return {
    maintenance: health.maintenance.map((m) => m.message),
    quarantined: health.quarantined.map((q) => q.message),
  };
}

/** The state for the bot: its own keys kept, the device's facts and the health verdict added. */
export function buildState(
  botState: Readonly<Record<string, unknown>>,
  staticState: Readonly<Record<string, unknown>>,
  snapshot: Pick<Snapshot, "probe" | "health" | "taskRunning">,
): Record<string, unknown> {
  const probe = snapshot.probe;
  const device = probe?.device;
  const battery = device?.battery;
  // Object.assign, not `{ ...botState, device: ... }`: on V8 11 (Node 20) an object spread
  // followed by more properties, on every request, has each young-generation GC promote
  // some 20 KB to the old generation (docs/contributing.md, "Change code that runs on
  // every hook request").
  const state: Record<string, unknown> = Object.assign({}, botState, staticState, {
    device: Object.assign(
      {
        kind: probe?.kind ?? null,
        serial: device?.serial ?? probe?.problem?.serial ?? null,
        connection: device?.connection ?? null,
        simulated: probe?.simulated === true,
        problem: probe?.problem ? { code: probe.problem.code, message: probe.problem.message } : null,
      },
      device?.extra,
    ),
    battery: battery
      ? {
          ratio: battery.ratio ?? null,
          temperature_celsius: battery.temperatureCelsius ?? null,
          health: battery.health ?? null,
          status: battery.status ?? null,
          charging: battery.charging ?? null,
        }
      : null,
    temperatures_celsius: device?.temperaturesCelsius ?? {},
    device_uptime_seconds: device?.uptimeSeconds ?? null,
    last_probe_time: probe ? probe.finishedAt / 1000 : null,
    task_running: snapshot.taskRunning,
  });
  const { maintenance, quarantined } = healthMessages(snapshot.health);
  const m = join(botState.maintenance, maintenance);
  const q = join(botState.quarantined, quarantined);
  if (m !== undefined) state.maintenance = m;
  else delete state.maintenance;
  if (q !== undefined) state.quarantined = q;
  else delete state.quarantined;
  return state;
}
