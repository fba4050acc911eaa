import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { open, readdir, rename, stat, unlink } from "node:fs/promises";
import type { IncomingHttpHeaders } from "node:http";
import { basename, dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CorruptZipError, inspectBotCode, type Logger, redactUrl, type TokenSource } from "@rpi-swarming/core";
import got, { type Request as GotRequest } from "got";
import { linkSignal } from "./abort-link.js";
import { BotCodeError } from "./errors.js";
import { collectYoungGarbage, withYoungGarbageCollected } from "./memory.js";
import type { SupervisorMetrics } from "./metrics.js";

/** Where /bot_code points: the versioned URL and its digest (null when the server served the zip directly). */
export interface LatestBotCode {
  readonly url: string;
  readonly digest: string | null;
}

export interface BotCodeFetcherOptions {
  /** Swarming server URL without a trailing slash. */
  readonly server: string;
  readonly botId: string;
  readonly tokens: TokenSource;
  readonly log: Logger;
  readonly metrics: SupervisorMetrics;
  /** Abandon a request that connects, answers or sends nothing for this long. */
  readonly timeoutMs: number;
  /**
   * Where downloads are written before the rename into place: outside the bot
   * directory (the bot deletes unknown entries there) but on its filesystem,
   * so the rename stays atomic (see dirs.ts).
   */
  readonly tempDir: string;
}

const VERSIONED_PATH = /\/swarming\/api\/v1\/bot\/bot_code\/([0-9a-zA-Z_.-]+)\/?$/;
const DISK_ERRORS = new Set(["ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EIO", "EFBIG", "EISDIR", "ENOTDIR"]);
/** Prefix of partial downloads (in tempDir; older versions wrote them into the bot dir). */
export const TEMP_PREFIX = "swarming_bot.download-";
/** A scavenge after this many bytes received. */
const GC_EVERY_BYTES = 1024 * 1024;

/**
 * Reads the bot code a Swarming server offers and downloads it into place:
 * streamed to a temp file in tempDir, verified (complete zip with
 * __main__.py, version equal to the server's), then renamed atomically. A
 * failed download never touches the target.
 */
export class BotCodeFetcher {
  private readonly log: Logger;

  constructor(private readonly opts: BotCodeFetcherOptions) {
    this.log = opts.log.child({ component: "bot-code" });
  }

