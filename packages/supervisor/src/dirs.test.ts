import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@rpi-swarming/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkDirectories } from "./dirs.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "dirs-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("checkDirectories", () => {
  it("accepts a shared dir beside the bot dir and creates both", async () => {
    await checkDirectories(join(root, "b", "s"), join(root, "b", "shared"));
    expect(statSync(join(root, "b", "shared")).isDirectory()).toBe(true);
  });

  it.each([
    ["inside", (bot: string) => join(bot, "shared")],
    ["equal to", (bot: string) => bot],
    ["inside, through a path with ..", (bot: string) => join(bot, "x", "..", "y")],
  ])("refuses a shared dir %s the bot dir, naming both settings and why", async (_what, shared) => {
    const bot = join(root, "s");
    const err = await checkDirectories(bot, shared(bot)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("sharedDir (--shared-dir");
    expect((err as Error).message).toContain("botDir (--bot-dir");
    expect((err as Error).message).toContain("keep-list");
  });

  it("a bot dir whose name merely starts like the shared dir is fine", async () => {
    await checkDirectories(join(root, "s"), join(root, "s-shared"));
  });

  it("refuses a shared dir on another filesystem (the rename would not be atomic)", async (ctx) => {
    const other = join(root, "other");
    mkdirSync(other);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", other], { stdio: "ignore" });
    } catch {
      ctx.skip("needs root to mount a tmpfs");
    }
    try {
      const err = await checkDirectories(join(root, "s"), join(other, "shared")).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/are on different filesystems \(device \d+ and \d+\)/);
      expect((err as Error).message).toContain("atomic");
    } finally {
      execFileSync("umount", [other]);
    }
  });
});
