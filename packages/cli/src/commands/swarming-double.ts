import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { ConfigError, setting } from "@rpi-swarming/core";
import type { BotCodeSource } from "@rpi-swarming/swarming-double";
import { z } from "zod";
import { defineCommand } from "../command.js";

const optionalPath = z.string().min(1).optional();

export const swarmingDoubleSettings = {
  doubleHost: setting("string", z.string().min(1).default("127.0.0.1"), "address the Swarming double listens on"),
  doublePort: setting(
    "number",
    z.number().int().min(0).max(65_535).default(0),
    "port of the Swarming double (0: a free port, printed at start and written to --url-file)",
  ),
  doubleToken: setting(
    "string",
    z.string().min(1).optional(),
    "bearer token the double requires on the bot API and /bot_code (default: no auth)",
    { secret: true },
  ),
  botCodeZip: setting("string", optionalPath, "bot code zip to publish at start"),
  hookScript: setting(
    "string",
    optionalPath,
    "publish the stand-in bot built around this hook script (config/bot_config.py), unless --bot-code-zip is given",
  ),
  injectHookScript: setting(
    "string",
    optionalPath,
    "hook script the handshake hands to bots as the bot group's bot_config script",
  ),
  defaultSleepSeconds: setting("number", z.number().positive().default(1), "sleep command duration between polls"),
  serverDimensions: setting(
    "map",
    z.record(z.string(), z.array(z.string())).default({ pool: ["rpi-swarming-double"] }),
    "bots.cfg dimensions sent in the handshake (override the bot's own), key=value",
    { flag: "server-dimension" },
  ),
  autoUpdate: setting(
    "boolean",
    z.boolean().default(true),
    "tell bots on another version than the published one to update (like Swarming)",
  ),
  urlFile: setting("string", optionalPath, "write the double's URL to this file once it listens"),
  workDir: setting("string", optionalPath, "directory for built and uploaded zips (default: a temporary one)"),
};

function readScript(path: string): { name: string; content: string } {
  try {
    return { name: basename(path), content: readFileSync(path, "utf8") };
  } catch (err) {
    throw new ConfigError(`injectHookScript (--inject-hook-script): ${path} cannot be read: ${(err as Error).message}`);
  }
}

export const swarmingDoubleCommand = defineCommand({
  name: "swarming-double",
  summary: "run the local Swarming server double (development and tests; serves the stand-in bot)",
  settings: swarmingDoubleSettings,
  async run(config, { log, stopSignal }) {
    let botCode: BotCodeSource | undefined;
    if (config.botCodeZip) botCode = { zipPath: config.botCodeZip };
    else if (config.hookScript) botCode = { standIn: { hookScript: config.hookScript } };
    if (config.workDir) mkdirSync(config.workDir, { recursive: true });
    // Loaded on use: the pod's own commands share this CLI and should not carry the double.
    const { startSwarmingDouble } = await import("@rpi-swarming/swarming-double");
    const double = await startSwarmingDouble({
      host: config.doubleHost,
      port: config.doublePort,
      defaultSleepSeconds: config.defaultSleepSeconds,
      serverDimensions: config.serverDimensions,
      autoUpdate: config.autoUpdate,
      log,
      ...(config.doubleToken ? { token: config.doubleToken } : {}),
      ...(botCode ? { botCode } : {}),
      ...(config.injectHookScript ? { botConfigScript: readScript(config.injectHookScript) } : {}),
      ...(config.workDir ? { workDir: config.workDir } : {}),
    });
    if (config.urlFile) writeFileSync(config.urlFile, `${double.url}\n`);
    log.info(
      { url: double.url, version: double.currentVersion(), bots: `${double.url}/bots` },
      "swarming double serving",
    );
    const signal = await stopSignal;
    log.info({ signal }, "stopping the swarming double");
    await double.close();
    return 0;
  },
});
