import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BOT, hookNames, PROJECT_HOOK_SCRIPT, polls, StandInTest } from "./__fixtures__/standin-setup.js";

const t = new StandInTest();
afterEach(() => t.cleanup());

describe("stand-in bot session", () => {
  it("start-up in the real bot's order: server_ping without a token, attributes, auth, on_bot_startup, attributes again, handshake", async () => {
    const { double, harness, version } = await t.setup({ token: "tok-1", control: { auth_token: "tok-1" } });
    const bot = harness.start({ env: { SWARMING_SERVER: "http://example.invalid" } });
    await double.waitFor((d) => polls(d, 2), { what: "two polls" });
    const rec = double.bot(BOT);
    expect(rec).toMatchObject({ version, handshakes: 1 });
    expect(rec?.userAgent).toBe(`swarming_bot/standin-${version}`);
    expect(rec?.problems).toEqual([]);

    // server_ping comes first and carries no token (the double answers it without one).
    const requests = double.requests();
    expect(requests[0]).toMatchObject({ path: "/swarming/api/v1/bot/server_ping", status: 200, authorized: false });
    const handshake = requests.findIndex((r) => r.path.endsWith("/handshake"));
    expect(handshake).toBeGreaterThan(0);
    expect(requests.slice(1, handshake).map((r) => r.path)).toEqual([]);
    expect(requests.filter((r) => r.path !== "/swarming/api/v1/bot/server_ping").every((r) => r.authorized)).toBe(true);

    // The handshake carries attributes computed after on_bot_startup, and no bot_config yet.
    expect(rec?.handshakeAttributes?.state).toMatchObject({ started: true, sleep_streak: 0 });
    expect(rec?.handshakeAttributes?.state.bot_config).toBeUndefined();
    expect(rec?.handshakeAttributes?.dimensions).toEqual({
      id: [BOT],
      pool: ["fixture-pool"],
      device_type: ["fixture-phone"],
    });
    // After the handshake: bots.cfg dimensions override the hook's; no script named, so no bot_config dimension.
    expect(rec?.dimensions).toEqual({ id: [BOT], pool: ["rpi-swarming-double"], device_type: ["fixture-phone"] });
    expect(rec?.state).toMatchObject({ bot_config: { name: null, revision: null }, rbe_instance: null });

    // The bot's environment: its id and SWARMING_HEADLESS=1 set, SWARMING_SERVER removed.
    const calls = await harness.calls();
    expect(calls.find((c) => c[0] === "on_bot_startup")).toEqual(["on_bot_startup", BOT, "1", "-"]);

    const names = calls.map((c) => c[0]);
    const loop = names.indexOf("on_before_poll");
    expect(names.slice(0, loop)).toEqual([
      "get_dimensions",
      "get_state",
      "get_settings",
      "get_authentication_headers",
      "on_bot_startup",
      "get_dimensions",
      "get_state",
      "get_settings",
      "on_handshake",
      "get_settings", // run_isolated --clean flags
    ]);
    expect(names.slice(loop, loop + 7)).toEqual([
      "on_before_poll",
      "get_dimensions",
      "get_state",
      "get_settings",
      "on_after_poll",
      "on_bot_idle",
      "on_before_poll",
    ]);

    // pid in swarming.lck; logs written.
    expect(await readFile(join(harness.dir, "swarming.lck"), "utf8")).toBe(String(bot.proc.pid));
    expect(await readFile(join(harness.dir, "logs", "swarming_bot.log"), "utf8")).toMatch(/standin \d+: stand-in bot/);
    expect(await readFile(join(harness.dir, "logs", "bot_config.log"), "utf8")).toMatch(/fixture hook: handshake done/);

    const before = double.requests().length;
    const sent = Date.now();
    bot.proc.kill("SIGTERM");
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - sent).toBeLessThan(3000);
    expect(double.bot(BOT)?.events.map((e) => [e.event, e.message])).toEqual([["bot_shutdown", "Signal was received"]]);
    expect(
      double
        .requests()
        .slice(before)
        .map((r) => r.path),
    ).toEqual(["/swarming/api/v1/bot/event"]);
    expect((await hookNames(harness)).at(-1)).toBe("on_bot_shutdown");
  });

  it("after the handshake deletes every entry not on the real keep-list; zip names are exact", async () => {
    const { double, harness } = await t.setup();
    const keep = [
      "swarming_bot.zip",
      "README",
      "README.md",
      "lab-cacert.pem",
      ".vpython3",
      "cas_kvs_cache_db",
      "swarming.lck",
    ];
    const keepDirs = ["c", "cas_cache", "cipd_cache", "logs", "tmp"];
    const gone = [
      "junk.txt",
      "swarming_bot.download-123.zip",
      "swarming_bot.zip.tmp",
      "swarming_bot.3.zip",
      "swarming_bot.1.zip.part",
      ".rpi-swarming-download",
      "README.txt",
    ];
    const goneDirs = ["w", "isolated_cache", "named_caches", ".vpython-root", "work"];
    for (const f of [...keep, ...gone]) {
      if (f !== "swarming_bot.zip") await writeFile(join(harness.dir, f), "x");
    }
    for (const d of [...keepDirs, ...goneDirs]) {
      await mkdir(join(harness.dir, d), { recursive: true });
      await writeFile(join(harness.dir, d, "inner"), "x");
    }
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    const left = (await readdir(harness.dir)).sort();
    expect(left).toEqual([...keep, ...keepDirs, "swarming_bot.1.zip"].sort());
    expect(await readFile(join(harness.dir, "c", "inner"), "utf8")).toBe("x");
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("a second bot on the same directory finds swarming.lck held, sleeps, then asks sudo for a reboot", async () => {
    const { double, harness } = await t.setup();
    const first = harness.start();
    await double.waitFor((d) => polls(d, 1));
    const second = harness.start({ zipPath: "swarming_bot.1.zip" });
    expect(await second.exited).toEqual({ code: null, signal: "SIGKILL" }); // killed by images/sudo
    expect(second.output()).toMatch(
      new RegExp(
        `Found a previous bot, ${second.proc.pid} rebooting: another bot holds .*swarming\\.lck \\(pid ${first.proc.pid}\\)`,
      ),
    );
    expect(second.output()).toMatch(/Sleeping for 0\.5 secs/);
    const request = JSON.parse((await harness.rebootRequests()).trim()) as { args: string; pid: number };
    expect(request).toMatchObject({ args: "-n /sbin/shutdown -r now", pid: second.proc.pid });
    expect(await readFile(join(harness.dir, "swarming.lck"), "utf8")).toBe(String(first.proc.pid));
    const before = double.bot(BOT)?.polls ?? 0;
    await double.waitFor((d) => polls(d, before + 1), { what: "the first bot to keep polling" });
    first.proc.kill("SIGTERM");
    expect((await first.exited).code).toBe(0);
  });

  it("terminate: acknowledges the task and exits like on a signal; bot_restart: re-execs itself in the same pid", async () => {
    const { double, harness } = await t.setup();
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    double.enqueue({ cmd: "bot_restart", message: "fresh start" });
    await double.waitFor((d) => d.bot(BOT)?.handshakes === 2 && polls(d, 3), { what: "a second handshake" });
    expect(bot.proc.exitCode).toBeNull();
    double.enqueue({ cmd: "terminate", taskId: "term-1" });
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    expect(double.bot(BOT)?.events.map((e) => e.message)).toEqual([
      "About to restart: fresh start",
      "Signal was received",
    ]);
    expect(double.tasks().find((t) => t.id === "term-1")?.exitCode).toBe(0);
    const init = await readFile(join(harness.root, "swarming_bot_init.log"), "utf8");
    expect(init).toContain(`pid ${bot.proc.pid}: start_slave ${join(harness.dir, "swarming_bot.1.zip")}`);
  });

  it("host_reboot posts only bot_rebooting, resets SIGTERM and runs shutdown -r now, then reboot -f", async () => {
    const { double, harness } = await t.setup();
    // A sudo that records and fails: the bot stays alive to show what it does next.
    const sudoDir = join(harness.root, "failing-sudo");
    await mkdir(sudoDir);
    const log = join(harness.root, "sudo.log");
    await writeFile(join(sudoDir, "sudo"), `#!/bin/sh\necho "$*" >> ${log}\nexit 1\n`);
    await chmod(join(sudoDir, "sudo"), 0o755);
    const bot = harness.start({
      env: {
        PATH: `${sudoDir}:${process.env.PATH ?? ""}`,
        SWARMING_STANDIN_REBOOT_WAIT_SECONDS: "60",
        SWARMING_STANDIN_REBOOT_TIMEOUT_SECONDS: "60",
      },
    });
    await double.waitFor((d) => polls(d, 1));
    double.enqueue({ cmd: "host_reboot", message: "weekly reboot" });
    await double.waitFor((d) => d.bot(BOT)?.events.find((e) => e.event === "bot_rebooting"));
    let sudo = "";
    for (let i = 0; i < 200 && sudo.split("\n").length < 3; i++) {
      sudo = await readFile(log, "utf8").catch(() => "");
      if (sudo.split("\n").length < 3) await new Promise((r) => setTimeout(r, 50));
    }
    expect(sudo).toBe("-n /sbin/shutdown -r now\n-n /sbin/reboot -f\n");
    expect(double.bot(BOT)?.events.map((e) => e.event)).toEqual(["bot_rebooting"]);
    expect((await hookNames(harness)).at(-1)).toBe("on_bot_shutdown");
    // SIGTERM has its default action again: the bot dies of it instead of finishing up.
    bot.proc.kill("SIGTERM");
    expect(await bot.exited).toEqual({ code: null, signal: "SIGTERM" });
  });

  it("sends the bearer token from get_authentication_headers; a wrong token gets 401 and no session", async () => {
    const { double, harness } = await t.setup({ token: "tok-1", control: { auth_token: "wrong" } });
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

  it("run from $HOME: quarantined until restart and nothing of $HOME deleted", async () => {
    const { double, harness } = await t.setup();
    await writeFile(join(harness.dir, "precious.txt"), "keep me");
    const bot = harness.start({ env: { HOME: harness.dir } });
    const rec = await double.waitFor((d) => polls(d, 1) && d.bot(BOT));
    expect(rec.quarantined).toBe("Can't run from the home directory");
    expect(await readFile(join(harness.dir, "precious.txt"), "utf8")).toBe("keep me");
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("quarantined: keeps its previous dimensions on a broken get_dimensions and skips get_settings", async () => {
    const { double, harness } = await t.setup({ control: { dimensions_extra: { os: ["Android"] } } });
    const bot = harness.start();
    await double.waitFor((d) => d.bot(BOT)?.dimensions.os?.[0] === "Android");
    await harness.setControl({ dimensions_raise: true });
    const rec = await double.waitFor((d) => {
      const b = d.bot(BOT);
      return b?.quarantined ? b : undefined;
    });
    expect(rec.quarantined).toBe(
      "get_dimensions() error: got exception: RuntimeError: fixture: get_dimensions is broken",
    );
    expect(rec.dimensions.os).toEqual(["Android"]);
    // The hook's own quarantine wins over the dimension error; no get_settings while quarantined.
    await harness.setControl({ dimensions_raise: true, quarantine: "device is hot" });
    await double.waitFor((d) => d.bot(BOT)?.quarantined === "device is hot");
    const mark = (await hookNames(harness)).length;
    const polled = double.bot(BOT)?.polls ?? 0;
    await double.waitFor((d) => polls(d, polled + 2));
    const cycle = (await hookNames(harness)).slice(mark);
    const start = cycle.indexOf("on_before_poll");
    expect(cycle.slice(start, start + 5)).toEqual([
      "on_before_poll",
      "get_dimensions",
      "get_state",
      "on_after_poll",
      "on_bot_idle",
    ]);
    await harness.setControl({});
    await double.waitFor((d) => d.bot(BOT) && !d.bot(BOT)?.quarantined, { what: "recovery" });
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("quarantined from the start: the hook calls the real bot makes (seen with luci-py's bot), get_settings only for run_isolated --clean", async () => {
    const { double, harness } = await t.setup({ control: { quarantine: "hot" } });
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 3));
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
    expect((await hookNames(harness)).slice(0, 18)).toEqual([
      "get_dimensions",
      "get_state",
      "get_authentication_headers",
      "on_bot_startup",
      "get_dimensions",
      "get_state",
      "on_handshake",
      "get_settings",
      "on_before_poll",
      "get_dimensions",
      "get_state",
      "on_after_poll",
      "on_bot_idle",
      "on_before_poll",
      "get_dimensions",
      "get_state",
      "on_after_poll",
      "on_bot_idle",
    ]);
    expect(double.bot(BOT)?.lastCommand).toEqual({ cmd: "sleep", duration: 0.2, quarantined: true });
  });

  it("the handshake's hook script: bot_config dimension from then on, its get_* win, chained on_* run in both", async () => {
    const content = [
      "import json, os",
      "def _called(name):",
      "    with open(os.environ['STANDIN_FIXTURE_CALLS'], 'a') as f:",
      "        f.write(json.dumps([name]) + '\\n')",
      "def get_state(bot):",
      "    return {'from_server': True}",
      "def on_handshake(bot):",
      "    _called('server_on_handshake')",
      "def on_before_poll(bot):",
      "    _called('server_on_before_poll')",
    ].join("\n");
    const { double, harness } = await t.setup({ botConfigScript: { name: "server_config.py", content } });
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 2));
    const rec = double.bot(BOT);
    expect(rec?.handshakeAttributes?.dimensions.bot_config).toBeUndefined();
    expect(rec?.dimensions.bot_config).toEqual(["server_config.py"]);
    expect(rec?.dimensions.device_type).toEqual(["fixture-phone"]); // get_dimensions only in the zip's script
    expect(rec?.state).toMatchObject({ from_server: true, bot_config: { name: "server_config.py" } });
    expect(rec?.state.fixture).toBeUndefined();
    const names = await hookNames(harness);
    // Chained: the zip's on_handshake, then the server's. Not chained: only the server's on_before_poll.
    expect(names[names.indexOf("on_handshake") + 1]).toBe("server_on_handshake");
    expect(names).toContain("server_on_before_poll");
    expect(names).not.toContain("on_before_poll");
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("without a command runs start_slave: setup_bot, then start_bot; SWARMING_EXTERNAL_BOT_SETUP=1 skips setup_bot", async () => {
    const { double, harness } = await t.setup();
    let bot = harness.start({ args: [], env: { SWARMING_EXTERNAL_BOT_SETUP: "" } });
    await double.waitFor((d) => polls(d, 1));
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
    expect((await hookNames(harness)).filter((n) => n === "setup_bot")).toHaveLength(1);
    expect((await harness.calls())[0]).toEqual(["setup_bot"]);
    bot = harness.start({ args: ["start_slave"] });
    await double.waitFor((d) => d.bot(BOT)?.handshakes === 2);
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
    expect((await hookNames(harness)).filter((n) => n === "setup_bot")).toHaveLength(1);
    expect((await stat(join(harness.dir, "swarming_bot.1.zip"))).isFile()).toBe(true);
  });

  it("with the project's bot_config.py, no state server and no token config, it reaches its handshake at once (30 auth tries, 2 s apart, as the real bot)", async () => {
    const { double, harness } = await t.setup({ hookScript: PROJECT_HOOK_SCRIPT });
    const started = Date.now();
    const bot = harness.start({
      env: {
        RPI_SWARMING_STATE_SERVER_URL: "http://127.0.0.1:9",
        RPI_SWARMING_TOKEN_CONFIG: join(harness.root, "no-token-config.json"),
        SWARMING_STANDIN_AUTH_TRIES: "30",
        SWARMING_STANDIN_AUTH_RETRY_SECONDS: "2",
      },
    });
    await double.waitFor((d) => d.bot(BOT)?.handshakes === 1 && polls(d, 2), {
      what: "the handshake",
      timeoutMs: 20_000,
    });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(double.bot(BOT)?.quarantined).toMatch(/rpi-swarming state server/);
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
    const hookLog = await readFile(join(harness.dir, "logs", "bot_config.log"), "utf8");
    expect(hookLog.match(/no authentication headers for now/g)).toHaveLength(1);
  });
});
