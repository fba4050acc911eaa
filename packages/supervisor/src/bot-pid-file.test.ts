import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { createLogger } from "@rpi-swarming/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  leaderAlive,
  readBotPidFile,
  readProcStat,
  removeBotPidFile,
  stopLeftoverBot,
  writeBotPidFile,
} from "./bot-pid-file.js";
import { killSessionNow } from "./bot-session.js";

let dir: string;
let file: string;
let records: Record<string, unknown>[];
const started: ChildProcess[] = [];

function logger() {
  const stream = new PassThrough();
  stream.on("data", (c: Buffer) => {
    for (const l of c.toString().split("\n")) if (l) records.push(JSON.parse(l) as Record<string, unknown>);
  });
  return createLogger({ level: "debug", stream });
}

/** A python "bot" leading its own process group, with a `sleep` child in it; resolves once both run. */
async function groupLeader(onTerm: "exit" | "ignore"): Promise<{ pid: number; childPid: number }> {
  const handler = onTerm === "exit" ? "lambda *a: sys.exit(0)" : "signal.SIG_IGN";
  const p = spawn(
    "python3",
    [
      "-c",
      `import signal, subprocess, sys, time\nsignal.signal(signal.SIGTERM, ${handler})\nc = subprocess.Popen(["sleep", "60"])\nprint(c.pid, flush=True)\nwhile True: time.sleep(1)\n`,
    ],
    { detached: true, stdio: ["ignore", "pipe", "inherit"] },
  );
  started.push(p);
  const childPid = await new Promise<number>((resolve) => p.stdout?.once("data", (c: Buffer) => resolve(Number(c))));
  return { pid: p.pid as number, childPid };
}

const SESSION_BOT = resolve(import.meta.dirname, "__fixtures__/session_bot.py");

