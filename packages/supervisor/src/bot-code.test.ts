import { execFileSync } from "node:child_process";
import { getEventListeners } from "node:events";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { botCodeDigest, createLogger, createMetricsRegistry, TokenSource } from "@rpi-swarming/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeZip } from "./__fixtures__/make-zip.js";
import { BotCodeFetcher } from "./bot-code.js";
import { BotCodeError } from "./errors.js";
import { SupervisorMetrics } from "./metrics.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let dir: string;
let server: Server | null;
let base: string;
const log = createLogger({ level: "fatal" });

async function serve(handler: Handler): Promise<void> {
  server = createServer(handler);
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Serves `zip` the way Swarming does: /bot_code redirects to /swarming/api/v1/bot/bot_code/<digest>. */
async function serveBotCode(zip: string, digest: string, body?: (res: ServerResponse, data: Buffer) => void) {
  await serve((req, res) => {
    if (req.url === "/bot_code") {
      res.writeHead(302, { Location: `/swarming/api/v1/bot/bot_code/${digest}` });
      res.end();
    } else if (req.url === `/swarming/api/v1/bot/bot_code/${digest}`) {
      const data = readFileSync(zip);
      if (body) body(res, data);
      else {
        res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": data.length });
        res.end(data);
      }
    } else {
      res.writeHead(404);
      res.end();
    }
  });
}

function fetcher(tokenConfig = join(dir, "no-token-config.json"), timeoutMs = 5000, tempDir = join(dir, "shared")) {
  mkdirSync(tempDir, { recursive: true });
  const metrics = new SupervisorMetrics(createMetricsRegistry("bot1"));
  const tokens = new TokenSource({ configPath: tokenConfig, log });
  return {
    f: new BotCodeFetcher({ server: base, botId: "bot1", tokens, log, metrics, timeoutMs, tempDir }),
    metrics,
  };
}

async function downloads(metrics: SupervisorMetrics): Promise<Record<string, number>> {
  const m = await metrics.downloads.get();
  return Object.fromEntries(m.values.filter((v) => v.value > 0).map((v) => [String(v.labels.result), v.value]));
}

/** Bot dir with a good old copy in place. */
function botDirWithOldCopy(): { botDir: string; target: string; old: Buffer } {
  const botDir = join(dir, "s");
  mkdirSync(botDir, { recursive: true });
  const target = join(botDir, "swarming_bot.zip");
  makeZip(target, { marker: "old" });
  return { botDir, target, old: readFileSync(target) };
}

function expectOldCopyIntact(botDir: string, target: string, old: Buffer) {
  expect(readFileSync(target).equals(old)).toBe(true);
  expect(readdirSync(botDir)).toEqual(["swarming_bot.zip"]);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bot-code-"));
  server = null;
});
afterEach(async () => {
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((r) => server?.close(() => r()));
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("BotCodeFetcher", () => {
  it("reads the digest from the /bot_code redirect and downloads, verifies and renames into place", async () => {
    const zip = join(dir, "new.zip");
    makeZip(zip, { marker: "new", randomBytes: 100_000 });
    const digest = await botCodeDigest(zip);
    await serveBotCode(zip, digest);
    const { botDir, target } = botDirWithOldCopy();
    const { f, metrics } = fetcher();
    const latest = await f.latest();
    expect(latest).toEqual({ url: `${base}/swarming/api/v1/bot/bot_code/${digest}`, digest });
    expect(await f.download(latest.url, target, latest.digest)).toBe(digest);
    expect(readFileSync(target).equals(readFileSync(zip))).toBe(true);
    expect(readdirSync(botDir)).toEqual(["swarming_bot.zip"]);
    expect(await downloads(metrics)).toEqual({ success: 1 });
    expect((await metrics.downloadBytes.get()).values[0]?.value).toBe(statSync(zip).size);
    expect(await f.cachedDigest(target)).toBe(digest);
  });

  it("names the token config on 401/403", async () => {
    await serve((_req, res) => {
      res.writeHead(401);
      res.end("no");
    });
    const { f } = fetcher(join(dir, "absent.json"));
    await expect(f.latest()).rejects.toThrow(/HTTP 401: no token config at .*absent\.json/);
    const cfg = join(dir, "token.json");
    writeFileSync(cfg, JSON.stringify({ url: `${base}/token`, headers: {} }));
    // The token endpoint itself answers 401 here: the download cannot even be asked for.
    const { f: f2 } = fetcher(cfg);
    const err = await f2.latest().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BotCodeError);
    expect((err as BotCodeError).result).toBe("auth_error");
    expect((err as Error).message).toContain(cfg);
  });

  it("a refused token is named too", async () => {
    await serve((req, res) => {
      if (req.url === "/token") res.end(JSON.stringify({ access_token: "t0k", expires_in: 3600 }));
      else {
        res.writeHead(403);
        res.end();
      }
    });
    const cfg = join(dir, "token.json");
    writeFileSync(cfg, JSON.stringify({ url: `${base}/token`, headers: {} }));
    const { f } = fetcher(cfg);
    await expect(f.latest()).rejects.toThrow(`HTTP 403: the token from ${cfg} was refused`);
  });

  it.each([
    [404, "http_error"],
    [500, "http_error"],
    [401, "auth_error"],
  ] as const)("HTTP %i on the download counts as %s and keeps the old copy", async (status, result) => {
    await serve((_req, res) => {
      res.writeHead(status);
      res.end("nope");
    });
    const { botDir, target, old } = botDirWithOldCopy();
    const { f, metrics } = fetcher();
    await expect(f.download(`${base}/swarming/api/v1/bot/bot_code/abc`, target, "abc")).rejects.toThrow(
      `HTTP ${status}`,
    );
    expect(await downloads(metrics)).toEqual({ [result]: 1 });
    expectOldCopyIntact(botDir, target, old);
  });

  it("a body cut off mid-way is 'truncated' and leaves nothing behind", async () => {
    const zip = join(dir, "new.zip");
    makeZip(zip, { randomBytes: 200_000 });
    const digest = await botCodeDigest(zip);
    await serveBotCode(zip, digest, (res, data) => {
      res.writeHead(200, { "Content-Length": data.length });
      res.write(data.subarray(0, 50_000), () => res.socket?.destroy());
    });
    const { botDir, target, old } = botDirWithOldCopy();
    const { f, metrics } = fetcher();
    await expect(f.download(`${base}/swarming/api/v1/bot/bot_code/${digest}`, target, digest)).rejects.toThrow(
      /broke off after \d+ of \d+ bytes/,
    );
    expect(await downloads(metrics)).toEqual({ truncated: 1 });
    expectOldCopyIntact(botDir, target, old);
  });

  it("a body that is not a zip, a zip without __main__.py and a wrong digest are 'corrupt'", async () => {
    const notZip = join(dir, "not.zip");
    writeFileSync(notZip, "<html>login page</html>");
    const noMain = join(dir, "nomain.zip");
    makeZip(noMain, { withMain: false });
    const good = join(dir, "good.zip");
    makeZip(good, { marker: "good" });
    const { botDir, target, old } = botDirWithOldCopy();
    const { f, metrics } = fetcher();
    for (const [zip, expected, announced] of [
      [notZip, /not a complete zip/, null],
      [noMain, /without __main__\.py/, null],
      [
        good,
        /is version [0-9a-f]{64} \(computed from the zip\), not version 0{64} \(announced by the server's \/bot_code redirect\)/,
        "0".repeat(64),
      ],
    ] as const) {
      if (server) await new Promise<void>((r) => server?.close(() => r()));
      await serve((_req, res) => res.end(readFileSync(zip)));
      await expect(f.download(`${base}/x`, target, announced)).rejects.toThrow(expected);
    }
    expect(await downloads(metrics)).toEqual({ corrupt: 3 });
    expectOldCopyIntact(botDir, target, old);
  });

  it("a server that stops sending times out", async () => {
    await serve((_req, res) => {
      res.writeHead(200, { "Content-Length": 1000 });
      res.write("PK");
    });
    const { botDir, target, old } = botDirWithOldCopy();
    const { f, metrics } = fetcher(undefined, 300);
    await expect(f.download(`${base}/x`, target, null)).rejects.toThrow(/timed out/);
    expect(await downloads(metrics)).toEqual({ timeout: 1 });
    expectOldCopyIntact(botDir, target, old);
  });

  it("a server that is down is a network error", async () => {
    await serve((_req, res) => res.end());
    const url = base;
    server?.closeAllConnections();
    await new Promise<void>((r) => server?.close(() => r()));
    server = null;
    base = url;
    const { f } = fetcher();
    const err = await f.latest().catch((e: unknown) => e);
    expect((err as BotCodeError).result).toBe("network_error");
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });

  it("names no credential of the server URL in its errors or its log", async () => {
    await serve((req, res) => {
      res.writeHead(req.url === "/bot_code" ? 302 : 500, {
        Location: "/swarming/api/v1/bot/bot_code/abc?access_token=t0ken",
      });
      res.end();
    });
    base = base.replace("http://", "http://lab:s3cret@");
    const { f } = fetcher();
    const { target } = botDirWithOldCopy();
    const latest = await f.latest();
    const err = (await f.download(latest.url, target, latest.digest).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/HTTP 500/);
    expect(err.message).not.toMatch(/s3cret|t0ken/);
  });

  it("a disk that fills up during the download is 'disk_error' with no partial file and the old copy intact", async (ctx) => {
    // The bot dir and the shared dir on one small volume, as on a pod's emptyDir.
    const volume = join(dir, "b");
    mkdirSync(volume);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", volume], { stdio: "ignore" });
    } catch {
      ctx.skip("needs root to mount a 1 MiB tmpfs");
    }
    try {
      const botDir = join(volume, "s");
      mkdirSync(botDir);
      const target = join(botDir, "swarming_bot.zip");
      makeZip(target, { marker: "old", randomBytes: 100_000 });
      const old = readFileSync(target);
      const zip = join(dir, "big.zip");
      makeZip(zip, { marker: "new", randomBytes: 3_000_000 });
      const digest = await botCodeDigest(zip);
      await serveBotCode(zip, digest);
      const { f, metrics } = fetcher(undefined, undefined, join(volume, "shared"));
      await expect(f.download(`${base}/swarming/api/v1/bot/bot_code/${digest}`, target, digest)).rejects.toThrow(
        /ENOSPC/,
      );
      expect(await downloads(metrics)).toEqual({ disk_error: 1 });
      expectOldCopyIntact(botDir, target, old);
      expect(readdirSync(join(volume, "shared"))).toEqual([]);
    } finally {
      execFileSync("umount", [volume]);
    }
  });

  it("removes partial downloads an earlier run left (in the shared dir, or the bot dir of older versions)", async () => {
    const { botDir, target } = botDirWithOldCopy();
    writeFileSync(join(botDir, "swarming_bot.download-1-abcd.zip"), "partial");
    const { f } = fetcher();
    writeFileSync(join(dir, "shared", "swarming_bot.download-2-abcd.zip"), "partial");
    writeFileSync(join(dir, "shared", "reboot-requests"), "");
    await f.removeStaleTempFiles(target);
    expect(readdirSync(botDir)).toEqual(["swarming_bot.zip"]);
    expect(readdirSync(join(dir, "shared"))).toEqual(["reboot-requests"]);
  });

  it("writes the partial download in tempDir, never in the bot dir", async () => {
    const zip = join(dir, "new.zip");
    makeZip(zip, { randomBytes: 300_000 });
    const digest = await botCodeDigest(zip);
    let seenInShared: string[] = [];
    let seenInBotDir: string[] = [];
    const { botDir, target } = botDirWithOldCopy();
    await serveBotCode(zip, digest, (res, data) => {
      res.writeHead(200, { "Content-Length": data.length });
      res.write(data.subarray(0, 100_000), () =>
        setTimeout(() => {
          // Mid-download: where is the partial file?
          seenInShared = readdirSync(join(dir, "shared"));
          seenInBotDir = readdirSync(botDir);
          res.end(data.subarray(100_000));
        }, 200),
      );
    });
    const { f } = fetcher();
    expect(await f.download(`${base}/swarming/api/v1/bot/bot_code/${digest}`, target, digest)).toBe(digest);
    expect(seenInShared.filter((n) => n.startsWith("swarming_bot.download-"))).toHaveLength(1);
    expect(seenInBotDir).toEqual(["swarming_bot.zip"]);
    expect(readdirSync(join(dir, "shared"))).toEqual([]);
  });

  it("leaves no abort listener on the caller's signal, whatever the outcome", async () => {
    const zip = join(dir, "new.zip");
    makeZip(zip, { marker: "n" });
    const digest = await botCodeDigest(zip);
    await serveBotCode(zip, digest);
    const { target } = botDirWithOldCopy();
    const { f } = fetcher();
    const stop = new AbortController();
    for (let i = 0; i < 20; i++) {
      const latest = await f.latest(stop.signal);
      await f.download(latest.url, target, latest.digest, stop.signal);
      await f.download(latest.url, target, "0".repeat(64), stop.signal).catch(() => undefined);
      await f.download(`${base}/missing`, target, null, stop.signal).catch(() => undefined);
    }
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
  });
});
