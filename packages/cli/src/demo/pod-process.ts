/**
 * One container of the local pod: a child process in its own process group,
 * its output appended to a log file, restarted after an unexpected exit (as
 * kubelet does with restartPolicy Always), stopped with SIGTERM then SIGKILL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { closeSync, openSync, readFileSync } from "node:fs";

export interface PodProcessSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly logFile: string;
  /** Restart after an exit nobody asked for; undefined = never. */
  readonly restartDelayMs?: number;
  /** Time between SIGTERM and SIGKILL when stopping. */
  readonly stopGraceMs: number;
}

export interface ExitRecord {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
}

export class PodProcess extends EventEmitter {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private exitedPromise: Promise<void> = Promise.resolve();
  readonly exits: ExitRecord[] = [];
  starts = 0;

  constructor(readonly spec: PodProcessSpec) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.running) return;
    this.stopping = false;
    const fd = openSync(this.spec.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(this.spec.command, [...this.spec.args], {
        cwd: this.spec.cwd,
        env: this.spec.env,
        stdio: ["ignore", fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    this.starts += 1;
    this.exitedPromise = new Promise<void>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        const record = { code, signal, at: Date.now() };
        this.exits.push(record);
        resolve();
        this.emit("exit", record);
        if (!this.stopping && this.spec.restartDelayMs !== undefined) {
          this.restartTimer = setTimeout(() => {
            this.restartTimer = undefined;
            if (!this.stopping) this.start();
          }, this.spec.restartDelayMs);
        }
      };
      child.once("error", (err) => {
        this.emit("spawn-error", err);
        done(null, null);
      });
      child.once("exit", done);
    });
    this.emit("start", child.pid);
  }

  /** Sends a signal to the process group (tests use SIGKILL to simulate a crash). */
  signal(signal: NodeJS.Signals): boolean {
    const pid = this.child?.pid;
    if (pid === undefined || !this.running) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Resolves when the current run has exited. */
  exited(): Promise<void> {
    return this.exitedPromise;
  }

  /** No restart after the next exit (nor a pending one). */
  stopWithoutRestart(): void {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  /** SIGTERM to the group, SIGKILL after the grace time; no restart afterwards. */
  async stop(): Promise<void> {
    this.stopWithoutRestart();
    const pid = this.child?.pid;
    if (pid === undefined) return;
    if (this.running) {
      this.signal("SIGTERM");
      const timer = setTimeout(() => this.signal("SIGKILL"), this.spec.stopGraceMs);
      await this.exitedPromise;
      clearTimeout(timer);
    }
    // Members of the group that outlived their leader.
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Group already empty.
    }
  }

  /** Last lines of the log, for error messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.spec.logFile, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log yet)";
    }
  }
}
