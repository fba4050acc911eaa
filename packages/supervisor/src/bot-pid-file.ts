import { readFileSync, readlinkSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import type { Logger } from "@rpi-swarming/core";
import { sleep } from "./backoff.js";
import { killSession, type SessionProcess } from "./bot-session.js";

/**
 * What `bot.pid` in the shared dir holds while a bot runs: its pid, which is
 * also its process group and session id (it runs as a session leader), and
 * when it started.
 */
export interface BotPidRecord {
  readonly pgid: number;
  /** Field 22 of /proc/<pgid>/stat (clock ticks since boot): tells the bot from a process that got its pid later. */
  readonly startTime: string;
  /**
   * `readlink /proc/self/ns/pid` of the supervisor that wrote it: its pid means
   * nothing in another namespace (a restarted container, whose processes all died with it).
   */
  readonly pidNs?: string;
}

/** This process's pid namespace (`pid:[inode]`); "" without /proc. */
export function ownPidNamespace(): string {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return "";
  }
}

interface ProcStat {
  readonly state: string;
  readonly startTime: string;
}

/** State and start time of a process from /proc; null when it does not exist (or there is no /proc). */
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: fields after it follow the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
  const state = fields[0];
  const startTime = fields[19];
  if (!state || !startTime || !/^\d+$/.test(startTime)) return null;
  return { state, startTime };
}

/** Records the bot's process group (a bot runs as leader of its own group, so pgid = pid). */
export function writeBotPidFile(path: string, pid: number): BotPidRecord | null {
  const stat = readProcStat(pid);
  if (!stat) return null;
  const record: BotPidRecord = { pgid: pid, startTime: stat.startTime, pidNs: ownPidNamespace() };
  // Write and rename, so a supervisor killed mid-write leaves either the old file or the new one.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record)}\n`);
  renameSync(tmp, path);
  return record;
}

/** Parsed `bot.pid`; null when absent or not a record we wrote. */
export function readBotPidFile(path: string): BotPidRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return null;
  }
  const r = value as Partial<BotPidRecord> | null;
  if (!r || !Number.isInteger(r.pgid) || (r.pgid as number) <= 1 || typeof r.startTime !== "string") return null;
  if (!/^\d+$/.test(r.startTime)) return null;
  const record = { pgid: r.pgid as number, startTime: r.startTime };
  return typeof r.pidNs === "string" ? { ...record, pidNs: r.pidNs } : record;
}

/** Removes `bot.pid` if it still names this group (another run may have replaced it). */
export function removeBotPidFile(path: string, pgid: number): void {
  if (readBotPidFile(path)?.pgid !== pgid) return;
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** True while the recorded leader runs (not a zombie) and is the same process that was recorded. */
export function leaderAlive(record: BotPidRecord): boolean {
  const stat = readProcStat(record.pgid);
  return stat !== null && stat.state !== "Z" && stat.startTime === record.startTime;
}

export interface LeftoverBotResult {
  /** The recorded bot was still running and was stopped. */
  readonly found: boolean;
  /** It did not exit within the grace period and its session was SIGKILLed. */
  readonly killed: boolean;
  /** Processes of its session other than the bot (its task) that were killed: a task that was cut. */
  readonly swept: readonly SessionProcess[];
  /** When found: milliseconds from SIGTERM to the bot's exit (its session empty). */
  readonly stopMs?: number;
}

/**
 * A supervisor that was SIGKILLed leaves its bot (own session) running,
 * holding swarming.lck, maybe with a task. Stops that bot the way a shutdown
 * does: SIGTERM to the leader, graceMs to finish, then SIGKILL to every
 * process of its session. A bot that is gone while processes of its session
 * still run (its task runner outlived it) has those killed. Never throws.
 * A shutdown meanwhile does not cut the grace short: like our own bot, it gets its time.
 */
export async function stopLeftoverBot(path: string, graceMs: number, log: Logger): Promise<LeftoverBotResult> {
  const record = readBotPidFile(path);
  if (!record) {
    try {
      unlinkSync(path); // garbage or absent
    } catch {
      // Absent.
    }
    return { found: false, killed: false, swept: [] };
  }
  if (record.pidNs !== undefined && record.pidNs !== ownPidNamespace()) {
    log.info(
      { pgid: record.pgid, pidNs: record.pidNs },
      "the bot recorded by a previous supervisor ran in another pid namespace (a restarted container): gone with it",
    );
    removeBotPidFile(path, record.pgid);
    return { found: false, killed: false, swept: [] };
  }
  // The bot was its session's leader: session id = its pid. Its members started after it.
  const sweep = async () =>
    (await killSession(record.pgid, { notBefore: record.startTime })).killed.filter((p) => p.pid !== record.pgid);
  if (!leaderAlive(record)) {
    const stat = readProcStat(record.pgid);
    // A pid still used by a session's member is never given to a new process: another process with
    // that pid means the old session is empty.
    const swept = stat !== null && stat.startTime !== record.startTime ? [] : await sweep();
    if (swept.length > 0) {
      log.warn(
        { pgid: record.pgid, killed: swept.map((p) => ({ pid: p.pid, comm: p.comm })) },
        "processes of a previous bot's session outlived it: killed them; its task is cut",
      );
    } else {
      log.info({ pgid: record.pgid }, "the bot recorded by a previous supervisor is gone");
    }
    removeBotPidFile(path, record.pgid);
    return { found: false, killed: false, swept };
  }
  log.warn(
    { pgid: record.pgid, graceSeconds: graceMs / 1000 },
    "a bot left by a previous supervisor is still running; stopping it",
  );
  const sigtermAt = Date.now();
  try {
    process.kill(record.pgid, "SIGTERM");
  } catch {
    // Exited just now.
  }
  const deadline = Date.now() + graceMs;
  while (leaderAlive(record) && Date.now() < deadline) {
    await sleep(Math.min(100, Math.max(1, deadline - Date.now())));
  }
  const killed = leaderAlive(record);
  // Whatever it started (task runner, run_isolated, the task: each in a group of its own) goes with it.
  const swept = await sweep();
  if (killed) {
    const end = Date.now() + 5000;
    while (leaderAlive(record) && Date.now() < end) await sleep(50);
  }
  const sinceSigtermSeconds = Math.round((Date.now() - sigtermAt) / 100) / 10;
  if (killed) {
    log.warn(
      { pgid: record.pgid, sinceSigtermSeconds, killed: swept.map((p) => ({ pid: p.pid, comm: p.comm })) },
      swept.length > 0
        ? "shutdown grace ran out for the left-over bot: killed it and the processes of its session; its task is cut"
        : "the left-over bot had no task process but did not exit after SIGTERM within the grace: killed it",
    );
  } else if (swept.length > 0) {
    log.warn(
      { pgid: record.pgid, sinceSigtermSeconds, killed: swept.map((p) => ({ pid: p.pid, comm: p.comm })) },
      "the left-over bot stopped but processes of its session outlived it: killed them; its task is cut",
    );
  } else {
    log.info({ pgid: record.pgid, sinceSigtermSeconds }, "the left-over bot stopped");
  }
  removeBotPidFile(path, record.pgid);
  return { found: true, killed, swept, stopMs: Date.now() - sigtermAt };
}
