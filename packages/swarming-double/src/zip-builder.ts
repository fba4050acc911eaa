import { createWriteStream } from "node:fs";
import { readdir, readFile, rename, rm } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { botCodeDigest, InvalidInputError } from "@rpi-swarming/core";
import yazl from "yazl";

/** Sources of the stand-in bot (Python), laid out as they go into the zip. */
export const STAND_IN_SOURCE_DIR = fileURLToPath(new URL("../standin-bot/", import.meta.url));

/** Fixed entry time: the same sources give byte-identical zips. */
const ENTRY_TIME = new Date(Date.UTC(2020, 0, 1));

export interface StandInBuildOptions {
  /** Swarming server URL written to config/config.json (a trailing slash is dropped). */
  readonly server: string;
  /** Path of the hook script that becomes config/bot_config.py. */
  readonly hookScript: string;
  /** Where the zip is written (atomically: a temporary file beside it, then rename). */
  readonly outPath: string;
  /** More entries: zip path to content (e.g. a marker that makes a new version). */
  readonly extraFiles?: Readonly<Record<string, string | Buffer>>;
  /** More keys for config/config.json. */
  readonly extraConfig?: Readonly<Record<string, unknown>>;
}

export interface BuiltBotCode {
  readonly path: string;
  /** botCodeDigest of the zip: the version the bot reports. */
  readonly digest: string;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === "__pycache__" || entry.name.endsWith(".pyc") || entry.name.startsWith(".")) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

/** Builds swarming_bot.zip for the stand-in bot: its sources, config/config.json and config/bot_config.py. */
export async function buildStandInBotZip(options: StandInBuildOptions): Promise<BuiltBotCode> {
  const server = options.server.replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/.test(server))
    throw new InvalidInputError(`server "${options.server}" is not an http(s) URL`);
  let hook: Buffer;
  try {
    hook = await readFile(options.hookScript);
  } catch (err) {
    throw new InvalidInputError(`hook script ${options.hookScript} cannot be read: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const entries = new Map<string, Buffer>();
  for (const file of await sourceFiles(STAND_IN_SOURCE_DIR)) {
    entries.set(relative(STAND_IN_SOURCE_DIR, file).split(sep).join("/"), await readFile(file));
  }
  entries.set("config/config.json", Buffer.from(`${JSON.stringify({ ...options.extraConfig, server }, null, 2)}\n`));
  entries.set("config/bot_config.py", hook);
  for (const [name, content] of Object.entries(options.extraFiles ?? {})) {
    entries.set(name, typeof content === "string" ? Buffer.from(content) : content);
  }

  const zip = new yazl.ZipFile();
  for (const [name, content] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    zip.addBuffer(content, name, { mtime: ENTRY_TIME, mode: 0o100644 });
  }
  zip.end();
  const tmp = `${options.outPath}.tmp-${process.pid}-${Date.now()}`;
  try {
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(tmp);
      out.once("error", reject);
      out.once("close", () => resolve());
      zip.outputStream.once("error", reject);
      zip.outputStream.pipe(out);
    });
    await rename(tmp, options.outPath);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { path: options.outPath, digest: await botCodeDigest(options.outPath) };
}
