/**
 * Child processes started by the Prometheus end-to-end test: free ports, log
 * files for diagnosis, and stopping with SIGTERM then SIGKILL so nothing is
 * left behind even when a test fails.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";

export { freePort } from "@rpi-swarming/core/test-support";

export interface Spawned {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves when the process has exited (code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** Last lines of its combined stdout/stderr, for failure messages. */
  logTail(lines?: number): string;
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Spawned>();
let exitHookInstalled = false;

/** Last resort when the test runner exits without running afterAll: kill what is still alive. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const p of live) killGroup(p.child, "SIGKILL");
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // Negative pid: the whole process group (the child runs detached as a group leader).
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

/** Starts a command in its own process group, logging stdout and stderr to `logFile`. */
export function spawnLogged(
  name: string,
  command: string,
  args: readonly string[],
  options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Spawned {
  installExitHook();
  const log = createWriteStream(options.logFile, { flags: "a" });
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("error", (err) => {
      running = false;
      log.write(`\n[harness] could not start ${command}: ${err.message}\n`);
      resolve({ code: null, signal: null });
    });
    child.once("exit", (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  const spawned: Spawned = {
    name,
    child,
    logFile: options.logFile,
    exited,
    isRunning: () => running,
    logTail(lines = 40) {
      try {
        return readFileSync(options.logFile, "utf8").split("\n").slice(-lines).join("\n");
      } catch {
        return "(no log)";
      }
    },
    async stop(graceMs = 10_000) {
      if (running) {
        killGroup(child, "SIGTERM");
        const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Children of the group leader that outlived it.
      killGroup(child, "SIGKILL");
      live.delete(spawned);
      await new Promise<void>((resolve) => log.end(resolve));
    },
  };
  live.add(spawned);
  return spawned;
}
