// Core sets zod's English messages for zod/mini (config/zod-messages.ts).
import "@rpi-swarming/core";
import * as z from "zod/mini";

/** Flags give `--simulated key=value` as lists; a single value is meant as a scalar. */
function unwrapSingles(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, Array.isArray(v) && v.length === 1 ? v[0] : v]));
}

const num = (min: number, max: number) => z.coerce.number().check(z.gte(min), z.lte(max));
const bool = z.union([
  z.boolean(),
  z.pipe(
    z.enum(["true", "false"]),
    z.transform((v) => v === "true"),
  ),
]);
const word = z.string().check(z.regex(/^[0-9A-Za-z_.,-]+$/, "letters, digits, '.', ',', '_' and '-' only"));

/** The simulated phone's identity and starting condition (setting `simulated`). */
export const simulatedOptionsSchema = z.pipe(
  z.transform(unwrapSingles),
  z.prefault(
    z.strictObject({
      serial: z._default(word, "SIMULATED0001"),
      deviceType: z._default(word, "sargo"),
      buildId: z._default(word, "QQ2A.200305.002"),
      buildIncremental: z._default(word, "6124905"),
      brand: z._default(word, "google"),
      buildType: z._default(z.enum(["user", "userdebug", "eng"]), "userdebug"),
      batteryRatio: z._default(num(0, 1), 0.9),
      charging: z._default(bool, false),
      /** Charge lost per hour while not charging. */
      drainPerHour: z._default(num(0, 100), 0.1),
      chargePerHour: z._default(num(0, 100), 0.5),
      /** When set, the charger switches on below this ratio and off at chargeUntilRatio (a lab's smart plug). */
      chargeBelowRatio: z.optional(num(0, 1)),
      chargeUntilRatio: z._default(num(0, 1), 0.95),
      batteryTemperatureCelsius: z._default(num(-50, 200), 28),
      cpuTemperatureCelsius: z._default(num(-50, 200), 32),
      /** Temperatures swing this much around their base over a 10-minute period. */
      temperatureSwingCelsius: z._default(num(0, 50), 0.5),
      rebootSeconds: z._default(num(0, 3600), 45),
      /** Simulated time runs this many times faster than real time (battery, temperatures, uptime). */
      timeScale: z._default(num(0.001, 100_000), 1),
    }),
    {},
  ),
);

export type SimulatedOptions = z.output<typeof simulatedOptionsSchema>;

/** What the control interface can change while the phone runs. */
export const conditionPatchSchema = z.partial(
  z.strictObject({
    batteryRatio: z.number().check(z.gte(0), z.lte(1)),
    charging: z.boolean(),
    batteryTemperatureCelsius: z.number().check(z.gte(-50), z.lte(200)),
    cpuTemperatureCelsius: z.number().check(z.gte(-50), z.lte(200)),
    unplugged: z.boolean(),
    unauthorized: z.boolean(),
    offline: z.boolean(),
    hung: z.boolean(),
    /** true starts a reboot now (as `adb reboot` would). */
    reboot: z.literal(true),
  }),
);

export type ConditionPatch = z.output<typeof conditionPatchSchema>;
