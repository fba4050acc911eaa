import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Logger } from "@rpi-swarming/core";
import { sleep } from "./backoff.js";

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
}

/**
 * One run of `python3 swarming_bot.zip start_bot` in its own process group,
 * its output turned into log records line by line.
 */
export class BotProcess {
  readonly startedAt = Date.now();
  readonly exited: Promise<BotExit>;
  private readonly child: ChildProcess;
  private done = false;

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
      // Its own process group: the supervisor can SIGKILL the bot and every task it started at once.
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
          resolve({ code: null, signal: null, spawnError: err });
        }
      });
      this.child.once("exit", (code, signal) => {
        this.done = true;
        // Whatever the bot started (task processes) goes with it.
        this.killGroup();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done && this.child.pid !== undefined;
  }

  /** SIGTERM to the bot (it ends its task and exits), then SIGKILL to its group after graceMs. */
  async terminate(graceMs: number): Promise<{ exit: BotExit; killed: boolean }> {
    if (!this.running) return { exit: await this.exited, killed: false };
    this.signal("SIGTERM");
    const cancel = new AbortController();
    const inTime = await Promise.race([this.exited.then(() => true), sleep(graceMs, cancel.signal).then(() => false)]);
    cancel.abort(); // no timer may outlive the bot: it would keep the process alive
    if (inTime) return { exit: await this.exited, killed: false };
    this.killGroup();
    return { exit: await this.exited, killed: true };
  }

  /** SIGKILL to the bot's whole process group. */
  killGroup(): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      this.child.kill(sig);
    } catch {
      // Already gone.
    }
  }
}
