import { randomBytes } from "node:crypto";
import {
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { LockedError } from "@rpi-swarming/core";
import { sleep } from "./backoff.js";
import { ownPidNamespace, readProcStat } from "./bot-pid-file.js";

/**
 * The supervisor lock of a bot directory: `<botDir>.lock/`, beside the bot
 * directory (the bot deletes unknown entries inside it) and keyed on its real
 * path, whatever --shared-dir says.
 *
 * The directory holds numbered generation files, each written whole (a temp
 * file hard-linked in: link() fails if the name exists) and naming its owner.
 * The highest number is the lock. A holder that is dead or released lets the
 * next one create number + 1; of racers only one link() can win, and the
 * highest file is never deleted (released locks are marked, not removed), so
 * a racer that judged an old holder dead can never replace a newer one: it
 * finds the newer number and backs off. Only numbers below one's own are
 * cleaned up.
 */

export interface HeldLock {
  /** The lock directory. */
  readonly path: string;
  /** Pid of a dead holder whose lock was taken over (-1 when its record was unreadable), else null. */
  readonly tookOverFrom: number | null;
  release(): void;
}

export interface LockOptions {
  /**
   * A holder whose pid this process cannot check (another pid namespace, e.g.
   * another pod on a shared hostPath, or another boot) counts as alive while
   * it refreshed its file within this time.
   */
  readonly staleMs?: number;
  /** Called when this holder finds its lock gone or taken (someone judged it dead). */
  readonly onLost?: (message: string) => void;
  /** Called once when acquiring waits for a holder in another pid namespace (e.g. after a container restart). */
  readonly onWait?: (message: string) => void;
}

interface Owner {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: tells the holder from a later process with its pid. */
  readonly startTime: string;
  /** `readlink /proc/self/ns/pid` of the holder: its pid means something only in the same namespace. */
  readonly pidNs: string;
  readonly bootId: string;
  readonly token: string;
  readonly released?: boolean;
}

const DEFAULT_STALE_MS = 30_000;
const MAX_ATTEMPTS = 100;
const GEN = /^\d+$/;

/** `<real path of botDir>.lock`; botDir must exist. */
export function lockDirFor(botDir: string): string {
  return `${realpathSync(botDir).replace(/\/+$/, "")}.lock`;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

function ownIdentity(token: string): Owner {
  return {
    pid: process.pid,
    startTime: readProcStat(process.pid)?.startTime ?? "",
    // "" without /proc: every other holder is then judged by its heartbeat.
    pidNs: ownPidNamespace(),
    bootId: readText("/proc/sys/kernel/random/boot_id"),
    token,
  };
}

function generations(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return []; // removed by hand
  }
  return names
    .filter((n) => GEN.test(n))
    .map(Number)
    .sort((a, b) => b - a);
}

interface Top {
  readonly gen: number;
  /** Null when the file is not a record of ours (taken over as stale). */
  readonly owner: Owner | null;
  readonly mtimeMs: number;
}

function readTop(dir: string): Top | null {
  for (const gen of generations(dir)) {
    const path = join(dir, String(gen));
    let text: string;
    let mtimeMs: number;
    try {
      text = readFileSync(path, "utf8");
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      continue; // cleaned up by a newer holder meanwhile: a higher number exists
    }
    let owner: Owner | null = null;
    try {
      const o = JSON.parse(text) as Partial<Owner>;
      if (Number.isInteger(o.pid) && typeof o.token === "string") owner = o as Owner;
    } catch {
      // Not ours: stale.
    }
    return { gen, owner, mtimeMs };
  }
  return null;
}

type Verdict = "alive" | "alive-remote" | "stale";

function judge(top: Top, me: Owner, staleMs: number): Verdict {
  const o = top.owner;
  if (!o || o.released) return "stale";
  if (o.pidNs !== me.pidNs || o.bootId !== me.bootId || !me.pidNs) {
    return Date.now() - top.mtimeMs < staleMs ? "alive-remote" : "stale";
  }
  const stat = readProcStat(o.pid);
  return stat !== null && stat.state !== "Z" && stat.startTime === o.startTime ? "alive" : "stale";
}

function writeTemp(dir: string, owner: Owner): string {
  const tmp = join(dir, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  writeFileSync(tmp, `${JSON.stringify(owner)}\n`, { mode: 0o644 });
  return tmp;
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** Temp files of writers that died between write and link, and generations below ours. */
function cleanUp(dir: string, ours: number): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (GEN.test(name) && Number(name) < ours) unlinkQuiet(path);
    else if (name.startsWith(".tmp-")) {
      try {
        if (Date.now() - statSync(path).mtimeMs > 60_000) unlinkQuiet(path);
      } catch {
        // Gone.
      }
    }
  }
}

/**
 * Takes the supervisor lock of botDir. A live holder makes this throw
 * LockedError naming its pid; a holder in another pid namespace is given
 * staleMs to show it is gone. A dead or released holder is replaced.
 */
export async function acquireLock(botDir: string, what: string, options: LockOptions = {}): Promise<HeldLock> {
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const dir = lockDirFor(botDir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (!statSync(dir).isDirectory()) throw new Error("not a directory");
  } catch (err) {
    throw new LockedError(`cannot use ${dir} as the supervisor lock of ${what}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const me = ownIdentity(randomBytes(12).toString("hex"));
  const waitEnd = Date.now() + staleMs + 1000;
  let tookOverFrom: number | null = null;
  let waited = false;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const top = readTop(dir);
    if (top) {
      const verdict = judge(top, me, staleMs);
      if (verdict === "alive-remote" && Date.now() < waitEnd) {
        // Its pid is not ours to check: wait for its heartbeat to stop (or not).
        if (!waited)
          options.onWait?.(
            `lock ${dir} is held by pid ${top.owner?.pid} of another pid namespace (a previous container?): waiting up to ${Math.ceil(staleMs / 1000)} s for its heartbeat to stop`,
          );
        waited = true;
        await sleep(Math.min(1000, staleMs / 4));
        attempt -= 1;
        continue;
      }
      if (verdict !== "stale") {
        const who = verdict === "alive" ? `pid ${top.owner?.pid}` : `pid ${top.owner?.pid} in another pid namespace`;
        throw new LockedError(
          `another supervisor (${who}) already runs ${what}; lock ${dir}. Stop it first, or remove the lock if that pid is not a supervisor.`,
        );
      }
      tookOverFrom = top.owner?.released ? null : (top.owner?.pid ?? -1);
    }
    const gen = (top?.gen ?? 0) + 1;
    const path = join(dir, String(gen));
    const tmp = writeTemp(dir, me);
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      continue; // another racer won this number: look at it
    } finally {
      unlinkQuiet(tmp);
    }
    // We judged an old holder; a newer number means our judgement came too late.
    if ((generations(dir)[0] ?? 0) !== gen) {
      unlinkQuiet(path);
      continue;
    }
    cleanUp(dir, gen);
    return holdLock(dir, path, me, tookOverFrom, staleMs, options.onLost);
  }
  throw new LockedError(`lock ${dir} keeps changing hands; another supervisor is starting at the same time`);
}

function holdLock(
  dir: string,
  path: string,
  me: Owner,
  tookOverFrom: number | null,
  staleMs: number,
  onLost: ((message: string) => void) | undefined,
): HeldLock {
  const stillOurs = (): boolean => {
    const top = readTop(dir);
    return top !== null && join(dir, String(top.gen)) === path && top.owner?.token === me.token;
  };
  let lost = false;
  // The heartbeat lets holders in other pid namespaces see this one is alive.
  const heartbeat = setInterval(
    () => {
      if (lost) return;
      if (!stillOurs()) {
        lost = true;
        onLost?.(`supervisor lock ${dir} was taken over or removed by someone else`);
        return;
      }
      try {
        const now = new Date();
        utimesSync(path, now, now);
      } catch {
        // Judged at the next beat.
      }
    },
    Math.max(100, Math.floor(staleMs / 3)),
  );
  heartbeat.unref();
  return {
    path: dir,
    tookOverFrom,
    release() {
      clearInterval(heartbeat);
      if (lost || !stillOurs()) return;
      // Marked, never deleted: the highest number must stay (see the top of this file).
      let tmp: string | null = null;
      try {
        tmp = writeTemp(dir, { ...me, released: true });
        renameSync(tmp, path);
      } catch {
        // Lock dir removed meanwhile: nothing left to release. Our pid's death releases it anyway.
        if (tmp) unlinkQuiet(tmp);
      }
    },
  };
}
