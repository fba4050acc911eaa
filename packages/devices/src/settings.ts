import { setting } from "@rpi-swarming/core";
import { z } from "zod";
import { staticDimensionsSchema } from "./dimensions.js";
import type { Thresholds } from "./policy/health.js";
import { simulatedOptionsSchema } from "./simulated/options.js";

const positiveSeconds = (max: number) => z.number().positive().max(max);

/** Which device the pod serves and how it is probed. Android/iOS drivers add their own settings beside these. */
export const deviceSettings = {
  device: setting(
    "string",
    z.enum(["android", "ios", "simulated", "none"]).default("none"),
    "device kind: android (adb), ios (libimobiledevice), simulated (virtual phone for demos and tests), none (host only)",
  ),
  serial: setting(
    "string",
    z.string().min(1).max(256).optional(),
    "serial (Android) or UDID (iOS) of the device to use when several are attached",
    { env: "ANDROID_SERIAL" },
  ),
  adbPath: setting("string", z.string().min(1).default("adb"), "adb binary (name on PATH or absolute path)"),
  libimobiledeviceDir: setting(
    "string",
    z.string().min(1).optional(),
    "directory holding idevice_id, ideviceinfo and idevicediagnostics for --device ios (default: found on PATH)",
  ),
  probeIntervalSeconds: setting(
    "number",
    positiveSeconds(86_400).default(30),
    "seconds between two device probes (a probe also runs after every task and on POST /probe)",
  ),
  commandTimeoutSeconds: setting(
    "number",
    positiveSeconds(600).default(5),
    "time limit of one device tool invocation; a hung one is killed with its process group",
  ),
  rebootAfterTask: setting(
    "boolean",
    z.boolean().optional(),
    "reboot the device after every task (default: on for android, off otherwise)",
    { docDefault: "on for `android`, off otherwise" },
  ),
  rebootTimeoutSeconds: setting(
    "number",
    positiveSeconds(3600).default(300),
    "a device not answering this long after a reboot is quarantined (reboot_timeout)",
  ),
  simulatedControlPort: setting(
    "number",
    z.number().int().min(0).max(65_535).default(11001),
    "loopback port of the simulated device's fault-injection interface (0 = a free port)",
  ),
  simulated: setting(
    "map",
    simulatedOptionsSchema,
    "simulated device's starting condition, e.g. batteryRatio=0.8, drainPerHour=0.1, rebootSeconds=45 (see docs/state-server.md)",
    { docDefault: "see [state-server.md](state-server.md#simulated-device)" },
  ),
};

/** Dimensions and state the configuration adds to every reply. */
export const staticAttributeSettings = {
  staticDimensions: setting(
    "map",
    staticDimensionsSchema,
    "extra dimension key=value (e.g. pool=Skia, zone=rack3); a key given twice has several values; checked against Swarming's dimension rules at start-up (id is refused: it is botId)",
    { flag: "dimension", env: "RPI_SWARMING_DIMENSIONS" },
  ),
  staticState: setting(
    "map",
    z
      .record(z.string().min(1).max(256), z.unknown())
      .default({})
      // Flags give every value as a list; a single value reads better as a plain string.
      .transform((m) =>
        Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Array.isArray(v) && v.length === 1 ? v[0] : v])),
      ),
    "extra state key=value shown in the Swarming UI (e.g. rack=A3)",
    { flag: "state", env: "RPI_SWARMING_STATE" },
  ),
};

const ratio = z.number().min(0).max(1);

/**
 * The sensors held to maxTemperatureCelsius by default: those that say whether
 * the phone itself is hot. The battery (from dumpsys battery, and on many
 * phones a thermal-HAL sensor of that name) and the skin sensors (`skin`,
 * `skin-therm`, `SKIN`; `VIRTUAL-SKIN` on newer Pixels). CPU and GPU sensors
 * of an idle Pixel read 36-40 degC, above the 35 degC other labs use for the
 * phone, so counting them would put ordinary idle phones into maintenance;
 * name them (e.g. `cpu*`) to hold them to the limit too.
 */
export const DEFAULT_TEMPERATURE_SENSORS: readonly string[] = ["battery", "skin*", "virtual-skin"];

/** Names or globs of temperature sensors (see sensorMatches in policy/health.ts). */
const temperatureSensorsSchema = z
  .array(
    z
      .string()
      .trim()
      .min(1, "a sensor name or pattern must not be empty")
      .max(128)
      .regex(/^[^\s,]+$/, "a sensor name or pattern has no spaces or commas"),
  )
  .min(1, 'name at least one sensor or pattern ("*" for all)');

/** Health policy thresholds; a device type may override each (setting thresholdsByDeviceType). */
const thresholdSettings = {
  batteryMinRatio: setting(
    "number",
    ratio.default(0.3),
    "battery charge (0-1) below which the device goes into maintenance (battery_low)",
  ),
  batteryHysteresisRatio: setting(
    "number",
    ratio.default(0.05),
    "the battery must recover this much above batteryMinRatio to leave maintenance",
    { doc: "back in service only from `batteryMinRatio` + this (35 % by default)" },
  ),
  maxTemperatureCelsius: setting(
    "number",
    z.number().min(-50).max(200).default(35),
    "any selected sensor's temperature above this (degC) puts the device into maintenance (too_hot)",
  ),
  temperatureHysteresisCelsius: setting(
    "number",
    z.number().min(0).max(100).default(2),
    "every temperature must fall this far below maxTemperatureCelsius to leave maintenance",
    {
      doc: "back only when every selected sensor is at or below `maxTemperatureCelsius` minus this (33 degC by default)",
    },
  ),
  temperatureSensors: setting(
    "list",
    temperatureSensorsSchema.default([...DEFAULT_TEMPERATURE_SENSORS]),
    `temperature sensors held to maxTemperatureCelsius: names or globs (* and ?, case-insensitive) of the probe's sensors, e.g. battery,cpu* (the battery's is named battery); default ${DEFAULT_TEMPERATURE_SENSORS.join(",")} (the phone's own temperature: CPU sensors of an idle phone run above 35 degC), * for all`,
  ),
};

type WithoutDefault<S> = S extends z.ZodDefault<infer Inner> ? Inner : S;
/** The threshold settings' schemas without their defaults: an override names only what it changes. */
function overrideShape<T extends Record<string, { readonly schema: z.ZodType }>>(
  specs: T,
): { [K in keyof T]: WithoutDefault<T[K]["schema"]> } {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, spec] of Object.entries(specs))
    shape[key] = spec.schema instanceof z.ZodDefault ? (spec.schema.unwrap() as z.ZodType) : spec.schema;
  return shape as { [K in keyof T]: WithoutDefault<T[K]["schema"]> };
}

/** Thresholds one device type may override (setting thresholdsByDeviceType): every threshold setting. */
export const thresholdOverridesSchema = z.object(overrideShape(thresholdSettings)).partial().strict();

// The health policy's Thresholds and the threshold settings name the same keys.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const sameThresholdKeys: SameKeys<Thresholds, typeof thresholdSettings> = true;
void sameThresholdKeys;

/** Health policy settings. */
export const healthSettings = {
  ...thresholdSettings,
  thresholdsByDeviceType: setting(
    "map",
    z.record(z.string().min(1), thresholdOverridesSchema).default({}),
    'per device_type overrides of the five health thresholds, JSON or YAML, e.g. {"flame": {"batteryMinRatio": 0.15, "temperatureSensors": ["battery"]}}',
  ),
};
export { powerHttpSchema, powerSettings } from "./power/settings.js";
