import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LockedError } from "@rpi-swarming/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock } from "./lock.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "lock-test-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("acquireLock", () => {
  it("writes our pid and removes the file on release", () => {
    const path = join(dir, "supervisor.lock");
    const lock = acquireLock(path, "bot directory /b/s");
    expect(readFileSync(path, "utf8").trim()).toBe(String(process.pid));
    expect(lock.tookOverFrom).toBeNull();
    lock.release();
    expect(() => readFileSync(path)).toThrow();
  });

  it("refuses while a live process holds it, naming the pid and the lock", async () => {
    const path = join(dir, "supervisor.lock");
    const other = spawn("sleep", ["30"]);
    try {
      writeFileSync(path, `${other.pid}\n`);
      expect(() => acquireLock(path, "bot directory /b/s")).toThrow(LockedError);
      expect(() => acquireLock(path, "bot directory /b/s")).toThrow(`pid ${other.pid}`);
      expect(readFileSync(path, "utf8").trim()).toBe(String(other.pid));
    } finally {
      other.kill("SIGKILL");
      await new Promise((r) => other.once("exit", r));
    }
    // Now the holder is dead: the lock is stale and is taken over.
    const lock = acquireLock(path, "bot directory /b/s");
    expect(lock.tookOverFrom).toBe(other.pid);
    expect(readFileSync(path, "utf8").trim()).toBe(String(process.pid));
    lock.release();
  });

  it("takes over a lock file with garbage in it", () => {
    const path = join(dir, "supervisor.lock");
    writeFileSync(path, "not a pid");
    const lock = acquireLock(path, "x");
    expect(lock.tookOverFrom).toBe(-1);
    lock.release();
  });
});
