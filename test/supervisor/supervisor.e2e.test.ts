import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { buildStandInBotZip, type SwarmingDouble, startSwarmingDouble } from "@rpi-swarming/swarming-double";
import { afterEach, describe, expect, it } from "vitest";
import {
  alive,
  freePort,
  HOOK_SCRIPT,
  killLeftovers,
  type LogRecord,
  processGroupMembers,
  startFakeStateServer,
  startSupervisor,
  tempDirs,
  waitUntil,
} from "./harness.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await killLeftovers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function double(options: Parameters<typeof startSwarmingDouble>[0] = {}): Promise<SwarmingDouble> {
  const d = await startSwarmingDouble({ botCode: { standIn: { hookScript: HOOK_SCRIPT } }, ...options });
  cleanups.push(() => d.close());
  return d;
}

/** The supervisor lock record of a bot dir (`<botDir>.lock/<highest number>`), or null. */
function lockRecord(botDir: string): { pid: number; released?: boolean } | null {
  const lockDir = `${botDir}.lock`;
  if (!existsSync(lockDir)) return null;
  const top = readdirSync(lockDir)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => b - a)[0];
  return top === undefined ? null : JSON.parse(readFileSync(join(lockDir, String(top)), "utf8"));
}

function dirs() {
  const d = tempDirs();
  cleanups.push(() => d.cleanup());
  return d;
}

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

/** A bot code zip whose __main__.py is the given Python source (for crash and hang behaviour). */
function scriptZip(path: string, source: string): string {
  execFileSync("python3", [
    "-c",
    "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.writestr('__main__.py', sys.argv[2])",
    path,
    source,
  ]);
  return path;
}

const started = (r: LogRecord) => r.msg === "bot started";
const count = (records: LogRecord[], match: (r: LogRecord) => boolean) => records.filter(match).length;

/** A token endpoint in the GCE metadata shape whose reply can be switched. */
async function tokenServer(reply: () => { status: number; body: string }) {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits += 1;
    const r = reply();
    res.statusCode = r.status;
    res.end(r.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, hits: () => hits };
}

