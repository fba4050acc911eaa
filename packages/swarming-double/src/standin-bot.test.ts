import { access, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type BotHarness, botHarness, HOOK_FIXTURE, killAllBots } from "./__fixtures__/bots.js";
import { type SwarmingDouble, startSwarmingDouble } from "./index.js";

const BOT = "standin-test-1";
let double: SwarmingDouble | undefined;
let harness: BotHarness | undefined;

afterEach(async () => {
  await killAllBots();
  await double?.close();
  await harness?.cleanup();
  double = undefined;
  harness = undefined;
});

async function setup(
  options: {
    token?: string;
    control?: Record<string, unknown>;
    botConfigScript?: { name: string; content: string };
  } = {},
) {
  double = await startSwarmingDouble({
    defaultSleepSeconds: 0.2,
    botCode: { standIn: { hookScript: HOOK_FIXTURE } },
    ...(options.token ? { token: options.token } : {}),
    ...(options.botConfigScript ? { botConfigScript: options.botConfigScript } : {}),
  });
  const code = double.state().botCode[0];
  if (!code) throw new Error("no bot code");
  harness = await botHarness(code.path, BOT);
  await harness.setControl(options.control ?? {});
  return { double, harness, version: code.digest };
}

const polls = (d: SwarmingDouble, n: number) => (d.bot(BOT)?.polls ?? 0) >= n;

