import { z } from "zod";

/** Flags give `--simulated key=value` as lists; a single value is meant as a scalar. */
function unwrapSingles(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, Array.isArray(v) && v.length === 1 ? v[0] : v]));
}

const num = (min: number, max: number) => z.coerce.number().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);
const word = z.string().regex(/^[0-9A-Za-z_.,-]+$/, "letters, digits, '.', ',', '_' and '-' only");

/** The simulated phone's identity and starting condition (setting `simulated`). */
export const simulatedOptionsSchema = z.preprocess(
  unwrapSingles,
  z
    .object({
      serial: word.default("SIMULATED0001"),
      deviceType: word.default("sargo"),
      buildId: word.default("QQ2A.200305.002"),
      buildIncremental: word.default("6124905"),
      brand: word.default("google"),
      buildType: z.enum(["user", "userdebug", "eng"]).default("userdebug"),
      batteryRatio: num(0, 1).default(0.9),
      charging: bool.default(false),
      /** Charge lost per hour while not charging. */
      drainPerHour: num(0, 100).default(0.1),
      chargePerHour: num(0, 100).default(0.5),
      /** When set, the charger switches on below this ratio and off at chargeUntilRatio (a lab's smart plug). */
      chargeBelowRatio: num(0, 1).optional(),
      chargeUntilRatio: num(0, 1).default(0.95),
      batteryTemperatureCelsius: num(-50, 200).default(28),
      cpuTemperatureCelsius: num(-50, 200).default(32),
      /** Temperatures swing this much around their base over a 10-minute period. */
      temperatureSwingCelsius: num(0, 50).default(0.5),
      rebootSeconds: num(0, 3600).default(45),
      /** Simulated time runs this many times faster than real time (battery, temperatures, uptime). */
      timeScale: num(0.001, 100_000).default(1),
    })
    .strict()
    .prefault({}),
);

export type SimulatedOptions = z.output<typeof simulatedOptionsSchema>;

/** What the control interface can change while the phone runs. */
export const conditionPatchSchema = z
  .object({
    batteryRatio: z.number().min(0).max(1),
    charging: z.boolean(),
    batteryTemperatureCelsius: z.number().min(-50).max(200),
    cpuTemperatureCelsius: z.number().min(-50).max(200),
    unplugged: z.boolean(),
    unauthorized: z.boolean(),
    offline: z.boolean(),
    hung: z.boolean(),
    /** true starts a reboot now (as `adb reboot` would). */
    reboot: z.literal(true),
  })
  .partial()
  .strict();

export type ConditionPatch = z.output<typeof conditionPatchSchema>;