describe("supervisor faults", () => {
  it("keeps retrying while the server is down and starts the bot as soon as code arrives", async () => {
    const port = await freePort();
    const { botDir, sharedDir } = dirs();
    const sup = startSupervisor({
      "swarming-server": `http://127.0.0.1:${port}`,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "download-backoff-max-seconds": 1,
    });
    await waitUntil(() => count(sup.records, (r) => r.msg === "cannot get the bot code") >= 2, 20_000, "2 failures");
    expect(count(sup.records, started)).toBe(0);
    const sw = await double({ port });
    await sup.waitForLog(started, 20_000, "bot started");
    await sw.waitFor((d) => d.bot("rpi-test-1")?.handshakes, { what: "handshake" });
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "network_error" })).toBeGreaterThanOrEqual(2);
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "success" })).toBe(1);
    expect(await sup.stop()).toBe(0);
  });

  it("starts at once from a cached copy while the server is down", async () => {
    const port = await freePort();
    const { botDir, sharedDir } = dirs();
    const cached = await buildStandInBotZip({
      server: `http://127.0.0.1:${port}`,
      hookScript: HOOK_SCRIPT,
      outPath: join(botDir, "swarming_bot.zip"),
    });
    const sup = startSupervisor({
      "swarming-server": `http://127.0.0.1:${port}`,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
    });
    await sup.waitForLog((r) => r.component === "bot", 20_000, "the bot's first line");
    await waitUntil(
      async () => (await sup.metrics()).value("rpi_swarming_bot_code_update_checks_total", { result: "error" }) === 1,
      10_000,
      "failed update check",
    );
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_up")).toBe(1);
    expect(m.value("rpi_swarming_bot_code_info", { version: cached.digest })).toBe(1);
    expect(await sup.stop()).toBe(0);
  });

  it("401 names the token config; with a token from the token endpoint the download works", async () => {
    const sw = await double({ token: "s3cret" });
    const { root, botDir, sharedDir } = dirs();
    const tokenConfig = join(root, "oauth2_access_token_config.json");
    const sup = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "token-config": tokenConfig,
    });
    const failure = await sup.waitForLog((r) => r.msg === "cannot get the bot code", 20_000, "auth failure");
    expect(String((failure.err as { message: string }).message)).toContain(
      `HTTP 401: no token config at ${tokenConfig}`,
    );
    expect(
      (await sup.metrics()).value("rpi_swarming_bot_code_downloads_total", { result: "auth_error" }),
    ).toBeGreaterThanOrEqual(1);
    expect(await sup.stop()).toBe(0);

    // Now with a token config whose endpoint hands out the right token.
    const tokens = await tokenServer(() => ({
      status: 200,
      body: JSON.stringify({ access_token: "s3cret", expires_in: 3600, token_type: "Bearer" }),
    }));
    writeFileSync(tokenConfig, JSON.stringify({ url: tokens.url, headers: { "Metadata-Flavor": "Google" } }));
    const sup2 = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "token-config": tokenConfig,
    });
    await sup2.waitForLog(started, 20_000, "bot started");
    const m = await sup2.metrics();
    expect(m.value("rpi_swarming_token_refreshes_total", { result: "success" })).toBeGreaterThanOrEqual(1);
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "success" })).toBe(1);
    // Tokens never reach the log.
    expect(JSON.stringify(sup2.records)).not.toContain("s3cret");
    expect(await sup2.stop()).toBe(0);
  });

  it("a token endpoint answering garbage or down is reported, retried, and recovers", async () => {
    const sw = await double({ token: "t0ken" });
    const { root, botDir, sharedDir } = dirs();
    let mode: "garbage" | "down" | "ok" = "garbage";
    const tokens = await tokenServer(() =>
      mode === "garbage"
        ? { status: 200, body: "<html>metadata server starting</html>" }
        : mode === "down"
          ? { status: 503, body: "unavailable" }
          : { status: 200, body: JSON.stringify({ access_token: "t0ken", expires_in: 3600 }) },
    );
    const tokenConfig = join(root, "token.json");
    writeFileSync(tokenConfig, JSON.stringify({ url: tokens.url, headers: {} }));
    const sup = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "token-config": tokenConfig,
      "download-backoff-max-seconds": 1,
    });
    const failure = await sup.waitForLog((r) => r.msg === "cannot get the bot code", 20_000, "token failure");
    const message = String((failure.err as { message: string }).message);
    expect(message).toContain(tokenConfig);
    expect(message).toContain("not JSON");
    mode = "down";
    await sup.waitForLog(
      (r) => r.msg === "cannot get the bot code" && String((r.err as { message: string }).message).includes("HTTP 503"),
      20_000,
      "503",
    );
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_token_refreshes_total", { result: "failure" })).toBeGreaterThanOrEqual(2);
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "auth_error" })).toBeGreaterThanOrEqual(2);
    mode = "ok";
    await sup.waitForLog(started, 20_000, "bot started");
    expect(await sup.stop()).toBe(0);
  });

  it.each([
    ["HTTP 500 on /bot_code", { mode: "status", status: 500, on: "redirect", times: 2 }, "http_error", 2],
    ["HTTP 404 on the zip", { mode: "status", status: 404, on: "download", times: 1 }, "http_error", 1],
    ["a server that hangs", { mode: "hang", on: "download", times: 1 }, "timeout", 1],
    ["a body cut off mid-way", { mode: "truncate", times: 1 }, "truncated", 1],
    ["a body that is not a zip", { mode: "not-zip", times: 1 }, "corrupt", 1],
  ] as const)("survives %s, counts it, and then gets the code", async (_name, fault, result, times) => {
    const sw = await double();
    sw.setFault(fault);
    const { botDir, sharedDir } = dirs();
    const sup = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "download-timeout-seconds": 1,
      "download-backoff-max-seconds": 1,
    });
    await sup.waitForLog(started, 30_000, "bot started");
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result })).toBe(times);
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "success" })).toBe(1);
    expect(m.value("rpi_swarming_bot_code_info", { version: sw.currentVersion() as string })).toBe(1);
    expect(readdirSync(botDir).filter((n) => n.startsWith("swarming_bot.download-"))).toEqual([]);
    expect(await sup.stop()).toBe(0);
  });

  it("a disk that fills during an update download leaves the old copy intact and the bot running", async (ctx) => {
    const sw = await double();
    const { root } = dirs();
    // The bot dir and the shared dir on one small volume, as on the pod's emptyDir.
    const volume = join(root, "b");
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", volume], { stdio: "ignore" });
    } catch {
      ctx.skip("needs root to mount a 1 MiB tmpfs");
    }
    cleanups.push(() => {
      execFileSync("umount", ["-l", volume]);
    });
    const botDir = join(volume, "s");
    const sharedDir = join(volume, "shared");
    mkdirSync(botDir);
    mkdirSync(sharedDir);
    const old = await buildStandInBotZip({
      server: sw.url,
      hookScript: HOOK_SCRIPT,
      outPath: join(botDir, "swarming_bot.zip"),
    });
    const oldBytes = readFileSync(old.path);
    // The server's code is bigger than the whole disk.
    const big = await sw.publishBotCode({
      standIn: { hookScript: HOOK_SCRIPT, extraFiles: { "blob.bin": randomText(3_000_000) } },
    });
    expect(big.digest).not.toBe(old.digest);
    const sup = startSupervisor({ "swarming-server": sw.url, "bot-dir": botDir, "shared-dir": sharedDir });
    const failure = await sup.waitForLog((r) => r.msg === "update check failed", 20_000, "failed update check");
    expect(String((failure.err as { message: string }).message)).toMatch(/ENOSPC/);
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "disk_error" })).toBe(1);
    expect(m.value("rpi_swarming_bot_code_info", { version: old.digest })).toBe(1);
    expect(m.value("rpi_swarming_bot_up")).toBe(1);
    expect(readFileSync(join(botDir, "swarming_bot.zip")).equals(oldBytes)).toBe(true);
    expect(readdirSync(join(volume, "bot-code")).filter((n) => n.startsWith("swarming_bot.download-"))).toEqual([]);
    expect(await sup.stop()).toBe(0);
  });

  it("a bot that crashes at once is restarted with growing delays, visible in the metrics", async () => {
    const { root, botDir, sharedDir } = dirs();
    const sw = await double({
      botCode: { zipPath: scriptZip(join(root, "crash.zip"), "import sys\nprint('crashing')\nsys.exit(3)\n") },
    });
    const sup = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "restart-backoff-min-seconds": 0.2,
      "restart-backoff-max-seconds": 1.6,
    });
    await waitUntil(() => count(sup.records, started) >= 7, 30_000, "7 starts");
    const times = sup.records.filter(started).map((r) => Date.parse(r.time));
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    // Ceilings 0.2, 0.4, 0.8, 1.6, 1.6 s with jitter in [ceiling/2, ceiling].
    expect(gaps[0]).toBeLessThan(600);
    expect(gaps[4]).toBeGreaterThanOrEqual(750);
    expect(gaps[5]).toBeGreaterThanOrEqual(750);
    for (const g of gaps) expect(g).toBeLessThan(2600);
    const m = await sup.metrics();
    const restarts = m.value("rpi_swarming_bot_restarts_total", { reason: "exit" }) as number;
    expect(restarts).toBeGreaterThanOrEqual(6);
    expect(restarts).toBeLessThanOrEqual(count(sup.records, started));
    expect(sup.records.some((r) => r.msg === "bot exited" && r.code === 3)).toBe(true);
    expect(await sup.stop()).toBe(0);
  });

  it("kills a bot that hangs on SIGTERM (and its children) after the grace period, then exits 0", async () => {
    const { root, botDir, sharedDir } = dirs();
    const zip = scriptZip(
      join(root, "hang.zip"),
      "import signal, subprocess, time\nsignal.signal(signal.SIGTERM, lambda *a: print('ignoring SIGTERM', flush=True))\nc = subprocess.Popen(['sleep', '120'])\nprint('ready', c.pid, flush=True)\nwhile True: time.sleep(1)\n",
    );
    const sw = await double({ botCode: { zipPath: zip } });
    const sup = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "shutdown-grace-seconds": 1,
    });
    const ready = await sup.waitForLog((r) => r.component === "bot" && r.msg.startsWith("ready"), 20_000, "ready");
    const childPid = Number(ready.msg.split(" ")[1]);
    const botPid = Number(sup.records.find(started)?.pid);
    const t0 = Date.now();
    expect(await sup.stop()).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(sup.records.some((r) => r.msg === "ignoring SIGTERM")).toBe(true);
    expect(
      sup.records.some((r) =>
        r.msg.startsWith("shutdown grace ran out: killed the bot and the processes of its session"),
      ),
    ).toBe(true);
    await waitUntil(() => !alive(childPid) && !alive(botPid), 5000, "bot and child gone");
    expect(processGroupMembers(botPid)).toEqual([]);
  });

  it("SIGTERM during a download exits 0 at once and leaves no partial file", async () => {
    const sw = await double();
    await sw.publishBotCode({
      standIn: { hookScript: HOOK_SCRIPT, extraFiles: { "blob.bin": randomText(1_000_000) } },
    });
    sw.setFault({ mode: "slow", bytesPerSecond: 50_000 });
    const { botDir, sharedDir } = dirs();
    const sup = startSupervisor({ "swarming-server": sw.url, "bot-dir": botDir, "shared-dir": sharedDir });
    await sup.waitForLog((r) => r.msg === "downloading bot code", 20_000, "download start");
    await waitUntil(
      () => readdirSync(join(botDir, "..", "bot-code")).some((n) => n.startsWith("swarming_bot.download-")),
      5000,
      "a partial download in the bot code dir",
    );
    const t0 = Date.now();
    expect(await sup.stop()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(readdirSync(botDir)).toEqual([]);
    expect(readdirSync(join(botDir, "..", "bot-code")).filter((n) => n.startsWith("swarming_bot.download-"))).toEqual(
      [],
    );
    expect(count(sup.records, started)).toBe(0);
  });

  it("SIGTERM during a task lets the bot finish the task, then exits 0 with nothing left", async () => {
    const sw = await double();
    const { botDir, sharedDir } = dirs();
    const sup = startSupervisor({ "swarming-server": sw.url, "bot-dir": botDir, "shared-dir": sharedDir });
    await sw.waitFor((d) => d.bot("rpi-test-1")?.handshakes, { what: "handshake", timeoutMs: 30_000 });
    const marker = `task-marker-${Date.now()}`;
    sw.enqueue(
      {
        cmd: "run",
        taskId: "t1",
        command: ["python3", "-c", "import time, sys; time.sleep(3); print('done')", marker],
      },
      "rpi-test-1",
    );
    await sw.waitFor((d) => d.tasks().find((t) => t.id === "t1" && t.status === "running"), {
      what: "task running",
      timeoutMs: 20_000,
    });
    const botPid = Number(sup.records.find(started)?.pid);
    expect(await sup.stop()).toBe(0);
    const task = sw.tasks().find((t) => t.id === "t1");
    expect(task?.status).toBe("completed");
    expect(task?.exitCode).toBe(0);
    expect(processGroupMembers(botPid)).toEqual([]);
    expect(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })).not.toContain(marker);
  });

  it("SIGTERM during a task that outlasts the grace period kills the task with the bot", async () => {
    const sw = await double();
    const { botDir, sharedDir } = dirs();
    const sup = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "shutdown-grace-seconds": 1,
    });
    await sw.waitFor((d) => d.bot("rpi-test-1")?.handshakes, { what: "handshake", timeoutMs: 30_000 });
    const marker = `task-marker-${Date.now()}`;
    sw.enqueue(
      { cmd: "run", taskId: "t2", command: ["python3", "-c", "import time; time.sleep(120)", marker] },
      "rpi-test-1",
    );
    await sw.waitFor((d) => d.tasks().find((t) => t.id === "t2" && t.status === "running"), {
      what: "task running",
      timeoutMs: 20_000,
    });
    const botPid = Number(sup.records.find(started)?.pid);
    expect(await sup.stop()).toBe(0);
    expect(
      sup.records.some((r) =>
        r.msg.startsWith("shutdown grace ran out: killed the bot and the processes of its session"),
      ),
    ).toBe(true);
    await waitUntil(
      () => !execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).includes(marker),
      5000,
      "task gone",
    );
    expect(processGroupMembers(botPid)).toEqual([]);
  });

  it("a second supervisor on the same bot dir refuses with a clear message, whatever its shared dir", async () => {
    const sw = await double();
    const { root, botDir, sharedDir } = dirs();
    const first = startSupervisor({ "swarming-server": sw.url, "bot-dir": botDir, "shared-dir": sharedDir });
    await first.waitForLog(started, 20_000, "bot started");
    for (const otherShared of [sharedDir, join(root, "other-shared")]) {
      const second = startSupervisor({ "swarming-server": sw.url, "bot-dir": botDir, "shared-dir": otherShared });
      expect(await second.exited).toBe(1);
      expect(second.stderr()).toContain(
        `another supervisor (pid ${first.child.pid}) already runs bot directory ${botDir}`,
      );
      expect(count(second.records, started)).toBe(0);
    }
    expect((await first.metrics()).value("rpi_swarming_bot_up")).toBe(1);
    expect(await first.stop()).toBe(0);
    // A lock left by a dead supervisor is taken over.
    const crashed = startSupervisor({ "swarming-server": sw.url, "bot-dir": botDir, "shared-dir": sharedDir });
    await crashed.waitForLog(started, 20_000, "bot started");
    expect(await crashed.stop("SIGKILL")).toBe("SIGKILL");
    const third = startSupervisor({ "swarming-server": sw.url, "bot-dir": botDir, "shared-dir": sharedDir });
    const takeover = await third.waitForLog((r) => r.msg === "took over a stale lock", 20_000, "takeover");
    expect(takeover.deadPid).toBe(crashed.child.pid);
    await third.waitForLog(started, 30_000, "bot started");
    expect(await third.stop()).toBe(0);
  });

  it("a bot left running by a SIGKILLed supervisor is stopped by the next one before it starts its own", async () => {
    const sw = await double();
    const { botDir, sharedDir } = dirs();
    const flags = {
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "shutdown-grace-seconds": 5,
    };
    const first = startSupervisor(flags);
    const oldPid = Number((await first.waitForLog(started, 30_000, "bot started")).pid);
    await sw.waitFor((d) => d.bot("rpi-test-1")?.handshakes, { what: "handshake", timeoutMs: 30_000 });
    expect(JSON.parse(readFileSync(join(sharedDir, "bot.pid"), "utf8"))).toMatchObject({ pgid: oldPid });

    expect(await first.stop("SIGKILL")).toBe("SIGKILL");
    // The bot lives on in its own process group, still holding swarming.lck.
    expect(alive(oldPid)).toBe(true);
    expect(processGroupMembers(oldPid)).toContain(oldPid);
    expect(lockRecord(botDir)).toMatchObject({ pid: first.child.pid });
    expect(lockRecord(botDir)?.released).toBeUndefined();
    const handshakesBefore = sw.bot("rpi-test-1")?.handshakes ?? 0;

    const second = startSupervisor(flags);
    await second.waitForLog((r) => r.msg === "took over a stale lock", 20_000, "takeover");
    const warn = await second.waitForLog(
      (r) => r.msg === "a bot left by a previous supervisor is still running; stopping it",
      20_000,
      "left-over warning",
    );
    expect(warn.pgid).toBe(oldPid);
    const newStart = await second.waitForLog(started, 30_000, "the new bot");
    // The old group was gone before the new bot started.
    expect(Date.parse(newStart.time)).toBeGreaterThanOrEqual(
      Date.parse((await second.waitForLog((r) => r.msg.startsWith("the left-over bot "), 1000, "stopped")).time),
    );
    expect(processGroupMembers(oldPid)).toEqual([]);
    const newPid = Number(newStart.pid);
    expect(newPid).not.toBe(oldPid);
    expect(JSON.parse(readFileSync(join(sharedDir, "bot.pid"), "utf8"))).toMatchObject({ pgid: newPid });
    // The new bot got swarming.lck and works: it says hello again and polls, with no reboot request.
    await sw.waitFor((d) => (d.bot("rpi-test-1")?.handshakes ?? 0) > handshakesBefore, {
      what: "the new bot's handshake",
      timeoutMs: 30_000,
    });
    expect(second.records.some((r) => r.msg === "the bot asked for a reboot")).toBe(false);
    expect((await second.metrics()).value("rpi_swarming_bot_up")).toBe(1);

    expect(await second.stop()).toBe(0);
    expect(processGroupMembers(newPid)).toEqual([]);
    expect(existsSync(join(sharedDir, "bot.pid"))).toBe(false);
    expect(lockRecord(botDir)).toMatchObject({ pid: second.child.pid, released: true });
  });
});

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
      "update-grace-seconds": 4,
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

/** Incompressible text (zip deflate cannot shrink it much). */
function randomText(n: number): string {
  return Buffer.from(Array.from({ length: Math.ceil(n / 4) }, () => Math.random().toString(36).slice(2, 6)).join(""))
    .subarray(0, n)
    .toString();
}
