import { readFile, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HOOK_FIXTURE } from "./__fixtures__/bots.js";
import { BOT, polls, StandInTest } from "./__fixtures__/standin-setup.js";

const t = new StandInTest();
afterEach(() => t.cleanup());

const PING = "/swarming/api/v1/bot/server_ping";

describe("stand-in bot self-update", () => {
  it("downloads into .2.zip (running .1.zip), is_fine pings without a token, restarts via start_slave --survive in the same pid, then copies itself over swarming_bot.zip", async () => {
    const { double, harness, version } = await t.setup({ token: "tok-1", control: { auth_token: "tok-1" } });
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    // Every start: the copy swarming_bot.1.zip is newer, so the first idle poll copies it back (same bytes).
    const golden = join(harness.dir, "swarming_bot.zip");
    await double.waitFor((d) => polls(d, 2));
    expect((await stat(golden)).mtimeMs).toBeGreaterThanOrEqual(
      (await stat(join(harness.dir, "swarming_bot.1.zip"))).mtimeMs,
    );

    const next = await double.publishBotCode({
      standIn: { hookScript: HOOK_FIXTURE, extraFiles: { "marker.txt": "v2" } },
    });
    expect(next.digest).not.toBe(version);
    await double.waitFor((d) => d.bot(BOT)?.version === next.digest && polls(d, 4), { what: "the new version" });
    const rec = double.bot(BOT);
    expect(rec?.versions).toEqual([version, next.digest]);
    expect(rec?.handshakes).toBe(2);
    // Only the restart message: the exit's "Signal was received" is not posted a second time.
    expect(rec?.events.map((e) => [e.event, e.message])).toEqual([
      ["bot_shutdown", `About to restart: Updating to ${next.digest}`],
    ]);
    expect(await readFile(join(harness.dir, "swarming_bot.2.zip"))).toEqual(await readFile(next.path));
    expect(bot.proc.exitCode).toBeNull(); // same process: execv

    // Download, is_fine's server_ping (no token), the event, then the new process's server_ping and handshake.
    const reqs = double.requests();
    const dl = reqs.findIndex((r) => r.path === `/swarming/api/v1/bot/bot_code/${next.digest}`);
    expect(reqs[dl]).toMatchObject({ status: 200, authorized: true, botId: BOT });
    expect(reqs.slice(dl + 1, dl + 5).map((r) => [r.path, r.authorized])).toEqual([
      [PING, false],
      ["/swarming/api/v1/bot/event", true],
      [PING, false],
      ["/swarming/api/v1/bot/handshake", true],
    ]);
    // It sleeps 2 s between the bot_shutdown event and the exec.
    const event = Date.parse(reqs[dl + 2]?.time ?? "");
    expect(Date.parse(reqs[dl + 3]?.time ?? "") - event).toBeGreaterThanOrEqual(1900);

    const init = await readFile(join(harness.root, "swarming_bot_init.log"), "utf8");
    expect(init).toContain(`pid ${bot.proc.pid}: start_slave ${join(harness.dir, "swarming_bot.2.zip")}`);
    // The lock is taken again by the same pid.
    expect(await readFile(join(harness.dir, "swarming.lck"), "utf8")).toBe(String(bot.proc.pid));
    // First idle poll after the restart: the new code replaces the bootstrap copy.
    const n = double.bot(BOT)?.polls ?? 0;
    await double.waitFor((d) => polls(d, n + 2));
    expect(await readFile(golden)).toEqual(await readFile(next.path));

    // From .2.zip the next update goes into .1.zip.
    const third = await double.publishBotCode({
      standIn: { hookScript: HOOK_FIXTURE, extraFiles: { "marker.txt": "v3" } },
    });
    await double.waitFor((d) => d.bot(BOT)?.version === third.digest, { what: "the third version" });
    expect(await readFile(join(harness.dir, "swarming_bot.1.zip"))).toEqual(await readFile(third.path));
    bot.proc.kill("SIGTERM");
    expect(await bot.exited).toEqual({ code: 0, signal: null });
  });

  it("leaves swarming_bot.zip alone when it is not older than the running copy", async () => {
    const { double, harness } = await t.setup();
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 2));
    const golden = join(harness.dir, "swarming_bot.zip");
    const future = new Date(Date.now() + 3600_000);
    await utimes(golden, future, future);
    const before = await stat(golden);
    const n = double.bot(BOT)?.polls ?? 0;
    await double.waitFor((d) => polls(d, n + 3));
    expect((await stat(golden)).mtimeMs).toBe(before.mtimeMs);
    expect((await stat(golden)).ino).toBe(before.ino);
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("keeps its code when the download is cut short, and updates once /bot_code works again", async () => {
    const { double, harness, version } = await t.setup();
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    double.setFault({ mode: "truncate", afterBytes: 200 });
    const next = await double.publishBotCode({ standIn: { hookScript: HOOK_FIXTURE, extraFiles: { "m.txt": "2" } } });
    await double.waitFor((d) => d.bot(BOT)?.events.find((e) => e.event === "bot_error"), { what: "a bot_error" });
    expect(double.bot(BOT)?.events.find((e) => e.event === "bot_error")?.message).toMatch(/update to .* failed/);
    expect(double.bot(BOT)?.version).toBe(version);
    double.setFault(null);
    await double.waitFor((d) => d.bot(BOT)?.version === next.digest, { what: "the update after the fault" });
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("a SIGTERM during the download is lost: like the real bot it still restarts into the new code", async () => {
    const { double, harness, version } = await t.setup();
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    const size = double.state().botCode[0]?.size ?? 0;
    double.setFault({ mode: "slow", bytesPerSecond: Math.ceil(size / 1.5), times: 1 });
    const next = await double.publishBotCode({ standIn: { hookScript: HOOK_FIXTURE, extraFiles: { "m.txt": "3" } } });
    await double.waitFor((d) => d.requests().find((r) => r.path.includes("/bot_code/") && r.botId === BOT), {
      what: "the download to start",
    });
    bot.proc.kill("SIGTERM");
    await double.waitFor((d) => d.bot(BOT)?.version === next.digest && d.bot(BOT)?.handshakes === 2, {
      what: "the restart into the new code",
    });
    expect(double.bot(BOT)?.versions).toEqual([version, next.digest]);
    expect(bot.proc.exitCode).toBeNull();
    bot.proc.kill("SIGTERM");
    expect(await bot.exited).toEqual({ code: 0, signal: null });
  });
});
