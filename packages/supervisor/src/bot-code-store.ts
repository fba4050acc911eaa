import { randomBytes } from "node:crypto";
import { copyFile, open, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@rpi-swarming/core";
import { TEMP_PREFIX } from "./bot-code.js";
import { BotCodeError } from "./errors.js";

export const BOT_ZIP = "swarming_bot.zip";
/** The bot's own copies: it re-executes itself as .1 and downloads its updates into .1 or .2. */
export const BOT_OWN_ZIPS = ["swarming_bot.1.zip", "swarming_bot.2.zip"] as const;
/** The last verified bot code, in the bot code dir, where the bot's clean-up cannot reach it. */
export const VERIFIED_ZIP = "swarming_bot.verified.zip";

export type ZipCheck =
  | { readonly state: "ok"; readonly digest: string }
  | { readonly state: "missing" }
  | { readonly state: "bad"; readonly message: string };

export interface BotCodeStoreOptions {
  readonly botDir: string;
  /** Outside the bot dir, on its filesystem and mount (dirs.ts): the verified copy and temp copies. */
  readonly codeDir: string;
  /** Checks a zip and returns its version (BotCodeFetcher.verify); throws BotCodeError. */
  readonly verify: (path: string) => Promise<string>;
  readonly log: Logger;
  /** A zip that fails its check is checked again once it has not changed for this long. */
  readonly settleMs?: number;
  /** At most this many re-checks while the file keeps changing. */
  readonly maxRechecks?: number;
}

/**
 * The bot code on disk: `swarming_bot.zip` in the bot dir (what the
 * supervisor starts; the bot itself copies its new code over it, in place
 * and non-atomically, after a self-update), the bot's own `.1`/`.2` copies,
 * and the last verified copy in the bot code dir. A zip that fails its check
 * may be half-written by the bot: it is checked again once it stops
 * changing, and is never deleted; a good copy is put in its place by an
 * atomic rename from the bot code dir instead.
 */
export class BotCodeStore {
  readonly botZip: string;
  readonly verifiedZip: string;
  private readonly log: Logger;
  /** Versions by path, valid while the file's identity, size and times are unchanged. */
  private readonly cache = new Map<string, { key: string; digest: string }>();

  constructor(private readonly opts: BotCodeStoreOptions) {
    this.botZip = join(opts.botDir, BOT_ZIP);
    this.verifiedZip = join(opts.codeDir, VERIFIED_ZIP);
    this.log = opts.log.child({ component: "bot-code-store" });
  }

  /** The version of the zip at path; a failing zip is re-checked until it stops changing. */
  async check(path: string): Promise<ZipCheck> {
    const settleMs = this.opts.settleMs ?? 1000;
    let key = await statKey(path);
    if (key === null) return { state: "missing" };
    const cached = this.cache.get(path);
    if (cached?.key === key) return { state: "ok", digest: cached.digest };
    let message = "";
    for (let attempt = 0; attempt <= (this.opts.maxRechecks ?? 30); attempt++) {
      try {
        const digest = await this.opts.verify(path);
        // Cached under the identity seen before the read: a change during the read invalidates it.
        if ((await statKey(path)) === key) this.cache.set(path, { key, digest });
        return { state: "ok", digest };
      } catch (err) {
        message = (err as Error).message;
        if (!(err instanceof BotCodeError) || err.result !== "corrupt") return { state: "bad", message };
      }
      // Perhaps the bot is copying over it right now: look again once it has stood still.
      if (attempt === 0) this.log.info({ file: path, message }, "bot code fails its check; checking it again");
      await new Promise((r) => setTimeout(r, settleMs));
      const now = await statKey(path);
      if (now === null) return { state: "missing" };
      // Unchanged since the failed read: the failure is real, not a copy in progress.
      if (now === key) break;
      key = now;
    }
    return { state: "bad", message };
  }

  /**
   * Copies a zip to the bot code dir as the last verified copy, if it is of
   * version `digest` (checked on the copy, so a source changing meanwhile is
   * caught). A copy, not a link: the bot rewrites swarming_bot.zip in place.
   */
  async keepVerified(src: string, digest: string): Promise<boolean> {
    const have = await this.check(this.verifiedZip);
    if (have.state === "ok" && have.digest === digest) return true;
    const ok = await this.copyInto(src, digest, this.verifiedZip);
    if (ok) this.log.info({ version: digest }, "kept a verified copy of the bot code");
    return ok;
  }

  /** Puts a copy of `src` (of version `digest`) in place as swarming_bot.zip, atomically. */
  async install(src: string, digest: string): Promise<boolean> {
    const ok = await this.copyInto(src, digest, this.botZip);
    if (ok) this.log.info({ from: src, version: digest }, "bot code put in place from a verified copy");
    return ok;
  }

  /**
   * Makes swarming_bot.zip the newest good code before the bot starts:
   * a zip of the first version in `prefer` that exists locally (the
   * server's current version, then the one the bot last ran), else
   * swarming_bot.zip if good, else the verified copy. Returns the version
   * in place, or null when there is no good code at all.
   */
  async prepareStart(prefer: readonly (string | null)[]): Promise<string | null> {
    const disk = await this.check(this.botZip);
    const wanted = prefer.filter((v): v is string => v !== null);
    for (const want of wanted) {
      if (disk.state === "ok" && disk.digest === want) {
        await this.keepVerified(this.botZip, want);
        return want;
      }
      const src = await this.findLocal(want);
      if (src && (await this.install(src, want))) {
        await this.keepVerified(this.botZip, want);
        return want;
      }
    }
    if (disk.state === "ok") {
      await this.keepVerified(this.botZip, disk.digest);
      return disk.digest;
    }
    const verified = await this.check(this.verifiedZip);
    if (verified.state === "ok") {
      this.log.warn(
        { file: this.botZip, problem: disk.state === "bad" ? disk.message : "missing" },
        "swarming_bot.zip is not usable: restoring the last verified copy",
      );
      if (await this.install(this.verifiedZip, verified.digest)) return verified.digest;
    }
    return null;
  }

  /** A local zip of version `digest` (verified copy or the bot's own), or null. */
  async findLocal(digest: string): Promise<string | null> {
    for (const path of [this.verifiedZip, ...BOT_OWN_ZIPS.map((n) => join(this.opts.botDir, n))]) {
      const c = await this.check(path);
      if (c.state === "ok" && c.digest === digest) return path;
    }
    return null;
  }

  /** Copies src to a temp file in the bot code dir, checks its version, renames it to target. */
  private async copyInto(src: string, digest: string, target: string): Promise<boolean> {
    const temp = join(this.opts.codeDir, `${TEMP_PREFIX}copy-${process.pid}-${randomBytes(4).toString("hex")}.zip`);
    try {
      await copyFile(src, temp);
      const fh = await open(temp, "r+");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      const got = await this.opts.verify(temp);
      if (got !== digest) {
        this.log.warn({ from: src, want: digest, got }, "bot code changed while being copied; not used");
        return false;
      }
      await rename(temp, target);
      return true;
    } catch (err) {
      this.log.warn({ from: src, to: target, message: (err as Error).message }, "cannot copy the bot code");
      return false;
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }
}

async function statKey(path: string): Promise<string | null> {
  try {
    const s = await stat(path);
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  } catch {
    return null;
  }
}
