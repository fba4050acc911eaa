/**
 * The lock under a real race: 30 processes (each node with tsx) start at the
 * same instant. Heavy for the unit tier's time budget, so it is in the
 * integration tier.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { waitFor } from "@rpi-swarming/core/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deadProcess, identity } from "./__fixtures__/lock-helpers.js";

const RACER = resolve(import.meta.dirname, "__fixtures__/lock-racer.ts");

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "lock-race-"));
});
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("acquireLock under a race", () => {
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
    await waitFor("all racers ready", () => count("ready-") === processes, 120_000);
    for (const [r, kind] of kinds.entries()) {
      writeFileSync(join(dir, `go-${r}`), "");
      await waitFor(`round ${r} results`, () => count(`result-${r}-`) === processes, 60_000);
      const results = readdirSync(dir)
        .filter((n) => n.startsWith(`result-${r}-`))
        .map((n) => readFileSync(join(dir, n), "utf8"));
      expect({ round: r, kind, held: results.filter((x) => x === "held").length }).toEqual({ round: r, kind, held: 1 });
      expect(results.filter((x) => x !== "held" && x !== "refused")).toEqual([]);
      writeFileSync(join(dir, `end-${r}`), "");
    }
  }, 240_000);
});
