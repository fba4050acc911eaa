import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Logger } from "@rpi-swarming/core";
import { sleep } from "./backoff.js";
import { killSession, killSessionNow, type SessionProcess } from "./bot-session.js";

export interface BotProcessOptions {
  readonly python: string;
  readonly botDir: string;
  /** File name of the bot code in botDir. */
  readonly zipName: string;
  readonly botId: string;
  /** Put first on the bot's PATH (holds the image's sudo). */
  readonly sudoDir: string;
  readonly rebootRequestFile: string;
  /** Logger whose records carry component "bot". */
  readonly log: Logger;
}

export interface BotExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The process could not be started at all (e.g. python missing). */
  readonly spawnError?: Error;
  /**
   * Processes of the bot's session (the bot itself left out) that were still
   * running when it exited or when the grace ran out, and were killed: a task
   * that was cut. Empty when the bot left nothing behind.
   */
  readonly swept: readonly SessionProcess[];
  /** Set when terminate() stopped the bot. */
  readonly stop?: BotStop;
}

export interface BotStop {
  /** Date.now() when SIGTERM was sent. */
  readonly sigtermAt: number;
  /** Date.now() when the bot was gone (and its session empty). */
  readonly exitedAt: number;
  /** The grace ran out: the bot's whole session was SIGKILLed. */
  readonly graceExpired: boolean;
}

/**
 * One run of `python3 swarming_bot.zip start_bot` in a session of its own
 * (so session id = process group = its pid), its output turned into log
 * records line by line. When it exits, whatever is left in its session
 * (task runner, run_isolated, the task, each in their own group) is killed.
 */
export class BotProcess {
  readonly startedAt = Date.now();
  readonly exited: Promise<BotExit>;
  private readonly child: ChildProcess;
  private done = false;
  private sigtermAt: number | null = null;
  private graceExpired = false;
  private readonly swept = new Map<number, SessionProcess>();
  private readonly sweeps: Promise<void>[] = [];

  constructor(opts: BotProcessOptions) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SWARMING_BOT_ID: opts.botId,
      SWARMING_EXTERNAL_BOT_SETUP: "1",
      RPI_SWARMING_REBOOT_REQUEST_FILE: opts.rebootRequestFile,
      PATH: [opts.sudoDir, process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"].join(":"),
    };
    this.child = spawn(opts.python, [join(opts.botDir, opts.zipName), "start_bot"], {
      cwd: opts.botDir,
      env,
      // setsid(): its own session and process group, whose processes the supervisor can find and kill
      // (the bot puts each task process in a group of its own, but they stay in its session).
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = opts.log;
    for (const [name, stream] of [
      ["stdout", this.child.stdout],
      ["stderr", this.child.stderr],
    ] as const) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
        if (line.length > 0) log.info({ stream: name }, line);
      });
    }
    this.exited = new Promise<BotExit>((resolve) => {
      this.child.once("error", (err) => {
        if (this.child.pid === undefined) {
          this.done = true;
          resolve({ code: null, signal: null, spawnError: err, swept: [] });
        }
      });
      this.child.once("exit", (code, signal) => {
        this.done = true;
        // Whatever the bot started (task processes) goes with it.
        // After every sweep, the grace-end one included: `swept` must be complete.
        void this.sweep()
          .then(() => Promise.all(this.sweeps))
          .then(() => resolve(this.exitRecord(code, signal)));
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done && this.child.pid !== undefined;
  }

  /**
   * SIGTERM to the bot (it lets its task finish, then exits); after graceMs
   * SIGKILL to every process of its session, task processes included.
   */
  async terminate(graceMs: number): Promise<{ exit: BotExit; killed: boolean }> {
    if (!this.running) return { exit: await this.exited, killed: false };
    this.sigtermAt ??= Date.now();
    this.signal("SIGTERM");
    const cancel = new AbortController();
    const inTime = await Promise.race([this.exited.then(() => true), sleep(graceMs, cancel.signal).then(() => false)]);
    cancel.abort(); // no timer may outlive the bot: it would keep the process alive
    if (inTime) return { exit: await this.exited, killed: false };
    this.graceExpired = true;
    await this.sweep();
    return { exit: await this.exited, killed: true };
  }

  /** One pass of SIGKILL to every process of the bot's session, without waiting (emergency exit). */
  killSessionNow(): void {
    const pid = this.child.pid;
    if (pid !== undefined) killSessionNow(pid);
  }

  /** Kills every process of the bot's session until none is left; remembers what it killed. */
  private sweep(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return Promise.resolve();
    const done = killSession(pid).then(({ killed }) => {
      // The image's sudo that has just SIGKILLed the bot for a reboot request may not have exited
      // yet: it is killed too, but it is no task. (A task's `sudo cmd` runs as cmd, by exec.)
      for (const p of killed) if (p.pid !== pid && p.comm !== "sudo") this.swept.set(p.pid, p);
    });
    this.sweeps.push(done);
    return done;
  }

  private exitRecord(code: number | null, signal: NodeJS.Signals | null): BotExit {
    const swept = [...this.swept.values()];
    if (this.sigtermAt === null) return { code, signal, swept };
    return {
      code,
      signal,
      swept,
      stop: { sigtermAt: this.sigtermAt, exitedAt: Date.now(), graceExpired: this.graceExpired },
    };
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      this.child.kill(sig);
    } catch {
      // Already gone.
    }
  }
}