/** The fixture bot (own session, its task runner, run_isolated and command each in a group of its own). */
async function sessionBot(env: Record<string, string> = {}) {
  const p = spawn("python3", [SESSION_BOT], {
    detached: true,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  started.push(p);
  const layout = await new Promise<{ bot: number; task_runner: number; run_isolated: number; command: number }>((r) =>
    p.stdout?.once("data", (c: Buffer) => r(JSON.parse(c.toString().split("\n")[0] as string))),
  );
  return { ...layout, task: [layout.task_runner, layout.run_isolated, layout.command].sort() };
}

function running(pid: number): boolean {
  const s = readProcStat(pid);
  return s !== null && s.state !== "Z";
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bot-pid-"));
  file = join(dir, "bot.pid");
  records = [];
});
afterEach(() => {
  for (const p of started.splice(0)) {
    // A failed test may leave task processes in groups of their own: the whole session goes.
    killSessionNow(p.pid as number);
    try {
      process.kill(-(p.pid as number), "SIGKILL");
    } catch {
      // Gone.
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("bot.pid", () => {
  it("records the group and its leader's start time; removal only for the group it names", async () => {
    const { pid } = await groupLeader("exit");
    const record = writeBotPidFile(file, pid);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    expect(record).toEqual({
      pgid: pid,
      startTime: stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19],
      pidNs: readlinkSync("/proc/self/ns/pid"),
    });
    expect(readBotPidFile(file)).toEqual(record);
    expect(leaderAlive(record as NonNullable<typeof record>)).toBe(true);
    removeBotPidFile(file, pid + 1);
    expect(existsSync(file)).toBe(true);
    removeBotPidFile(file, pid);
    expect(existsSync(file)).toBe(false);
  });

  it("reads garbage, a missing file, and nonsense values as no record", () => {
    expect(readBotPidFile(file)).toBeNull();
    for (const text of ["not json", "{}", '{"pgid": 1, "startTime": "5"}', '{"pgid": 12, "startTime": "x"}']) {
      writeFileSync(file, text);
      expect(readBotPidFile(file)).toBeNull();
    }
  });
});

describe("stopLeftoverBot", () => {
  it("does nothing without a file and removes a garbage one", async () => {
    expect(await stopLeftoverBot(file, 1000, logger())).toEqual({ found: false, killed: false, swept: [] });
    writeFileSync(file, "garbage");
    expect(await stopLeftoverBot(file, 1000, logger())).toEqual({ found: false, killed: false, swept: [] });
    expect(existsSync(file)).toBe(false);
  });

  it("leaves alone a process that got the recorded pid later (start time differs)", async () => {
    const { pid, childPid } = await groupLeader("exit");
    const real = writeBotPidFile(file, pid);
    writeFileSync(file, JSON.stringify({ pgid: pid, startTime: String(Number(real?.startTime) - 1) }));
    expect(await stopLeftoverBot(file, 1000, logger())).toEqual({ found: false, killed: false, swept: [] });
    expect(running(pid)).toBe(true);
    expect(running(childPid)).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(records.some((r) => r.msg === "the bot recorded by a previous supervisor is gone")).toBe(true);
  });

  it("SIGTERMs a live left-over bot, then kills what is left of its group", async () => {
    const { pid, childPid } = await groupLeader("exit");
    writeBotPidFile(file, pid);
    const t0 = Date.now();
    const r = await stopLeftoverBot(file, 10_000, logger());
    expect(r).toMatchObject({ found: true, killed: false });
    // Its child outlived it: killed with the rest of its session.
    expect(r.swept.map((p) => p.pid)).toEqual([childPid]);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(running(pid)).toBe(false);
    await waitFor(() => !running(childPid));
    expect(existsSync(file)).toBe(false);
    const warn = records.find((r) => r.msg === "a bot left by a previous supervisor is still running; stopping it");
    expect(warn).toMatchObject({ level: 40, pgid: pid });
  });

  it("SIGKILLs the group of a left-over bot that ignores SIGTERM after the grace period", async () => {
    const { pid, childPid } = await groupLeader("ignore");
    writeBotPidFile(file, pid);
    const t0 = Date.now();
    expect(await stopLeftoverBot(file, 500, logger())).toMatchObject({ found: true, killed: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(running(pid)).toBe(false);
    await waitFor(() => !running(childPid));
    expect(existsSync(file)).toBe(false);
  });
});

describe("stopLeftoverBot and the bot's session", () => {
  it("a left-over bot still finishing its task when the grace runs out: its whole session is killed, the task is cut", async () => {
    const l = await sessionBot();
    writeBotPidFile(file, l.bot);
    const r = await stopLeftoverBot(file, 500, logger());
    expect(r).toMatchObject({ found: true, killed: true });
    expect(r.swept.map((p) => p.pid).sort()).toEqual(l.task);
    for (const pid of [l.bot, ...l.task]) expect(running(pid)).toBe(false);
    const warn = records.find((x) => String(x.msg).startsWith("shutdown grace ran out for the left-over bot"));
    expect(warn).toMatchObject({ level: 40, pgid: l.bot });
  });

  it("a left-over bot that finishes its task within the grace: nothing is cut", async () => {
    const l = await sessionBot({ SESSION_BOT_TASK_SECONDS: "1.5" });
    writeBotPidFile(file, l.bot);
    expect(await stopLeftoverBot(file, 30_000, logger())).toMatchObject({ found: true, killed: false, swept: [] });
    expect(records.some((x) => x.msg === "the left-over bot stopped")).toBe(true);
  });

  it("a record of another pid namespace (a restarted container) names no process here: nothing is touched", async () => {
    const l = await sessionBot();
    const real = writeBotPidFile(file, l.bot);
    writeFileSync(file, JSON.stringify({ ...real, pidNs: "pid:[1]" }));
    expect(await stopLeftoverBot(file, 500, logger())).toEqual({ found: false, killed: false, swept: [] });
    for (const pid of [l.bot, ...l.task]) expect(running(pid)).toBe(true);
    expect(existsSync(file)).toBe(false);
  });

  it("a left-over bot that is gone while its task processes run on: they are killed", async () => {
    const l = await sessionBot();
    writeBotPidFile(file, l.bot);
    process.kill(l.bot, "SIGKILL");
    await waitFor(() => !running(l.bot));
    const r = await stopLeftoverBot(file, 30_000, logger());
    expect(r).toMatchObject({ found: false, killed: false });
    expect(r.swept.map((p) => p.pid).sort()).toEqual(l.task);
    for (const pid of l.task) expect(running(pid)).toBe(false);
    expect(records.some((x) => String(x.msg).startsWith("processes of a previous bot's session outlived it"))).toBe(
      true,
    );
    expect(existsSync(file)).toBe(false);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
