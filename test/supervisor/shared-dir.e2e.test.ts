/**
 * Issue 10, item 2: partial downloads and the verified copy live in the bot
 * code dir (default `bot-code` beside the bot dir), outside the bot dir the
 * real bot cleans after each handshake, on the same filesystem and mount so
 * the final rename is atomic; the lock and markers in the shared dir, also
 * outside it. The supervisor refuses any other layout at start-up.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type SwarmingDouble, startSwarmingDouble } from "@rpi-swarming/swarming-double";
import { afterEach, describe, expect, it } from "vitest";
import { HOOK_SCRIPT, killLeftovers, startSupervisor, tempDirs, waitUntil } from "./harness.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await killLeftovers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dirs() {
  const d = tempDirs();
  cleanups.push(() => d.cleanup());
  return d;
}

async function double(): Promise<SwarmingDouble> {
  const d = await startSwarmingDouble({ botCode: { standIn: { hookScript: HOOK_SCRIPT } } });
  cleanups.push(() => d.close());
  return d;
}

/** The real bot's clean-up after its handshake (docs/swarming-bot.md): every entry not on its exact keep-list goes. */
function realBotCleanup(botDir: string): string[] {
  const out = execFileSync(
    "python3",
    [
      "-c",
      `import fnmatch, os, shutil, sys
KEEP = ["*-cacert.pem", ".vpython3", "README", "README.md", "c", "cas_cache", "cipd_cache", "logs",
        "swarming.lck", "swarming_bot.1.zip", "swarming_bot.2.zip", "swarming_bot.zip", "tmp"]
for name in sorted(os.listdir(sys.argv[1])):
    if any(fnmatch.fnmatch(name, k) for k in KEEP):
        continue
    p = os.path.join(sys.argv[1], name)
    shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    print(name)`,
      botDir,
    ],
    { encoding: "utf8" },
  );
  return out.split("\n").filter(Boolean);
}

describe("the bot code dir and the shared dir", () => {
  it("a download in progress survives the bot's keep-list clean-up of the bot dir", async () => {
    const sw = await double();
    await sw.publishBotCode({
      standIn: { hookScript: HOOK_SCRIPT, extraFiles: { "blob.bin": randomBytes(450_000).toString("base64") } },
    });
    sw.setFault({ mode: "slow", bytesPerSecond: 150_000, times: 1 });
    const { botDir, sharedDir } = dirs();
    const sup = startSupervisor({ "swarming-server": sw.url, "bot-dir": botDir, "shared-dir": sharedDir });
    await sup.waitForLog((r) => r.msg === "downloading bot code", 20_000, "download start");
    await waitUntil(
      () => readdirSync(join(botDir, "..", "bot-code")).some((n) => n.startsWith("swarming_bot.download-")),
      10_000,
      "a partial download",
    );
    // Mid-download, the bot (an earlier one, or one started from a cached copy) cleans its directory.
    expect(realBotCleanup(botDir)).toEqual([]);
    await sup.waitForLog((r) => r.msg === "bot started", 30_000, "bot started");
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "success" })).toBe(1);
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "disk_error" })).toBe(0);
    expect(sup.records.some((r) => r.msg === "cannot get the bot code")).toBe(false);
    expect(await sup.stop()).toBe(0);
  });

  it("refuses a shared dir inside the bot dir: exit 2, naming both settings and why", async () => {
    const { botDir } = dirs();
    const sup = startSupervisor({
      "swarming-server": "http://127.0.0.1:9",
      "bot-dir": botDir,
      "shared-dir": join(botDir, "shared"),
    });
    expect(await sup.exited).toBe(2);
    const err = sup.stderr();
    expect(err).toContain(`sharedDir (--shared-dir, RPI_SWARMING_SHARED_DIR) ${join(botDir, "shared")} is inside`);
    expect(err).toContain(`botDir (--bot-dir, RPI_SWARMING_BOT_DIR) ${botDir}`);
    expect(err).toContain("keep-list");
    expect(sup.records.some((r) => r.msg === "bot started")).toBe(false);
  });

  it("refuses a bot code dir on another filesystem: exit 2, saying the rename would not be atomic", async (ctx) => {
    const { root, botDir } = dirs();
    const other = join(root, "other");
    mkdirSync(other);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", other], { stdio: "ignore" });
    } catch {
      ctx.skip("needs root to mount a tmpfs");
    }
    cleanups.push(() => {
      execFileSync("umount", ["-l", other]);
    });
    const sup = startSupervisor({
      "swarming-server": "http://127.0.0.1:9",
      "bot-dir": botDir,
      "bot-code-dir": join(other, "code"),
    });
    expect(await sup.exited).toBe(2);
    expect(sup.stderr()).toContain(`botCodeDir (--bot-code-dir, RPI_SWARMING_BOT_CODE_DIR) ${join(other, "code")} and`);
    expect(sup.stderr()).toMatch(
      /are on different filesystems \(device \d+ and \d+\).*atomic only within one filesystem and mount/,
    );
  });
});
