import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { createLogger } from "@rpi-swarming/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readProcStat } from "./bot-pid-file.js";
import { BotProcess } from "./bot-process.js";
import { sessionMembers } from "./bot-session.js";

const SESSION_BOT = readFileSync(resolve(import.meta.dirname, "__fixtures__/session_bot.py"), "utf8");

// python3 runs a file that is not a zip as a script, so a plain script can stand in for swarming_bot.zip here.
let dir: string;
let records: Record<string, unknown>[];
const bots: BotProcess[] = [];

function logger() {
  const stream = new PassThrough();
  let buf = "";
  stream.on("data", (c: Buffer) => {
    buf += c.toString();
    const lines = buf.split("\n");
    buf = lines.pop() ?? "";
    for (const l of lines) records.push(JSON.parse(l) as Record<string, unknown>);
  });
  return createLogger({ level: "info", stream }).child({ component: "bot" });
}

function bot(script: string) {
  const botDir = join(dir, "s");
  mkdirSync(botDir, { recursive: true });
  mkdirSync(join(dir, "sudo-bin"), { recursive: true });
  writeFileSync(join(dir, "sudo-bin", "sudo"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  writeFileSync(join(botDir, "swarming_bot.zip"), script);
  const b = new BotProcess({
    python: "python3",
    botDir,
    zipName: "swarming_bot.zip",
    botId: "rpi-7",
    sudoDir: join(dir, "sudo-bin"),
    rebootRequestFile: join(dir, "shared", "reboot-requests"),
    log: logger(),
  });
  bots.push(b);
  return b;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function running(pid: number): boolean {
  const s = readProcStat(pid);
  return s !== null && s.state !== "Z";
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bot-process-"));
  records = [];
});
afterEach(() => {
  // A failed test may leave task processes in groups of their own: their sessions go.
  for (const b of bots.splice(0)) b.killSessionNow();
  rmSync(dir, { recursive: true, force: true });
});

describe("BotProcess", () => {
  it("runs `python3 <zip> start_bot` in the bot dir with the bot's environment; lines become records", async () => {
    const b = bot(`
import os, sys, json, shutil
print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "id": os.environ.get("SWARMING_BOT_ID"),
  "setup": os.environ.get("SWARMING_EXTERNAL_BOT_SETUP"), "req": os.environ.get("RPI_SWARMING_REBOOT_REQUEST_FILE"),
  "sudo": shutil.which("sudo"), "pgid_is_pid": os.getpgid(0) == os.getpid(), "sid_is_pid": os.getsid(0) == os.getpid()}))
print("to stderr", file=sys.stderr)
sys.exit(3)
`);
    const exit = await b.exited;
    expect(exit).toEqual({ code: 3, signal: null, swept: [] });
    await new Promise((r) => setTimeout(r, 50));
    const stdout = records.find((r) => r.stream === "stdout");
    const info = JSON.parse(String(stdout?.msg)) as Record<string, unknown>;
    expect(info).toEqual({
      argv: ["start_bot"],
      cwd: join(dir, "s"),
      id: "rpi-7",
      setup: "1",
      req: join(dir, "shared", "reboot-requests"),
      sudo: join(dir, "sudo-bin", "sudo"),
      pgid_is_pid: true,
      sid_is_pid: true,
    });
    expect(stdout?.component).toBe("bot");
    expect(records.find((r) => r.stream === "stderr")?.msg).toBe("to stderr");
  });

  it("SIGTERM lets a well-behaved bot exit within the grace period", async () => {
    const b = bot(`
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: (print("got SIGTERM", flush=True), sys.exit(0)))
print("ready", flush=True)
time.sleep(60)
`);
    await waitFor(() => records.some((r) => r.msg === "ready"));
    const { exit, killed } = await b.terminate(5000);
    expect(killed).toBe(false);
    expect(exit.code).toBe(0);
    await waitFor(() => records.some((r) => r.msg === "got SIGTERM"));
  });

  it("SIGKILLs the whole process group of a bot that ignores SIGTERM after the grace period", async () => {
    const b = bot(`
import signal, subprocess, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(["sleep", "60"])
print("child", child.pid, flush=True)
time.sleep(60)
`);
    await waitFor(() => records.some((r) => String(r.msg).startsWith("child ")));
    const childPid = Number(String(records.find((r) => String(r.msg).startsWith("child "))?.msg).split(" ")[1]);
    expect(alive(childPid)).toBe(true);
    const t0 = Date.now();
    const { exit, killed } = await b.terminate(500);
    expect(killed).toBe(true);
    expect(exit.signal).toBe("SIGKILL");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    await waitFor(() => !alive(childPid));
  });

  it("at the end of the grace kills every process of the bot's session: task runner, run_isolated and command in their own groups", async () => {
    const b = bot(SESSION_BOT);
    const l = await layout();
    const t0 = Date.now();
    const { exit, killed } = await b.terminate(500);
    expect(killed).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(exit.signal).toBe("SIGKILL");
    expect(exit.swept.map((p) => p.pid).sort()).toEqual([l.task_runner, l.run_isolated, l.command].sort());
    expect(exit.stop).toMatchObject({ graceExpired: true });
    expect((exit.stop?.exitedAt ?? 0) - (exit.stop?.sigtermAt ?? 0)).toBeGreaterThanOrEqual(450);
    expect(sessionMembers(l.bot)).toEqual([]);
    // Dead (a zombie at most, until init reaps the orphan).
    for (const pid of [l.task_runner, l.run_isolated, l.command]) expect(running(pid)).toBe(false);
  });

  it("a bot that finishes its task after SIGTERM exits within the grace; nothing is killed", async () => {
    const b = bot(`import os\nos.environ["SESSION_BOT_TASK_SECONDS"] = "1.5"\n${SESSION_BOT}`);
    const l = await layout();
    const { exit, killed } = await b.terminate(30_000);
    expect(killed).toBe(false);
    expect(exit).toMatchObject({ code: 0, signal: null, swept: [], stop: { graceExpired: false } });
    expect(records.some((r) => r.msg === "task finished")).toBe(true);
    expect(running(l.command)).toBe(false);
  });

  it("a bot that dies during its task leaves nothing: the processes of its session are killed and reported", async () => {
    const b = bot(`import os\nos.environ["SESSION_BOT_CRASH"] = "1"\n${SESSION_BOT}`);
    const exit = await b.exited;
    expect(exit.code).toBe(5);
    expect(exit.stop).toBeUndefined();
    const l = await layout();
    expect(exit.swept.map((p) => p.pid).sort()).toEqual([l.task_runner, l.run_isolated, l.command].sort());
    expect(sessionMembers(l.bot)).toEqual([]);
  });

  it("the image's sudo still running after it killed the bot is killed, but is no cut task", async () => {
    // A process named sudo that blocks for ever (a FIFO opened read-write never ends).
    const fake = join(dir, "fake-sudo");
    mkdirSync(fake);
    writeFileSync(join(fake, "sudo"), '#!/bin/sh\nmkfifo "$0.fifo"\nexec 3<>"$0.fifo"\nread x <&3\n', { mode: 0o755 });
    const b = bot(`
import os, subprocess, time
p = subprocess.Popen([${JSON.stringify(join(fake, "sudo"))}, "-n", "/sbin/shutdown", "-r", "now"])
while not os.path.exists(${JSON.stringify(join(fake, "sudo.fifo"))}): time.sleep(0.01)
print("sudo", p.pid, flush=True)
os._exit(0)
`);
    const exit = await b.exited;
    await waitFor(() => records.some((r) => String(r.msg).startsWith("sudo ")));
    const sudoPid = Number(String(records.find((r) => String(r.msg).startsWith("sudo "))?.msg).split(" ")[1]);
    expect(sudoPid).toBeGreaterThan(0);
    expect(running(sudoPid)).toBe(false);
    expect(exit.swept).toEqual([]);
  });

  it("reports a python that cannot be started", async () => {
    const b = new BotProcess({
      python: join(dir, "no-such-python"),
      botDir: dir,
      zipName: "swarming_bot.zip",
      botId: "x",
      sudoDir: dir,
      rebootRequestFile: join(dir, "r"),
      log: logger(),
    });
    const exit = await b.exited;
    expect(exit.spawnError?.message).toMatch(/ENOENT/);
    expect(b.running).toBe(false);
  });
});

/** The process layout the fixture bot printed. */
async function layout(): Promise<{ bot: number; task_runner: number; run_isolated: number; command: number }> {
  await waitFor(() => records.some((r) => String(r.msg).startsWith('{"bot"')));
  return JSON.parse(String(records.find((r) => String(r.msg).startsWith('{"bot"'))?.msg));
}

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
