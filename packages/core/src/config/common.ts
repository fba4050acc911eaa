import { hostname } from "node:os";
import * as z from "zod/mini";
import { setting } from "./settings.js";
import "./zod-messages.js";

/** The bot id the Swarming bot would pick itself: the short lower-case host name. */
export function defaultBotId(): string {
  return (hostname().split(".")[0] ?? "localhost").toLowerCase();
}

/** Settings every subcommand takes. */
export const commonSettings = {
  logLevel: setting(
    "string",
    z._default(z.enum(["trace", "debug", "info", "warn", "error", "fatal"]), "info"),
    "log level of the process's bunyan logger",
  ),
  botId: setting(
    "string",
    z._default(
      z
        .string()
        .check(
          z.regex(/^[a-zA-Z0-9_.-]+$/, "bot id may hold only letters, digits, '.', '_' and '-'"),
          z.maxLength(256),
        ),
      defaultBotId(),
    ),
    "Swarming bot id; must equal what the bot uses (default: short host name)",
    { env: "SWARMING_BOT_ID", docDefault: "short lower-case host name" },
  ),
};
