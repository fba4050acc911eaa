import { setting } from "@rpi-swarming/core";
import { deviceSettings, healthSettings, powerSettings, staticAttributeSettings } from "@rpi-swarming/devices/settings";
import * as z from "zod/mini";

const port = z.int().check(z.gte(0), z.lte(65_535));
const host = z.string().check(z.minLength(1), z.maxLength(255));

const sizeBytes = z.int().check(z.gte(0));
const percent = z.number().check(z.gte(0), z.lte(100));
/**
 * The part of the bot's settings dict a lab tunes (free_partition, caches). Validated here
 * because a wrong type in what get_settings returns quarantines the bot.
 */
/** An object whose keys are all optional and that refuses unknown keys. */
const only = <S extends Record<string, z.ZodMiniType>>(shape: S) => z.partial(z.strictObject(shape));
export const botSettingsSchema = z._default(
  only({
    free_partition: only({
      root: only({ size: sizeBytes, max_percent: percent, min_percent: percent }),
      bot: only({ size: sizeBytes, max_percent: percent, min_percent: percent, wiggle: sizeBytes }),
    }),
    caches: only({ isolated: only({ size: sizeBytes, items: z.int().check(z.gte(0)) }) }),
  }),
  {},
);

/** Settings of `rpi-swarming state-server`. */
export const stateServerSettings = {
  ...deviceSettings,
  ...healthSettings,
  ...powerSettings,
  ...staticAttributeSettings,
  hookHost: setting("string", z._default(host, "127.0.0.1"), "address of the hook API (keep it on loopback)"),
  hookPort: setting("number", z._default(port, 11000), "port of the hook API (0 = a free port)"),
  metricsHost: setting("string", z._default(host, "0.0.0.0"), "address of /metrics, /healthz and /readyz"),
  metricsPort: setting("number", z._default(port, 20001), "port of /metrics, /healthz and /readyz (0 = a free port)"),
  maintenanceDir: setting(
    "string",
    z._default(z.string().check(z.minLength(1)), "/etc/rpi-swarming/maintenance"),
    "directory an operator writes maintenance messages into (file <bot id> or all); re-read without restart",
  ),
  sharedDir: setting(
    "string",
    z.optional(z.string().check(z.minLength(1))),
    "directory shared with the supervisor (the pod's emptyDir; the chart sets /b/shared) that keeps the running-task marker and the power-cycle history, so a restarted state server still knows a task runs and still holds to powerCyclesPerHour and powerCycleCooldownSeconds; unset: in memory only",
  ),
  tokenConfig: setting(
    "string",
    z._default(z.string().check(z.minLength(1)), "/etc/swarming_config/oauth2_access_token_config.json"),
    "token config JSON ({url, headers}) for get_authentication_headers; a missing file turns bot auth off",
  ),
  botSettings: setting(
    "map",
    botSettingsSchema,
    'settings dict returned by get_settings, JSON or YAML, e.g. {"free_partition": {"bot": {"size": 1073741824}}}',
  ),
};
