import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LockedError } from "@rpi-swarming/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readProcStat } from "./bot-pid-file.js";
import { acquireLock, lockDirFor } from "./lock.js";

const RACER = resolve(import.meta.dirname, "__fixtures__/lock-racer.ts");

let dir: string;
let botDir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "lock-test-"));
  botDir = join(dir, "b", "s");
  mkdirSync(botDir, { recursive: true });
});
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** A pid that was ours a moment ago and is dead now, with the start time it had. */
async function deadProcess(): Promise<{ pid: number; startTime: string }> {
  const c = spawn("sleep", ["30"]);
  const pid = c.pid as number;
  const startTime = readProcStat(pid)?.startTime as string;
  c.kill("SIGKILL");
  await new Promise((r) => c.once("exit", r));
  return { pid, startTime };
}

function identity() {
  return {
    pidNs: readlinkSync("/proc/self/ns/pid"),
    bootId: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
  };
}

function genFiles(lockDir: string): string[] {
  return readdirSync(lockDir).filter((n) => /^\d+$/.test(n));
}

async function waitFor(check: () => boolean, timeoutMs = 60_000, what = "a condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("acquireLock", () => {
  it("lives beside the bot dir (not in it, not in a shared dir), keyed on its real path", async () => {
    const lock = await acquireLock(botDir, "bot directory /b/s");
    expect(lock.path).toBe(`${join(dir, "b", "s")}.lock`);
    expect(readdirSync(botDir)).toEqual([]);
    expect(lock.tookOverFrom).toBeNull();
    const [gen] = genFiles(lock.path);
    expect(JSON.parse(readFileSync(join(lock.path, gen as string), "utf8"))).toMatchObject({ pid: process.pid });
    // Another spelling of the same directory is the same lock.
    symlinkSync(botDir, join(dir, "alias"));
    expect(lockDirFor(join(dir, "alias"))).toBe(lock.path);
    await expect(acquireLock(join(dir, "alias"), "bot directory /b/s")).rejects.toThrow(`pid ${process.pid}`);
    lock.release();
    // Released: the next one takes it at once, and it is no takeover.
    const again = await acquireLock(join(dir, "alias"), "x");
    expect(again.tookOverFrom).toBeNull();
    again.release();
  });

  it("refuses while a live process holds it, naming the pid; takes it over once that process is dead", async () => {
    const holder = spawn(process.execPath, [
      "--conditions=source",
      "--import",
      "tsx",
      "-e",
      `const { acquireLock } = await import(${JSON.stringify(resolve(import.meta.dirname, "lock.ts"))});
       await acquireLock(${JSON.stringify(botDir)}, "x"); console.log("held"); setInterval(() => {}, 1000);`,
    ]);
    children.push(holder);
    let out = "";
    holder.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
    });
    await waitFor(() => out.includes("held"), 30_000, "the holder");
    await expect(acquireLock(botDir, "bot directory /b/s")).rejects.toThrow(LockedError);
    await expect(acquireLock(botDir, "bot directory /b/s")).rejects.toThrow(
      `another supervisor (pid ${holder.pid}) already runs bot directory /b/s`,
    );
    holder.kill("SIGKILL");
    await new Promise((r) => holder.once("exit", r));
    const lock = await acquireLock(botDir, "x");
    expect(lock.tookOverFrom).toBe(holder.pid);
    // Only our generation is left.
    expect(genFiles(lock.path)).toHaveLength(1);
    lock.release();
  });

  it("a lock path that is no directory is a clear error", async () => {
    writeFileSync(`${botDir}.lock`, "something else");
    await expect(acquireLock(botDir, "bot directory /b/s")).rejects.toThrow(
      `cannot use ${botDir}.lock as the supervisor lock of bot directory /b/s`,
    );
  });

  it("takes over an unreadable lock record", async () => {
    const lockDir = `${botDir}.lock`;
    mkdirSync(lockDir);
    writeFileSync(join(lockDir, "4"), "not a record");
    const lock = await acquireLock(botDir, "x");
    expect(lock.tookOverFrom).toBe(-1);
    expect(genFiles(lockDir)).toEqual(["5"]);
    lock.release();
  });

  it("a holder in another pid namespace counts as alive while its heartbeat is fresh, stale after", async () => {
    const lockDir = `${botDir}.lock`;
    mkdirSync(lockDir);
    const rec = { pid: 1, startTime: "1", pidNs: "pid:[1]", bootId: identity().bootId, token: "t" };
    writeFileSync(join(lockDir, "7"), JSON.stringify(rec));
    const heartbeat = setInterval(() => {
      const now = new Date();
      utimesSync(join(lockDir, "7"), now, now);
    }, 100);
    try {
      const t0 = Date.now();
      const waits: string[] = [];
      await expect(acquireLock(botDir, "x", { staleMs: 600, onWait: (m) => waits.push(m) })).rejects.toThrow(
        "pid 1 in another pid namespace",
      );
      expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
      expect(waits).toHaveLength(1);
      expect(waits[0]).toContain("held by pid 1 of another pid namespace");
    } finally {
      clearInterval(heartbeat);
    }
    // The heartbeat stopped: after staleMs the lock is taken over.
    const lock = await acquireLock(botDir, "x", { staleMs: 600 });
    expect(lock.tookOverFrom).toBe(1);
    lock.release();
  });

  it("a holder whose lock is taken from it is told so", async () => {
    const lost: string[] = [];
    const lock = await acquireLock(botDir, "x", { staleMs: 300, onLost: (m) => lost.push(m) });
    rmSync(lock.path, { recursive: true });
    await waitFor(() => lost.length > 0, 5000, "onLost");
    expect(lost[0]).toContain("taken over or removed");
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
  });

  it("many processes starting at the same instant never both hold it (fresh, stale, released, garbage locks)", async () => {
    const processes = 30;
    const dead = await deadProcess();
    const { pidNs, bootId } = identity();
    const kinds = ["fresh", "stale", "released", "garbage", "fresh", "stale", "fresh", "stale"] as const;
    for (const [r, kind] of kinds.entries()) {
      const b = join(dir, `bot-${r}`);
      mkdirSync(b);
      if (kind === "fresh") continue;
      mkdirSync(`${b}.lock`);
      const record =
        kind === "garbage"
          ? ""
          : JSON.stringify({ ...dead, pidNs, bootId, token: "old", released: kind === "released" });
      writeFileSync(join(`${b}.lock`, "3"), record);
    }
    for (let i = 0; i < processes; i++) {
      const c = spawn(process.execPath, ["--conditions=source", "--import", "tsx", RACER, dir, String(kinds.length)], {
        stdio: ["ignore", "ignore", "inherit"],
      });
      children.push(c);
    }
    const count = (prefix: string) => readdirSync(dir).filter((n) => n.startsWith(prefix)).length;
    await waitFor(() => count("ready-") === processes, 120_000, "all racers ready");
    for (const [r, kind] of kinds.entries()) {
      writeFileSync(join(dir, `go-${r}`), "");
      await waitFor(() => count(`result-${r}-`) === processes, 60_000, `round ${r} results`);
      const results = readdirSync(dir)
        .filter((n) => n.startsWith(`result-${r}-`))
        .map((n) => readFileSync(join(dir, n), "utf8"));
      expect({ round: r, kind, held: results.filter((x) => x === "held").length }).toEqual({ round: r, kind, held: 1 });
      expect(results.filter((x) => x !== "held" && x !== "refused")).toEqual([]);
      writeFileSync(join(dir, `end-${r}`), "");
    }
  }, 240_000);
});
