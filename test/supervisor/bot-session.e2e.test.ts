/**
 * The bot's task processes at the end of the shutdown grace, with a bot that
 * lays them out as the real one does (task runner, run_isolated and the
 * command each in a process group of its own, all in the bot's session).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type SwarmingDouble, startSwarmingDouble } from "@rpi-swarming/swarming-double";
import { afterEach, describe, expect, it } from "vitest";
import {
  killLeftovers,
  type LogRecord,
  startFakeStateServer,
  startSupervisor,
  tempDirs,
  waitUntil,
} from "./harness.js";

const SESSION_BOT = resolve(import.meta.dirname, "../../packages/supervisor/src/__fixtures__/session_bot.py");

interface Layout {
  bot: number;
  task_runner: number;
  run_isolated: number;
  command: number;
}

const cleanups: (() => Promise<void> | void)[] = [];
const layouts: Layout[] = [];
afterEach(async () => {
  await killLeftovers();
  // The task processes of a failed test are in groups of their own: kill them one by one.
  for (const l of layouts.splice(0)) for (const pid of Object.values(l)) kill(pid);
  for (const c of cleanups.splice(0).reverse()) await c();
});

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone.
  }
}

/** Not running (a zombie at most). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

async function setUp(env: Record<string, string>, flags: Record<string, string | number> = {}) {
  const d = tempDirs();
  cleanups.push(() => d.cleanup());
  const zip = join(d.root, "session-bot.zip");
  execFileSync("python3", [
    "-c",
    "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.write(sys.argv[2], '__main__.py')",
    zip,
    SESSION_BOT,
  ]);
  const sw: SwarmingDouble = await startSwarmingDouble({ botCode: { zipPath: zip } });
  cleanups.push(() => sw.close());
  const state = await startFakeStateServer(() => ({ task_running: true, bot_version: null }));
  cleanups.push(() => state.close());
  const allFlags = {
    "swarming-server": sw.url,
    "bot-dir": d.botDir,
    "shared-dir": d.sharedDir,
    "state-server-url": state.url,
    ...flags,
  };
  const sup = startSupervisor(allFlags, env);
  return { sup, allFlags, env };
}

async function layoutOf(sup: ReturnType<typeof startSupervisor>, after = 0): Promise<Layout> {
  const isLayout = (r: LogRecord) => r.component === "bot" && r.msg.startsWith('{"bot"');
  await waitUntil(() => sup.records.filter(isLayout).length > after, 30_000, "the bot's task layout");
  const l = JSON.parse(sup.records.filter(isLayout)[after]?.msg as string) as Layout;
  layouts.push(l);
  return l;
}

const all = (l: Layout) => [l.bot, l.task_runner, l.run_isolated, l.command];

describe("the bot's session at the end of the grace", () => {
  it("SIGTERM, grace runs out during the task: every process of the session is killed, and the log says a task was cut", async () => {
    const { sup } = await setUp({}, { "shutdown-grace-seconds": 1 });
    const l = await layoutOf(sup);
    expect(all(l).every((p) => !gone(p))).toBe(true);
    expect(await sup.stop()).toBe(0);
    // The supervisor exits only once the session is empty.
    expect(all(l).filter((p) => !gone(p))).toEqual([]);
    const cut = sup.records.find((r) => r.msg.startsWith("shutdown grace ran out"));
    expect(cut?.msg).toBe("shutdown grace ran out: killed the bot and the processes of its session; its task is cut");
    expect(cut).toMatchObject({ level: 40, pid: l.bot, graceSeconds: 1, taskRunningAtSigterm: true });
    expect(((cut?.killed ?? []) as { pid: number }[]).map((p) => p.pid).sort()).toEqual(
      [l.task_runner, l.run_isolated, l.command].sort(),
    );
    expect(cut?.sinceSigtermSeconds).toBeGreaterThanOrEqual(1);
  });

  it("a grace longer than the task: the bot finishes it and exits; nothing is cut", async () => {
    const { sup } = await setUp({ SESSION_BOT_TASK_SECONDS: "3" }, { "shutdown-grace-seconds": 60 });
    const l = await layoutOf(sup);
    expect(await sup.stop()).toBe(0);
    expect(sup.records.some((r) => r.component === "bot" && r.msg === "task finished")).toBe(true);
    const stopped = sup.records.find((r) => r.msg === "bot stopped");
    expect(stopped).toMatchObject({ code: 0 });
    expect(stopped?.sinceSigtermSeconds).toBeLessThan(60);
    expect(sup.records.some((r) => r.msg.startsWith("shutdown grace ran out"))).toBe(false);
    expect(all(l).filter((p) => !gone(p))).toEqual([]);
  });

  it("a bot that dies during its task: its task processes are killed and counted as a cut task", async () => {
    const { sup } = await setUp({ SESSION_BOT_CRASH: "1" }, { "restart-backoff-min-seconds": 60 });
    const l = await layoutOf(sup);
    const warn = await sup.waitForLog(
      (r) => r.msg === "the bot exited while processes of its session ran: killed them; its task is cut",
      20_000,
      "the cut",
    );
    expect((warn.killed as { pid: number }[]).map((p) => p.pid).sort()).toEqual(
      [l.task_runner, l.run_isolated, l.command].sort(),
    );
    expect(all(l).filter((p) => !gone(p))).toEqual([]);
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_tasks_cut_total", { reason: "bot_exit" })).toBe(1);
    expect(m.value("rpi_swarming_bot_tasks_cut_total", { reason: "grace_expired" })).toBe(0);
    expect(await sup.stop()).toBe(0);
  });

  it("a SIGKILLed supervisor's bot and task are stopped by the next one: counted, timed, nothing left", async () => {
    const { sup, allFlags, env } = await setUp({}, { "shutdown-grace-seconds": 1 });
    const l = await layoutOf(sup);
    expect(await sup.stop("SIGKILL")).toBe("SIGKILL");
    expect(all(l).every((p) => !gone(p))).toBe(true);
    const next = startSupervisor(allFlags, env);
    const newLayout = await layoutOf(next);
    // The old session was empty before the new bot started.
    expect(all(l).filter((p) => !gone(p))).toEqual([]);
    expect(newLayout.bot).not.toBe(l.bot);
    const m = await next.metrics();
    expect(m.value("rpi_swarming_bot_tasks_cut_total", { reason: "leftover" })).toBe(1);
    expect(m.value("rpi_swarming_bot_stop_duration_seconds_count", { outcome: "killed" })).toBe(1);
    expect(m.value("rpi_swarming_bot_stop_duration_seconds_bucket", { outcome: "killed", le: "0.5" })).toBe(0);
    expect(m.value("rpi_swarming_bot_stop_duration_seconds_bucket", { outcome: "killed", le: "5" })).toBe(1);
    expect(await next.stop()).toBe(0);
    expect(all(newLayout).filter((p) => !gone(p))).toEqual([]);
  });
});
