import { setting } from "@rpi-swarming/core";
import { deviceSettings, healthSettings, powerSettings, staticAttributeSettings } from "@rpi-swarming/devices/settings";
import { z } from "zod";

const port = z.number().int().min(0).max(65_535);
const host = z.string().min(1).max(255);

const sizeBytes = z.number().int().min(0);
const percent = z.number().min(0).max(100);
/**
 * The part of the bot's settings dict a lab tunes (free_partition, caches). Validated here
 * because a wrong type in what get_settings returns quarantines the bot.
 */
export const botSettingsSchema = z
  .object({
    free_partition: z
      .object({
        root: z.object({ size: sizeBytes, max_percent: percent, min_percent: percent }).partial().strict(),
        bot: z
          .object({ size: sizeBytes, max_percent: percent, min_percent: percent, wiggle: sizeBytes })
          .partial()
          .strict(),
      })
      .partial()
      .strict(),
    caches: z
      .object({
        isolated: z
          .object({ size: sizeBytes, items: z.number().int().min(0) })
          .partial()
          .strict(),
      })
      .partial()
      .strict(),
  })
  .partial()
  .strict()
  .default({});

/** Settings of `rpi-swarming state-server`. */
export const stateServerSettings = {
  ...deviceSettings,
  ...healthSettings,
  ...powerSettings,
  ...staticAttributeSettings,
  hookHost: setting("string", host.default("127.0.0.1"), "address of the hook API (keep it on loopback)"),
  hookPort: setting("number", port.default(11000), "port of the hook API (0 = a free port)"),
  metricsHost: setting("string", host.default("0.0.0.0"), "address of /metrics, /healthz and /readyz"),
  metricsPort: setting("number", port.default(20001), "port of /metrics, /healthz and /readyz (0 = a free port)"),
  maintenanceDir: setting(
    "string",
    z.string().min(1).default("/etc/rpi-swarming/maintenance"),
    "directory an operator writes maintenance messages into (file <bot id> or all); re-read without restart",
  ),
  sharedDir: setting(
    "string",
    z.string().min(1).optional(),
    "directory shared with the supervisor (the pod's emptyDir; the chart sets /b/shared) that keeps the running-task marker, so a restarted state server still knows a task runs; unset: in memory only",
  ),
  tokenConfig: setting(
    "string",
    z.string().min(1).default("/etc/swarming_config/oauth2_access_token_config.json"),
    "token config JSON ({url, headers}) for get_authentication_headers; a missing file turns bot auth off",
  ),
  botSettings: setting(
    "map",
    botSettingsSchema,
    'settings dict returned by get_settings, JSON or YAML, e.g. {"free_partition": {"bot": {"size": 1073741824}}}',
  ),
};
