import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killSession, ownSessionId, sessionMembers } from "./bot-session.js";

const SESSION_BOT = resolve(import.meta.dirname, "__fixtures__/session_bot.py");
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) {
    for (const p of sessionMembers(c.pid as number)) process.kill(p.pid, "SIGKILL");
  }
});

interface Layout {
  bot: number;
  task_runner: number;
  run_isolated: number;
  command: number;
  sid: number;
}

/** The fixture bot in a session of its own (detached = setsid), its task running. */
async function sessionBot(env: Record<string, string> = {}): Promise<Layout> {
  const c = spawn("python3", [SESSION_BOT], {
    detached: true,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  children.push(c);
  return new Promise((r) =>
    c.stdout?.once("data", (d: Buffer) => r(JSON.parse(d.toString().split("\n")[0] as string))),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("bot session", () => {
  it("finds every process of the session, each in its own process group", async () => {
    const l = await sessionBot();
    expect(l.sid).toBe(l.bot);
    const members = sessionMembers(l.sid);
    expect(members.map((p) => p.pid).sort()).toEqual([l.bot, l.task_runner, l.run_isolated, l.command].sort());
    expect(new Set(members.map((p) => p.pgid)).size).toBe(4);
    // Only processes started no earlier than the given start time.
    const botStart = members.find((p) => p.pid === l.bot)?.startTime as string;
    expect(sessionMembers(l.sid, String(BigInt(botStart) + 1_000_000n))).toEqual([]);
  });

  it("killSession kills all of them, not only the bot's group", async () => {
    const l = await sessionBot();
    const { killed, left } = await killSession(l.sid);
    expect(left).toEqual([]);
    expect(killed.map((p) => p.pid).sort()).toEqual([l.bot, l.task_runner, l.run_isolated, l.command].sort());
    for (const pid of [l.bot, l.task_runner, l.run_isolated, l.command])
      expect(sessionMembers(l.sid)).not.toContain(pid);
    expect(sessionMembers(l.sid)).toEqual([]);
    expect(alive(l.command) ? sessionMembers(l.sid).length : 0).toBe(0);
  });

  it("never touches its own session or init's", async () => {
    const own = ownSessionId() as number;
    expect(own).toBeGreaterThan(0);
    expect(await killSession(own)).toEqual({ killed: [], left: [] });
    expect(await killSession(1)).toEqual({ killed: [], left: [] });
    expect(alive(process.pid)).toBe(true);
  });
});