describe("stand-in bot session", () => {
  it("pings, handshakes and polls with the hook's dimensions, calling hooks in the real bot's order", async () => {
    const { double, harness, version } = await setup();
    await writeFile(join(harness.dir, "junk.txt"), "the bot deletes this");
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 2), { what: "two polls" });
    const rec = double.bot(BOT);
    expect(rec).toMatchObject({
      version,
      handshakes: 1,
      dimensions: {
        id: [BOT],
        pool: ["rpi-swarming-double"], // bots.cfg (server) dimensions override the hook's
        device_type: ["fixture-phone"],
        bot_config: ["bot_config.py"],
      },
      state: { fixture: true, battery: 0.9, bot_config: { name: "bot_config.py" } },
    });
    expect(rec?.userAgent).toBe(`swarming_bot/standin-${version}`);
    expect(rec?.problems).toEqual([]);
    expect(typeof rec?.state.sleep_streak).toBe("number");
    // Copied itself to swarming_bot.1.zip, kept its files, deleted the unknown one, wrote its log.
    await access(join(harness.dir, "swarming_bot.1.zip"));
    await access(join(harness.dir, "swarming.lck"));
    await expect(access(join(harness.dir, "junk.txt"))).rejects.toThrow();
    expect(await readFile(join(harness.dir, "logs", "swarming_bot.log"), "utf8")).toMatch(/standin \d+: stand-in bot/);
    expect(await readFile(join(harness.dir, "logs", "bot_config.log"), "utf8")).toMatch(/fixture hook: handshake done/);
    expect(await readFile(join(harness.root, "swarming_bot_init.log"), "utf8")).toMatch(/standin pid \d+: start_bot/);
    const seen = double.requests().filter((r) => r.botId === BOT);
    expect(seen.every((r) => r.userAgent?.startsWith("swarming_bot/"))).toBe(true);

    bot.proc.kill("SIGTERM");
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    expect(double.bot(BOT)?.events.at(-1)).toMatchObject({ event: "bot_shutdown", message: "Signal was received" });

    const names = (await harness.calls()).map((c) => c[0]);
    const start = names.indexOf("on_before_poll");
    expect(names.slice(0, start)).toEqual([
      "get_dimensions",
      "get_state",
      "get_settings",
      "get_dimensions",
      "get_state",
      "get_settings",
      "get_authentication_headers",
      "on_bot_startup",
      "on_handshake",
    ]);
    expect(names.slice(start, start + 7)).toEqual([
      "on_before_poll",
      "get_dimensions",
      "get_state",
      "get_settings",
      "on_after_poll",
      "on_bot_idle",
      "on_before_poll",
    ]);
    expect(names.at(-1)).toBe("on_bot_shutdown");
  });

  it("updates itself when new code is published: downloads swarming_bot.2.zip, re-execs, polls with the new version", async () => {
    const { double, harness, version } = await setup();
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    const next = await double.publishBotCode({
      standIn: { hookScript: HOOK_FIXTURE, extraFiles: { "marker.txt": "v2" } },
    });
    expect(next.digest).not.toBe(version);
    await double.waitFor((d) => d.bot(BOT)?.version === next.digest && polls(d, 3), { what: "the new version" });
    const rec = double.bot(BOT);
    expect(rec?.versions).toEqual([version, next.digest]);
    expect(rec?.handshakes).toBe(2);
    expect(rec?.events.find((e) => e.event === "bot_shutdown")?.message).toBe(
      `About to restart: Updating to ${next.digest}`,
    );
    expect(await readFile(join(harness.dir, "swarming_bot.2.zip"))).toEqual(await readFile(next.path));
    expect(bot.proc.exitCode).toBeNull(); // same process: execv
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("keeps its code when the download is cut short, and updates once /bot_code works again", async () => {
    const { double, harness, version } = await setup();
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

  it("runs a task, and on SIGTERM during a task finishes it before shutting down", async () => {
    const { double, harness } = await setup();
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    double.enqueue({
      cmd: "run",
      taskId: "slow-task",
      command: ["python3", "-c", "import time; print('started', flush=True); time.sleep(1.5); print('done')"],
    });
    await double.waitFor((d) => d.tasks().find((t) => t.id === "slow-task" && t.output.includes("started")), {
      what: "task output",
    });
    bot.proc.kill("SIGTERM");
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    expect(double.tasks().find((t) => t.id === "slow-task")).toMatchObject({
      status: "completed",
      exitCode: 0,
      output: "started\ndone\n",
    });
    expect(double.bot(BOT)?.events.at(-1)).toMatchObject({ event: "bot_shutdown", message: "Signal was received" });
    const names = (await harness.calls()).map((c) => c.join(":"));
    const after = names.indexOf("on_after_task:False:False");
    expect(names.indexOf("on_before_task:True")).toBeGreaterThan(-1);
    expect(after).toBeGreaterThan(names.indexOf("on_before_task:True"));
    expect(names.indexOf("on_bot_shutdown")).toBeGreaterThan(after);
  });

  it("reports a task that cannot start with task_error, and stops a task the server cancels", async () => {
    const { double, harness } = await setup();
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    double.enqueue({ cmd: "run", taskId: "no-such-binary", command: ["/nonexistent/tool"] });
    await double.waitFor((d) => d.tasks().find((t) => t.id === "no-such-binary" && t.status === "error"));
    double.enqueue({ cmd: "run", taskId: "long", command: ["python3", "-c", "import time; time.sleep(60)"] });
    await double.waitFor((d) => d.tasks().find((t) => t.id === "long" && t.status === "running"));
    double.cancelTask("long");
    const t = await double.waitFor((d) => d.tasks().find((x) => x.id === "long" && x.status === "killed"), {
      what: "the cancelled task to end",
    });
    expect(t.exitCode).not.toBe(0);
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("a second bot on the same directory finds swarming.lck held and asks sudo for a reboot", async () => {
    const { double, harness } = await setup();
    const first = harness.start();
    await double.waitFor((d) => polls(d, 1));
    const second = harness.start({ zipPath: "swarming_bot.1.zip" });
    expect(await second.exited).toEqual({ code: null, signal: "SIGKILL" }); // killed by images/sudo
    expect(second.output()).toMatch(/another bot holds .*swarming\.lck/);
    const request = JSON.parse((await harness.rebootRequests()).trim()) as { args: string; pid: number };
    expect(request).toMatchObject({ args: "-n /sbin/shutdown -r now", pid: second.proc.pid });
    const before = double.bot(BOT)?.polls ?? 0;
    await double.waitFor((d) => polls(d, before + 1), { what: "the first bot to keep polling" });
    first.proc.kill("SIGTERM");
    expect((await first.exited).code).toBe(0);
  });

  it("follows terminate, bot_restart and host_reboot commands", async () => {
    const { double, harness } = await setup();
    let bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    double.enqueue({ cmd: "bot_restart", message: "fresh start" });
    await double.waitFor((d) => d.bot(BOT)?.handshakes === 2, { what: "a second handshake" });
    double.enqueue({ cmd: "terminate", taskId: "term-1" });
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    expect(double.bot(BOT)?.events.map((e) => e.message)).toEqual([
      "About to restart: fresh start",
      "Terminated by the server (task term-1)",
    ]);
    expect(double.tasks().find((t) => t.id === "term-1")?.exitCode).toBe(0);

    bot = harness.start();
    await double.waitFor((d) => d.bot(BOT)?.handshakes === 3);
    double.enqueue({ cmd: "host_reboot", message: "weekly reboot" });
    expect((await bot.exited).signal).toBe("SIGKILL");
    expect(double.bot(BOT)?.events.at(-1)).toMatchObject({ event: "bot_rebooting", message: "weekly reboot" });
    expect(await harness.rebootRequests()).toMatch(/"args": "-n \/sbin\/shutdown -r now"/);
  });

  it("sends the bearer token from get_authentication_headers; a wrong token gets 401 and no session", async () => {
    const { double, harness } = await setup({ token: "tok-1", control: { auth_token: "wrong" } });
    let bot = harness.start();
    await double.waitFor((d) => d.requests().filter((r) => r.botId === BOT && r.status === 401).length >= 2, {
      what: "rejected handshakes",
    });
    expect(double.bot(BOT)).toBeUndefined();
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
    // An expiry under 570 s away makes the bot ask the hook again before its requests.
    await harness.setControl({ auth_token: "tok-1", auth_expiry_in: 300 });
    const before = (await harness.calls()).filter((c) => c[0] === "get_authentication_headers").length;
    bot = harness.start();
    await double.waitFor((d) => polls(d, 3));
    const after = (await harness.calls()).filter((c) => c[0] === "get_authentication_headers").length;
    expect(after - before).toBeGreaterThanOrEqual(4);
    expect(
      double
        .requests()
        .filter((r) => r.botId === BOT && r.path.endsWith("/poll"))
        .every((r) => r.authorized),
    ).toBe(true);
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("refuses to run from $HOME", async () => {
    const { harness } = await setup();
    const bot = harness.start({ env: { HOME: harness.dir } });
    expect((await bot.exited).code).toBe(1);
    expect(bot.output()).toMatch(/refusing to run from \$HOME/);
  });

  it("quarantines itself when get_dimensions breaks, keeping the previous dimensions", async () => {
    const { double, harness } = await setup({ control: { dimensions_extra: { os: ["Android"] } } });
    const bot = harness.start();
    await double.waitFor((d) => d.bot(BOT)?.dimensions.os?.[0] === "Android");
    await harness.setControl({ dimensions_raise: true });
    const rec = await double.waitFor((d) => {
      const b = d.bot(BOT);
      return b?.quarantined ? b : undefined;
    });
    expect(rec.quarantined).toMatch(/get_dimensions\(\) failed: RuntimeError: fixture: get_dimensions is broken/);
    expect(rec.dimensions.os).toEqual(["Android"]);
    await harness.setControl({});
    await double.waitFor((d) => d.bot(BOT) && !d.bot(BOT)?.quarantined, { what: "recovery" });
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("loads the hook script the handshake injects: its get_* hooks win, on_* hooks of both scripts run", async () => {
    const content = [
      "import json, os",
      "def get_state(bot):",
      "    return {'from_server': True}",
      "def on_before_poll(bot):",
      "    with open(os.environ['STANDIN_FIXTURE_CALLS'], 'a') as f:",
      "        f.write(json.dumps(['server_on_before_poll']) + '\\n')",
    ].join("\n");
    const { double, harness } = await setup({ botConfigScript: { name: "server_config.py", content } });
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 2));
    const rec = double.bot(BOT);
    expect(rec?.dimensions.bot_config).toEqual(["server_config.py"]);
    expect(rec?.dimensions.device_type).toEqual(["fixture-phone"]); // get_dimensions only in the zip's script
    expect(rec?.state).toMatchObject({ from_server: true, bot_config: { name: "server_config.py" } });
    expect(rec?.state.fixture).toBeUndefined();
    const names = (await harness.calls()).map((c) => c[0]);
    const i = names.indexOf("on_before_poll");
    expect(names[i + 1]).toBe("server_on_before_poll");
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("on SIGTERM during a self-update download, stops instead of re-executing the new code", async () => {
    const { double, harness, version } = await setup();
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    const size = double.state().botCode[0]?.size ?? 0;
    double.setFault({ mode: "slow", bytesPerSecond: Math.ceil(size / 1.5) });
    await double.publishBotCode({ standIn: { hookScript: HOOK_FIXTURE, extraFiles: { "m.txt": "3" } } });
    await double.waitFor((d) => d.requests().find((r) => r.path.includes("/bot_code/") && r.botId === BOT), {
      what: "the download to start",
    });
    bot.proc.kill("SIGTERM");
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    const rec = double.bot(BOT);
    expect(rec?.versions).toEqual([version]);
    expect(rec?.handshakes).toBe(1);
    expect(rec?.events.at(-1)).toMatchObject({ event: "bot_shutdown", message: "Signal was received" });
  });

  it("without a command runs start_slave: setup_bot, then start_bot; SWARMING_EXTERNAL_BOT_SETUP=1 skips setup_bot", async () => {
    const { double, harness } = await setup();
    let bot = harness.start({ args: [], env: { SWARMING_EXTERNAL_BOT_SETUP: "" } });
    await double.waitFor((d) => polls(d, 1));
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
    expect((await harness.calls()).map((c) => c[0]).filter((n) => n === "setup_bot")).toHaveLength(1);
    expect((await harness.calls())[0]).toEqual(["setup_bot"]);
    bot = harness.start({ args: ["start_slave"] });
    await double.waitFor((d) => d.bot(BOT)?.handshakes === 2);
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
    expect((await harness.calls()).map((c) => c[0]).filter((n) => n === "setup_bot")).toHaveLength(1);
  });
});
