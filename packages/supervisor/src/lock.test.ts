import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LockedError } from "@rpi-swarming/core";
import { waitFor } from "@rpi-swarming/core/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { identity } from "./__fixtures__/lock-helpers.js";
import { acquireLock, lockDirFor } from "./lock.js";

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

function genFiles(lockDir: string): string[] {
  return readdirSync(lockDir).filter((n) => /^\d+$/.test(n));
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
    await waitFor("the holder", () => out.includes("held"), 30_000);
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
    await waitFor("onLost", () => lost.length > 0, 5000);
    expect(lost[0]).toContain("taken over or removed");
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
  });
});