  /** Asks GET /bot_code where the current code is, without downloading it. */
  async latest(signal?: AbortSignal): Promise<LatestBotCode> {
    const url = `${this.opts.server}/bot_code`;
    const headers = await this.headers();
    const link = linkSignal(signal);
    const res = await new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
      const stream = got.stream(url, {
        headers,
        followRedirect: false,
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: this.timeouts(),
        signal: link.signal,
      });
      stream.once("response", (r: { statusCode: number; headers: IncomingHttpHeaders }) => {
        resolve({ status: r.statusCode, headers: r.headers });
        // Only the status line and headers matter: never read a body here.
        stream.destroy();
      });
      stream.once("error", (err: Error) => reject(this.requestError(err, url)));
    }).finally(() => link.release());
    if (res.status === 301 || res.status === 302 || res.status === 303 || res.status === 307 || res.status === 308) {
      const location = res.headers.location;
      if (!location) throw new BotCodeError(`${redactUrl(url)} redirected without a Location header`, "http_error");
      const target = new URL(location, url);
      const digest = VERSIONED_PATH.exec(target.pathname)?.[1] ?? null;
      return { url: target.toString(), digest };
    }
    if (res.status === 200) return { url, digest: null };
    throw this.statusError(res.status, url);
  }

  /**
   * Downloads `url` to `target` and returns the digest of what is now in
   * place. Throws BotCodeError (with its metric label) and leaves the target
   * as it was on any failure.
   */
  async download(url: string, target: string, expectedDigest: string | null, signal?: AbortSignal): Promise<string> {
    const started = process.hrtime.bigint();
    try {
      const digest = await this.downloadOnce(url, target, expectedDigest, signal);
      this.opts.metrics.downloads.inc({ result: "success" });
      this.opts.metrics.downloadDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return digest;
    } catch (err) {
      if (signal?.aborted) throw err;
      const e = err instanceof BotCodeError ? err : new BotCodeError((err as Error).message, "network_error");
      this.opts.metrics.downloads.inc({ result: e.result });
      throw e;
    }
  }

  /** Removes partial downloads a killed supervisor left in tempDir (or, older versions, beside the target). */
  async removeStaleTempFiles(target: string): Promise<void> {
    for (const dir of new Set([this.opts.tempDir, dirname(target)])) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const name of names.filter((n) => n.startsWith(TEMP_PREFIX))) {
        await unlink(join(dir, name)).catch(() => undefined);
        this.log.info({ file: join(dir, name) }, "removed a partial download left by an earlier run");
      }
    }
  }

  private async downloadOnce(
    url: string,
    target: string,
    expectedDigest: string | null,
    signal?: AbortSignal,
  ): Promise<string> {
    const headers = await this.headers();
    const temp = join(this.opts.tempDir, `${TEMP_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}.zip`);
    let received = 0;
    let sinceGc = 0;
    let declared: number | null = null;
    const metrics = this.opts.metrics;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        sinceGc += chunk.length;
        metrics.downloadBytes.inc(chunk.length);
        // Keeps memory flat however big the zip is (see memory.ts).
        if (sinceGc >= GC_EVERY_BYTES) {
          sinceGc = 0;
          collectYoungGarbage();
        }
        cb(null, chunk);
      },
    });
    const link = linkSignal(signal);
    const request: GotRequest = got.stream(url, {
      headers,
      retry: { limit: 0 },
      timeout: this.timeouts(),
      decompress: true,
      signal: link.signal,
    });
    request.once("response", (r: { headers: IncomingHttpHeaders }) => {
      const len = Number(r.headers["content-length"]);
      if (r.headers["content-encoding"] === undefined && Number.isFinite(len) && len >= 0) declared = len;
    });
    this.log.info({ url: redactUrl(url), expectedDigest }, "downloading bot code");
    try {
      try {
        await pipeline(request, counter, createWriteStream(temp, { flags: "wx" }));
      } catch (err) {
        throw this.transferError(err as Error, url, received, declared);
      }
      if (declared !== null && received !== declared) {
        throw new BotCodeError(`${redactUrl(url)} sent ${received} of ${declared} bytes`, "truncated");
      }
      await this.flush(temp);
      const digest = await this.verify(temp, url);
      if (expectedDigest && digest !== expectedDigest) {
        throw new BotCodeError(
          `bot code from ${redactUrl(url)} is version ${digest} (computed from the zip), not version ${expectedDigest} (announced by the server's /bot_code redirect)`,
          "corrupt",
        );
      }
      try {
        await rename(temp, target);
      } catch (err) {
        throw new BotCodeError(`cannot move the download into ${target}: ${(err as Error).message}`, "disk_error", {
          cause: err,
        });
      }
      this.log.info({ bytes: received, digest, target: basename(target) }, "bot code in place");
      return digest;
    } finally {
      link.release();
      request.destroy();
      await unlink(temp).catch(() => undefined);
    }
  }

  /**
   * Checks that a zip is complete, readable and holds __main__.py, and
   * returns its version digest. Throws BotCodeError("corrupt").
   */
  async verify(path: string, from = path): Promise<string> {
    let info: Awaited<ReturnType<typeof inspectBotCode>>;
    try {
      info = await withYoungGarbageCollected(() => inspectBotCode(path));
    } catch (err) {
      if (err instanceof CorruptZipError) {
        throw new BotCodeError(`bot code from ${from} is not a complete zip: ${err.message}`, "corrupt", {
          cause: err,
        });
      }
      const code = (err as NodeJS.ErrnoException).code;
      throw new BotCodeError(
        `cannot read ${path}: ${(err as Error).message}`,
        DISK_ERRORS.has(code ?? "") ? "disk_error" : "corrupt",
        { cause: err },
      );
    }
    if (!info.entryNames.includes("__main__.py")) {
      throw new BotCodeError(`bot code from ${from} is a zip without __main__.py`, "corrupt");
    }
    return info.digest;
  }

  /** The digest of a good zip at path, or null when it is missing or not usable bot code. */
  async cachedDigest(path: string): Promise<string | null> {
    try {
      await stat(path);
    } catch {
      return null;
    }
    try {
      return await this.verify(path);
    } catch (err) {
      this.log.warn({ file: path, message: (err as Error).message }, "cached bot code is unusable");
      return null;
    }
  }

  private async flush(path: string): Promise<void> {
    try {
      const fh = await open(path, "r+");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw new BotCodeError(`cannot flush ${path}: ${(err as Error).message}`, "disk_error", { cause: err });
    }
  }

  private async headers(): Promise<Record<string, string>> {
    const base = { "X-Luci-Swarming-Bot-ID": this.opts.botId, "User-Agent": "rpi-swarming-supervisor" };
    try {
      return { ...base, ...(await this.opts.tokens.headers()) };
    } catch (err) {
      throw new BotCodeError(
        `no access token for the Swarming server (token config ${this.opts.tokens.configPath}): ${(err as Error).message}`,
        "auth_error",
        { cause: err },
      );
    }
  }

  private timeouts() {
    const t = this.opts.timeoutMs;
    return { lookup: t, connect: t, secureConnect: t, socket: t, send: t, response: t };
  }

  private statusError(status: number, url: string): BotCodeError {
    if (status === 401 || status === 403) {
      const auth = this.opts.tokens.enabled
        ? `the token from ${this.opts.tokens.configPath} was refused`
        : `no token config at ${this.opts.tokens.configPath}, so the request carried no credentials`;
      return new BotCodeError(`${redactUrl(url)} answered HTTP ${status}: ${auth}`, "auth_error");
    }
    return new BotCodeError(`${redactUrl(url)} answered HTTP ${status}`, "http_error");
  }

  private requestError(err: Error, url: string): BotCodeError {
    const code = (err as { code?: string }).code ?? "";
    if (err.name === "TimeoutError" || code === "ETIMEDOUT") {
      return new BotCodeError(`${redactUrl(url)} timed out: ${err.message}`, "timeout", { cause: err });
    }
    const status = (err as { response?: { statusCode?: number } }).response?.statusCode;
    if (err.name === "HTTPError" && status) return this.statusError(status, url);
    return new BotCodeError(`${redactUrl(url)} cannot be fetched: ${err.message}`, "network_error", { cause: err });
  }

  private transferError(err: Error, url: string, received: number, declared: number | null): BotCodeError {
    const code = (err as { code?: string }).code ?? "";
    if (DISK_ERRORS.has(code) && !(err.name === "RequestError" || err.name === "ReadError")) {
      return new BotCodeError(`cannot write the download beside the bot code: ${err.message}`, "disk_error", {
        cause: err,
      });
    }
    if (err.name === "ReadError" || code === "ERR_STREAM_PREMATURE_CLOSE" || code === "ECONNRESET") {
      if (declared === null || received < declared) {
        const of = declared === null ? "" : ` of ${declared}`;
        return new BotCodeError(
          `${redactUrl(url)} broke off after ${received}${of} bytes: ${err.message}`,
          "truncated",
          {
            cause: err,
          },
        );
      }
    }
    return this.requestError(err, url);
  }
}
