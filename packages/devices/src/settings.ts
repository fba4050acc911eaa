import { setting } from "@rpi-swarming/core";
import * as z from "zod/mini";
import { $ZodDefault, type $ZodType } from "zod/v4/core";
import { staticDimensionsSchema } from "./dimensions.js";
import type { Thresholds } from "./policy/health.js";
import { simulatedOptionsSchema } from "./simulated/options.js";

const positiveSeconds = (max: number) => z.number().check(z.positive(), z.lte(max));

/** Which device the pod serves and how it is probed. Android/iOS drivers add their own settings beside these. */
export const deviceSettings = {
  device: setting(
    "string",
    z._default(z.enum(["android", "ios", "simulated", "none"]), "none"),
    "device kind: android (adb), ios (libimobiledevice), simulated (virtual phone for demos and tests), none (host only)",
  ),
  serial: setting(
    "string",
    z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
    "serial (Android) or UDID (iOS) of the device to use when several are attached",
    { env: "ANDROID_SERIAL" },
  ),
  adbPath: setting(
    "string",
    z._default(z.string().check(z.minLength(1)), "adb"),
    "adb binary (name on PATH or absolute path)",
  ),
  libimobiledeviceDir: setting(
    "string",
    z.optional(z.string().check(z.minLength(1))),
    "directory holding idevice_id, ideviceinfo and idevicediagnostics for --device ios (default: found on PATH)",
  ),
  probeIntervalSeconds: setting(
    "number",
    z._default(positiveSeconds(86_400), 30),
    "seconds between two device probes (a probe also runs after every task and on POST /probe)",
  ),
  commandTimeoutSeconds: setting(
    "number",
    z._default(positiveSeconds(600), 5),
    "time limit of one device tool invocation; a hung one is killed with its process group",
  ),
  rebootAfterTask: setting(
    "boolean",
    z.optional(z.boolean()),
    "reboot the device after every task (default: on for android, off otherwise)",
    { docDefault: "on for `android`, off otherwise" },
  ),
  rebootTimeoutSeconds: setting(
    "number",
    z._default(positiveSeconds(3600), 300),
    "a device not answering this long after a reboot is quarantined (reboot_timeout)",
  ),
  simulatedControlPort: setting(
    "number",
    z._default(z.int().check(z.gte(0), z.lte(65_535)), 11001),
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
    z.pipe(
      z._default(z.record(z.string().check(z.minLength(1), z.maxLength(256)), z.unknown()), {}),
      // Flags give every value as a list; a single value reads better as a plain string.
      z.transform((m) =>
        Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Array.isArray(v) && v.length === 1 ? v[0] : v])),
      ),
    ),
    "extra state key=value shown in the Swarming UI (e.g. rack=A3)",
    { flag: "state", env: "RPI_SWARMING_STATE" },
  ),
};

const ratio = z.number().check(z.gte(0), z.lte(1));

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
      .check(
        z.trim(),
        z.minLength(1, "a sensor name or pattern must not be empty"),
        z.maxLength(128),
        z.regex(/^[^\s,]+$/, "a sensor name or pattern has no spaces or commas"),
      ),
  )
  .check(z.minLength(1, 'name at least one sensor or pattern ("*" for all)'));

/** Health policy thresholds; a device type may override each (setting thresholdsByDeviceType). */
const thresholdSettings = {
  batteryMinRatio: setting(
    "number",
    z._default(ratio, 0.3),
    "battery charge (0-1) below which the device goes into maintenance (battery_low)",
  ),
  batteryHysteresisRatio: setting(
    "number",
    z._default(ratio, 0.05),
    "the battery must recover this much above batteryMinRatio to leave maintenance",
    { doc: "back in service only from `batteryMinRatio` + this (35 % by default)" },
  ),
  maxTemperatureCelsius: setting(
    "number",
    z._default(z.number().check(z.gte(-50), z.lte(200)), 35),
    "any selected sensor's temperature above this (degC) puts the device into maintenance (too_hot)",
  ),
  temperatureHysteresisCelsius: setting(
    "number",
    z._default(z.number().check(z.gte(0), z.lte(100)), 2),
    "every temperature must fall this far below maxTemperatureCelsius to leave maintenance",
    {
      doc: "back only when every selected sensor is at or below `maxTemperatureCelsius` minus this (33 degC by default)",
    },
  ),
  temperatureSensors: setting(
    "list",
    z._default(temperatureSensorsSchema, [...DEFAULT_TEMPERATURE_SENSORS]),
    `temperature sensors held to maxTemperatureCelsius: names or globs (* and ?, case-insensitive) of the probe's sensors, e.g. battery,cpu* (the battery's is named battery); default ${DEFAULT_TEMPERATURE_SENSORS.join(",")} (the phone's own temperature: CPU sensors of an idle phone run above 35 degC), * for all`,
  ),
};

type WithoutDefault<S> = S extends $ZodDefault<infer Inner> ? Inner : S;
/** The threshold settings' schemas without their defaults: an override names only what it changes. */
function overrideShape<T extends Record<string, { readonly schema: $ZodType }>>(
  specs: T,
): { [K in keyof T]: WithoutDefault<T[K]["schema"]> } {
  const shape: Record<string, $ZodType> = {};
  for (const [key, spec] of Object.entries(specs))
    shape[key] = spec.schema instanceof $ZodDefault ? spec.schema._zod.def.innerType : spec.schema;
  return shape as { [K in keyof T]: WithoutDefault<T[K]["schema"]> };
}

/** Thresholds one device type may override (setting thresholdsByDeviceType): every threshold setting. */
export const thresholdOverridesSchema = z.partial(z.strictObject(overrideShape(thresholdSettings)));

// The health policy's Thresholds and the threshold settings name the same keys.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const sameThresholdKeys: SameKeys<Thresholds, typeof thresholdSettings> = true;
void sameThresholdKeys;

/** Health policy settings. */
export const healthSettings = {
  ...thresholdSettings,
  thresholdsByDeviceType: setting(
    "map",
    z._default(z.record(z.string().check(z.minLength(1)), thresholdOverridesSchema), {}),
    'per device_type overrides of the five health thresholds, JSON or YAML, e.g. {"flame": {"batteryMinRatio": 0.15, "temperatureSensors": ["battery"]}}',
  ),
};
export { powerHttpSchema, powerSettings } from "./power/settings.js";
