import { spawn } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { botCodeDigest, createLogger, createMetricsRegistry, TokenSource } from "@rpi-swarming/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeZip } from "./__fixtures__/make-zip.js";
import { BotCodeFetcher } from "./bot-code.js";
import { BotCodeStore } from "./bot-code-store.js";
import { SupervisorMetrics } from "./metrics.js";

const log = createLogger({ level: "fatal" });
let root: string;
let botDir: string;
let sharedDir: string;
let store: BotCodeStore;

function newStore(settleMs = 300): BotCodeStore {
  const metrics = new SupervisorMetrics(createMetricsRegistry("bot1"));
  const fetcher = new BotCodeFetcher({
    server: "http://127.0.0.1:1",
    botId: "bot1",
    tokens: new TokenSource({ configPath: join(root, "none.json"), log }),
    log,
    metrics,
    timeoutMs: 1000,
    tempDir: sharedDir,
  });
  return new BotCodeStore({ botDir, codeDir: sharedDir, verify: (p) => fetcher.verify(p), log, settleMs });
}

async function zip(name: string, marker: string, randomBytes = 0): Promise<{ path: string; digest: string }> {
  const path = join(root, name);
  makeZip(path, { marker, randomBytes });
  return { path, digest: await botCodeDigest(path) };
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "store-"));
  botDir = join(root, "s");
  sharedDir = join(root, "shared");
  mkdirSync(botDir);
  mkdirSync(sharedDir);
  store = newStore();
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("BotCodeStore", () => {
  it("a swarming_bot.zip being copied over in place is checked again and accepted once complete", async () => {
    const v2 = await zip("v2.zip", "v2", 400_000);
    const bytes = readFileSync(v2.path);
    // As the bot's last-known-good copy does: truncate, then write in pieces.
    writeFileSync(store.botZip, bytes.subarray(0, 1000));
    const writer = spawn("python3", [
      "-c",
      "import sys, time\ndata = open(sys.argv[1], 'rb').read()\nwith open(sys.argv[2], 'r+b') as f:\n  f.seek(1000)\n  for i in range(1000, len(data), 50000):\n    f.write(data[i:i+50000]); f.flush(); time.sleep(0.1)",
      v2.path,
      store.botZip,
    ]);
    const exited = new Promise((r) => writer.once("exit", r));
    // Check while the copy is under way.
    while (statSync(store.botZip).size <= 1000) await new Promise((r) => setTimeout(r, 10));
    expect(await store.check(store.botZip)).toEqual({ state: "ok", digest: v2.digest });
    await exited;
    expect(readFileSync(store.botZip).equals(bytes)).toBe(true);
  });

  it("a zip that stays broken is 'bad' after a re-check, and is left where it is", async () => {
    const v1 = await zip("v1.zip", "v1", 10_000);
    const broken = readFileSync(v1.path).subarray(0, 5000);
    writeFileSync(store.botZip, broken);
    const t0 = Date.now();
    const c = await store.check(store.botZip);
    expect(c.state).toBe("bad");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(readFileSync(store.botZip).equals(broken)).toBe(true);
  });

  it("restores a broken swarming_bot.zip from the verified copy by an atomic rename, never deleting first", async () => {
    const v1 = await zip("v1.zip", "v1");
    copyFileSync(v1.path, store.botZip);
    expect(await store.prepareStart([])).toBe(v1.digest);
    expect(readFileSync(store.verifiedZip).equals(readFileSync(v1.path))).toBe(true);
    // The bot rewrites it in place and dies half-way.
    writeFileSync(store.botZip, readFileSync(v1.path).subarray(0, 100));
    const brokenIno = statSync(store.botZip).ino;
    expect(await store.prepareStart([])).toBe(v1.digest);
    expect(readFileSync(store.botZip).equals(readFileSync(v1.path))).toBe(true);
    expect(statSync(store.botZip).ino).not.toBe(brokenIno);
  });

  it("the verified copy is a copy, not a link: rewriting swarming_bot.zip in place does not touch it", async () => {
    const v1 = await zip("v1.zip", "v1");
    copyFileSync(v1.path, store.botZip);
    expect(await store.keepVerified(store.botZip, v1.digest)).toBe(true);
    appendFileSync(store.botZip, "garbage");
    writeFileSync(store.botZip, "x");
    expect(await botCodeDigest(store.verifiedZip)).toBe(v1.digest);
  });

  it("prefers the server's version from the bot's own .1/.2 zip over an older swarming_bot.zip", async () => {
    const v1 = await zip("v1.zip", "v1");
    const v2 = await zip("v2.zip", "v2");
    copyFileSync(v1.path, store.botZip);
    copyFileSync(v1.path, join(botDir, "swarming_bot.1.zip"));
    copyFileSync(v2.path, join(botDir, "swarming_bot.2.zip"));
    expect(await store.prepareStart([v2.digest, v1.digest])).toBe(v2.digest);
    expect(await botCodeDigest(store.botZip)).toBe(v2.digest);
    expect(await botCodeDigest(store.verifiedZip)).toBe(v2.digest);
    // A wanted version nowhere on disk: the good swarming_bot.zip stays.
    expect(await store.prepareStart(["f".repeat(64)])).toBe(v2.digest);
  });

  it("no good code anywhere is null (the caller downloads)", async () => {
    writeFileSync(store.botZip, "not a zip");
    expect(await store.prepareStart([])).toBeNull();
    expect(readFileSync(store.botZip, "utf8")).toBe("not a zip");
  });
});
