import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HOOK_SCRIPT, startFakeStateServer, startSupervisor, waitUntil } from "./harness.js";
import { cleanUp, cleanups, count, dirs, double, started } from "./supervisor-setup.js";

afterEach(cleanUp);

describe("supervisor reboot requests and updates", () => {
  it.each(["both", "reboot-device"] as const)(
    "a host reboot asked through sudo (--on-reboot-request %s) restarts the bot, counts it and asks the state server to reboot the device",
    async (mode) => {
      const sw = await double();
      // The state server takes 1.5 s to answer, as a real device reboot call may.
      const state = await startFakeStateServer(() => ({ task_running: false, bot_version: null }), 1500);
      cleanups.push(() => state.close());
      const { botDir, sharedDir } = dirs();
      const sup = startSupervisor({
        "swarming-server": sw.url,
        "bot-dir": botDir,
        "shared-dir": sharedDir,
        "state-server-url": state.url,
        "on-reboot-request": mode,
      });
      await sw.waitFor((d) => d.bot("rpi-test-1")?.handshakes, { what: "handshake", timeoutMs: 30_000 });
      sw.enqueue({ cmd: "host_reboot", message: "device needs a reboot" }, "rpi-test-1");
      await waitUntil(() => count(sup.records, started) >= 2, 20_000, "second start");
      const exit = sup.records.find((r) => r.msg === "bot exited");
      expect(exit).toMatchObject({ reason: "reboot_request", signal: "SIGKILL", restartInMs: 0 });
      const m = await sup.metrics();
      expect(m.value("rpi_swarming_bot_reboot_requests_total")).toBe(1);
      expect(m.value("rpi_swarming_bot_restarts_total", { reason: "reboot_request" })).toBe(1);
      expect(m.value("rpi_swarming_bot_restarts_total", { reason: "signal" })).toBe(0);
      await waitUntil(() => state.rebootRequests.length === 1, 10_000, "POST /reboot_device");
      const request = state.rebootRequests[0] as { reason: string; receivedAt: number };
      expect(request.reason).toContain("/sbin/shutdown -r now");
      // reboot-device: the bot starts again only after the state server took the request.
      const restartedAt = Date.parse(sup.records.filter(started)[1]?.time as string);
      if (mode === "reboot-device") expect(restartedAt).toBeGreaterThanOrEqual(request.receivedAt + 1400);
      else expect(restartedAt).toBeLessThan(request.receivedAt + 1400);
      const line = JSON.parse(readFileSync(join(sharedDir, "reboot-requests"), "utf8").trim()) as { args: string };
      expect(line.args).toBe("-n /sbin/shutdown -r now");
      expect(await sup.stop()).toBe(0);
    },
  );

  it("update checks: unchanged code costs no download; new code waits for the task to end, then restarts the bot", async () => {
    const sw = await double({ autoUpdate: false });
    let busy = false;
    const state = await startFakeStateServer(() => ({
      task_running: busy,
      bot_version: sw.bot("rpi-test-1")?.version ?? null,
    }));
    cleanups.push(() => state.close());
    const { botDir, sharedDir } = dirs();
    const sup = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "state-server-url": state.url,
      "update-schedule": "* * * * * *",
      "update-jitter-seconds": 0,
      "update-grace-seconds": 1,
      "idle-wait-max-seconds": 60,
    });
    const v1 = sw.currentVersion() as string;
    await sw.waitFor((d) => d.bot("rpi-test-1")?.version === v1, { what: "bot on v1", timeoutMs: 30_000 });
    await waitUntil(
      async () =>
        ((await sup.metrics()).value("rpi_swarming_bot_code_update_checks_total", { result: "unchanged" }) ?? 0) >= 2,
      20_000,
      "2 unchanged checks",
    );
    const zipGets = () => sw.requests().filter((r) => r.path.startsWith("/swarming/api/v1/bot/bot_code/")).length;
    // Only the bootstrap downloaded a zip; unchanged checks only read the redirect.
    expect(zipGets()).toBe(1);

    busy = true;
    const v2 = (await sw.publishBotCode({ standIn: { hookScript: HOOK_SCRIPT, extraFiles: { "v2.txt": "2" } } }))
      .digest;
    await sup.waitForLog((r) => r.msg === "new bot code in place", 20_000, "new code");
    await sup.waitForLog((r) => r.msg === "bot runs old code; waiting for its task to end", 20_000, "waiting for idle");
    expect(count(sup.records, started)).toBe(1);
    busy = false;
    await sw.waitFor((d) => d.bot("rpi-test-1")?.version === v2, { what: "bot on v2", timeoutMs: 30_000 });
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_restarts_total", { reason: "update" })).toBe(1);
    expect(m.value("rpi_swarming_bot_code_update_checks_total", { result: "changed" })).toBe(1);
    expect(m.value("rpi_swarming_bot_code_info", { version: v2 })).toBe(1);
    expect(m.value("rpi_swarming_bot_code_info", { version: v1 })).toBeUndefined();
    expect(await sup.stop()).toBe(0);
  });

  it("a bot that updates itself within the grace period is not restarted", async () => {
    const sw = await double({ autoUpdate: true });
    const state = await startFakeStateServer(() => ({
      task_running: false,
      bot_version: sw.bot("rpi-test-1")?.version ?? null,
    }));
    cleanups.push(() => state.close());
    const { botDir, sharedDir } = dirs();
    const sup = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "state-server-url": state.url,
      "update-schedule": "* * * * * *",
      "update-jitter-seconds": 0,
      // Long enough for the bot's own update on a loaded machine; the log line comes at the next check.
      "update-grace-seconds": 30,
    });
    await sw.waitFor((d) => d.bot("rpi-test-1")?.handshakes, { what: "handshake", timeoutMs: 30_000 });
    const v2 = (await sw.publishBotCode({ standIn: { hookScript: HOOK_SCRIPT, extraFiles: { "v2.txt": "2" } } }))
      .digest;
    await sup.waitForLog((r) => r.msg === "bot updated itself", 30_000, "self update seen");
    expect(sw.bot("rpi-test-1")?.version).toBe(v2);
    expect(count(sup.records, started)).toBe(1);
    expect((await sup.metrics()).value("rpi_swarming_bot_restarts_total", { reason: "update" })).toBe(0);
    expect(await sup.stop()).toBe(0);
  });
});
