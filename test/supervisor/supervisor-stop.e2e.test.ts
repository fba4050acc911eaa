import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { alive, HOOK_SCRIPT, processGroupMembers, startSupervisor, waitUntil } from "./harness.js";
import { cleanUp, count, dirs, double, lockRecord, randomText, scriptZip, started } from "./supervisor-setup.js";

afterEach(cleanUp);

describe("supervisor faults: stopping and restarting the bot", () => {
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
