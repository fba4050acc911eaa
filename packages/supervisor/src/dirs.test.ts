import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@rpi-swarming/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { botCodeDirOf, checkDirectories } from "./dirs.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "dirs-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e as Error,
  );

function mountOrSkip(ctx: { skip: (why: string) => void }, args: string[]): void {
  try {
    execFileSync("mount", args, { stdio: "ignore" });
  } catch {
    ctx.skip(`needs root to mount (${args.join(" ")})`);
  }
}

describe("checkDirectories", () => {
  it("accepts the pod's layout, creates the directories and leaves no probe file behind", async () => {
    const bot = join(root, "b", "s");
    await checkDirectories(bot, join(root, "b", "shared"), botCodeDirOf({ botDir: bot }));
    expect(statSync(join(root, "b", "bot-code")).isDirectory()).toBe(true);
    expect(readdirSync(bot)).toEqual([]);
    expect(readdirSync(join(root, "b", "bot-code"))).toEqual([]);
  });

  it.each([
    ["inside", (bot: string) => join(bot, "x")],
    ["equal to", (bot: string) => bot],
    ["inside, through a path with ..", (bot: string) => join(bot, "x", "..", "y")],
  ])("refuses a shared dir or bot code dir %s the bot dir, naming the settings and why", async (_what, dir) => {
    const bot = join(root, "s");
    const shared = await refusal(checkDirectories(bot, dir(bot), join(root, "bot-code")));
    expect(shared).toBeInstanceOf(ConfigError);
    expect(shared?.message).toContain("sharedDir (--shared-dir, RPI_SWARMING_SHARED_DIR)");
    expect(shared?.message).toContain("botDir (--bot-dir, RPI_SWARMING_BOT_DIR)");
    expect(shared?.message).toContain("keep-list");
    const code = await refusal(checkDirectories(bot, join(root, "shared"), dir(bot)));
    expect(code).toBeInstanceOf(ConfigError);
    expect(code?.message).toContain("botCodeDir (--bot-code-dir, RPI_SWARMING_BOT_CODE_DIR)");
    expect(code?.message).toContain("partial downloads");
  });

  it("a directory whose name merely starts like the bot dir is fine", async () => {
    await checkDirectories(join(root, "s"), join(root, "s-shared"), join(root, "s-code"));
  });

  it("refuses a bot code dir on another filesystem", async (ctx) => {
    const other = join(root, "other");
    mkdirSync(other);
    mountOrSkip(ctx, ["-t", "tmpfs", "-o", "size=1m", "tmpfs", other]);
    try {
      const err = await refusal(checkDirectories(join(root, "s"), join(root, "shared"), join(other, "code")));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err?.message).toMatch(/are on different filesystems \(device \d+ and \d+\)/);
      expect(err?.message).toContain("atomic only within one filesystem and mount");
    } finally {
      execFileSync("umount", [other]);
    }
  });

  it("refuses a bot code dir on another mount of the same filesystem (st_dev equal, rename EXDEV), as two emptyDirs are", async (ctx) => {
    const real = join(root, "elsewhere");
    const other = join(root, "other");
    mkdirSync(real);
    mkdirSync(other);
    mountOrSkip(ctx, ["--bind", real, other]);
    try {
      expect(statSync(other).dev).toBe(statSync(root).dev);
      const err = await refusal(checkDirectories(join(root, "s"), join(root, "shared"), other));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err?.message).toContain("are on different mounts (EXDEV on a trial rename)");
      expect(readdirSync(other)).toEqual([]);
    } finally {
      execFileSync("umount", [other]);
    }
  });

  it("a shared dir on its own mount is fine (it holds no downloads)", async (ctx) => {
    const real = join(root, "elsewhere");
    const shared = join(root, "b", "shared");
    mkdirSync(real);
    mkdirSync(shared, { recursive: true });
    mountOrSkip(ctx, ["--bind", real, shared]);
    try {
      await checkDirectories(join(root, "b", "s"), shared, join(root, "b", "bot-code"));
    } finally {
      execFileSync("umount", [shared]);
    }
  });
});
