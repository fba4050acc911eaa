import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killSession, ownSessionId, sessionMembers } from "./bot-session.js";

const SESSION_BOT = resolve(import.meta.dirname, "__fixtures__/session_bot.py");
const OWN_SESSION_PROBE = resolve(import.meta.dirname, "__fixtures__/own-session-probe.ts");
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
    // A session leader of its own, so the guard against killing our own
    // session is exercised even where this runner's session id reads 0 (its
    // leader is outside the PID namespace, as in CI containers).
    const c = spawn(process.execPath, ["--conditions=source", "--import", "tsx", OWN_SESSION_PROBE], {
      detached: true,
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(c);
    let out = "";
    c.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    // "close": after stdout has been read to its end.
    const code = await new Promise<number | null>((r) => c.once("close", r));
    expect(code).toBe(0);
    const probe = JSON.parse(out) as { pid: number; own: number; ownKill: unknown; initKill: unknown };
    expect(probe.own).toBe(probe.pid);
    expect(probe.ownKill).toEqual({ killed: [], left: [] });
    expect(probe.initKill).toEqual({ killed: [], left: [] });
    // And in this process, whatever its session id reads.
    const own = ownSessionId();
    expect(own).not.toBeNull();
    expect(await killSession(own as number)).toEqual({ killed: [], left: [] });
    expect(alive(process.pid)).toBe(true);
  });
});
