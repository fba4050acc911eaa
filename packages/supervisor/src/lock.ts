import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { LockedError } from "@rpi-swarming/core";

export interface HeldLock {
  readonly path: string;
  /** Pid of a dead holder whose lock was taken over, if any. */
  readonly tookOverFrom: number | null;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readHolder(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes a pid lock file with O_EXCL. A lock whose pid is dead (or unreadable)
 * is stale and is taken over; a live holder makes this throw LockedError.
 */
export function acquireLock(path: string, what: string): HeldLock {
  let tookOverFrom: number | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = readHolder(path);
      if (holder !== null && holder !== process.pid && alive(holder)) {
        throw new LockedError(
          `another supervisor (pid ${holder}) already runs ${what}; lock ${path}. Stop it first, or remove the lock if that pid is not a supervisor.`,
        );
      }
      tookOverFrom = holder ?? -1;
      try {
        unlinkSync(path);
      } catch (unlinkErr) {
        if ((unlinkErr as NodeJS.ErrnoException).code !== "ENOENT") throw unlinkErr;
      }
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return {
      path,
      tookOverFrom,
      release() {
        if (readHolder(path) === process.pid) {
          try {
            unlinkSync(path);
          } catch {
            // Already gone: nothing to release.
          }
        }
      },
    };
  }
  throw new LockedError(`lock ${path} keeps changing hands; another supervisor is starting at the same time`);
}
