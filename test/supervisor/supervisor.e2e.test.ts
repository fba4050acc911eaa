import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { alive, processGroupMembers, startSupervisor } from "./harness.js";
import { cleanUp, dirs, double, lockRecord } from "./supervisor-setup.js";

afterEach(cleanUp);

describe("supervisor (real process, Swarming double, stand-in bot)", () => {
  it("bootstraps the bot code, runs the bot, exports metrics, and stops cleanly on SIGTERM", async () => {
    const sw = await double();
    const { botDir, sharedDir } = dirs();
    const sup = startSupervisor({ "swarming-server": sw.url, "bot-dir": botDir, "shared-dir": sharedDir });
    const version = sw.currentVersion() as string;
    const started = await sup.waitForLog((r) => r.msg === "bot started", 30_000, "bot started");
    await sw.waitFor((d) => d.bot("rpi-test-1")?.handshakes, { what: "handshake" });
    expect(sw.bot("rpi-test-1")?.version).toBe(version);
    // The bot's own output arrives as records of component "bot".
    await sup.waitForLog((r) => r.component === "bot", 10_000, "a bot line");
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_up", { bot_id: "rpi-test-1" })).toBe(1);
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "success" })).toBe(1);
    expect(m.value("rpi_swarming_bot_code_info", { version })).toBe(1);
    expect(m.value("rpi_swarming_bot_start_time_seconds")).toBeGreaterThan(Date.now() / 1000 - 60);
    const health = await fetch(`${await sup.metricsUrl()}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, bot_running: true, bot_code_version: version });

    const pid = Number(started.pid);
    expect(await sup.stop()).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(processGroupMembers(pid)).toEqual([]);
    // The bot saw the signal and said goodbye to the server.
    expect(sw.bot("rpi-test-1")?.events.some((e) => e.event === "bot_shutdown")).toBe(true);
    // Nothing of the supervisor's in the bot dir; the verified copy is kept beside it in bot-code; the lock is released.
    const codeDir = join(botDir, "..", "bot-code");
    expect(readdirSync(botDir).filter((n) => n.startsWith("swarming_bot.download-"))).toEqual([]);
    expect(readdirSync(codeDir).filter((n) => n.startsWith("swarming_bot.download-"))).toEqual([]);
    expect(
      readFileSync(join(codeDir, "swarming_bot.verified.zip")).equals(readFileSync(join(botDir, "swarming_bot.zip"))),
    ).toBe(true);
    expect(lockRecord(botDir)).toMatchObject({ pid: sup.child.pid, released: true });
  });
});
