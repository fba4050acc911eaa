import { readdirSync, readFileSync } from "node:fs";
import { sleep } from "./backoff.js";

/**
 * The bot's session. The supervisor starts the bot as a session leader
 * (setsid: session id = its pid). The real bot starts its task runner,
 * run_isolated and the task command each in a process group of its own, all
 * in that session: killing the bot's group leaves them running as orphans;
 * killing every process of the session does not.
 */

/** One live process of a session (from /proc/<pid>/stat). */
export interface SessionProcess {
  readonly pid: number;
  readonly pgid: number;
  /** Command name (field 2, at most 15 characters). */
  readonly comm: string;
  /** Field 22, clock ticks since boot. */
  readonly startTime: string;
}

interface Stat extends SessionProcess {
  readonly state: string;
  readonly sid: number;
}

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  // Fields after the command name: [0] state (3), [2] pgrp (5), [3] session (6), [19] starttime (22).
  const f = text.slice(close + 2).split(" ");
  const state = f[0] ?? "";
  const pgid = Number(f[2]);
  const sid = Number(f[3]);
  const startTime = f[19] ?? "";
  if (!state || !Number.isInteger(sid) || !/^\d+$/.test(startTime)) return null;
  return { pid, pgid, sid, state, startTime, comm: text.slice(open + 1, close) };
}

/** Session id of this process (field 6 of /proc/self/stat); null without /proc. */
export function ownSessionId(): number | null {
  return readStat(process.pid)?.sid ?? null;
}

/**
 * Live processes (zombies left out: they are dead, their parent or init reaps
 * them) whose session id is sid, started no earlier than notBefore (clock
 * ticks) if given.
 */
export function sessionMembers(sid: number, notBefore?: string): SessionProcess[] {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  const out: SessionProcess[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (!s || s.sid !== sid || s.state === "Z" || s.state === "X") continue;
    if (notBefore !== undefined && BigInt(s.startTime) < BigInt(notBefore)) continue;
    out.push({ pid: s.pid, pgid: s.pgid, comm: s.comm, startTime: s.startTime });
  }
  return out;
}

export interface SessionKill {
  /** Every process that was sent SIGKILL (each once). */
  readonly killed: readonly SessionProcess[];
  /** Processes still alive when timeoutMs ran out (none, normally). */
  readonly left: readonly SessionProcess[];
}

function sigkill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // ESRCH: gone meanwhile.
  }
}

function guard(sid: number): boolean {
  // Never our own session (or init's): that would take the supervisor down.
  return Number.isInteger(sid) && sid > 1 && sid !== ownSessionId();
}

/** One pass of SIGKILL to every process of the session, without waiting (for emergency exits). */
export function killSessionNow(sid: number, notBefore?: string): SessionProcess[] {
  if (!guard(sid)) return [];
  const members = sessionMembers(sid, notBefore);
  for (const p of members) sigkill(p.pid);
  return members;
}

/**
 * SIGKILLs every process of session sid, again and again (a process may fork
 * between a listing and the kill), until none is left or timeoutMs passes.
 */
export async function killSession(
  sid: number,
  options: { notBefore?: string; timeoutMs?: number } = {},
): Promise<SessionKill> {
  const killed = new Map<string, SessionProcess>();
  if (!guard(sid)) return { killed: [], left: [] };
  const end = Date.now() + (options.timeoutMs ?? 5000);
  for (;;) {
    const members = sessionMembers(sid, options.notBefore);
    if (members.length === 0) return { killed: [...killed.values()], left: [] };
    for (const p of members) {
      killed.set(`${p.pid}:${p.startTime}`, p);
      sigkill(p.pid);
    }
    if (Date.now() >= end) return { killed: [...killed.values()], left: members };
    await sleep(20);
  }
}
