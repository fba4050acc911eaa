import { spawn } from "node:child_process";
import { TimeoutError, ToolMissingError, UpstreamError } from "@rpi-swarming/core";

/** What a finished command printed and how it exited. */
export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
  readonly durationSeconds: number;
}

export interface CommandRunnerOptions {
  /** Time limit of one command unless the call names another. */
  readonly timeoutSeconds: number;
  /** Extra environment for every command (added to the process's own). */
  readonly env?: Readonly<Record<string, string>>;
  /** Output above this many bytes per stream fails the command. */
  readonly maxBufferBytes?: number;
}

export interface RunOptions {
  readonly timeoutSeconds?: number;
}

/** After killing a timed-out group, how long to wait for its pipes to close before cutting them. */
const PIPE_CLOSE_GRACE_MS = 1000;

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Runs external tools (adb, ideviceinfo...) with a time limit. Each command
 * runs in its own process group (detached) so that on timeout the whole group
 * is killed: a hung `adb shell` and anything it started never linger. Counts
 * spawns so drivers can report how many processes a probe cost.
 */
export class CommandRunner {
  #spawns = 0;
  readonly #running = new Set<number>();
  readonly #options: CommandRunnerOptions;
  readonly #maxBufferBytes: number;

  constructor(options: CommandRunnerOptions) {
    if (!(options.timeoutSeconds > 0)) throw new RangeError("timeoutSeconds must be positive");
    this.#options = options;
    this.#maxBufferBytes = options.maxBufferBytes ?? 8 * 1024 * 1024;
  }

  /** Processes spawned since this runner was made. */
  get spawns(): number {
    return this.#spawns;
  }

  /** Process group ids of commands still running. */
  get runningGroups(): readonly number[] {
    return [...this.#running];
  }

  /**
   * Runs `file args` and resolves with its output whatever its exit code.
   * Throws ToolMissingError when `file` does not exist, TimeoutError when the
   * time limit passed (the process group is then already killed), and
   * UpstreamError when it could not run or was killed by someone else.
   */
  async run(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandOutput> {
    const timeoutSeconds = options.timeoutSeconds ?? this.#options.timeoutSeconds;
    const started = performance.now();
    this.#spawns += 1;
    const child = spawn(file, args, {
      // Its own process group, so a timeout can kill the command and everything it started.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: this.#options.env ? { ...process.env, ...this.#options.env } : process.env,
    });
    const pgid = child.pid;
    const output = { stdout: new Output(this.#maxBufferBytes), stderr: new Output(this.#maxBufferBytes) };
    let timedOut = false;
    let overflowed = false;
    let timer: NodeJS.Timeout | undefined;
    let cutPipes: NodeJS.Timeout | undefined;
    for (const name of ["stdout", "stderr"] as const) {
      child[name].on("data", (chunk: Buffer) => {
        if (output[name].add(chunk) || overflowed) return;
        overflowed = true;
        if (pgid !== undefined) killGroup(pgid);
      });
    }
    if (pgid !== undefined) {
      this.#running.add(pgid);
      // Whatever the command left behind in its group (daemons leave by setsid) would hold our pipes: end it.
      child.once("exit", () => killGroup(pgid));
      timer = setTimeout(() => {
        timedOut = true;
        killGroup(pgid);
        // A process that left the group (e.g. a daemon) may still hold our pipes open.
        cutPipes = setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
        }, PIPE_CLOSE_GRACE_MS);
      }, timeoutSeconds * 1000);
    }
    // "close" comes after the exit and the end of both pipes; a command that could not start has no pid and no exit.
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
      (resolve) => {
        let spawnError: Error | undefined;
        child.once("error", (error) => {
          spawnError = error;
          if (child.pid === undefined) resolve({ code: null, signal: null, error });
        });
        child.once("close", (code, signal) => resolve({ code, signal, ...(spawnError ? { error: spawnError } : {}) }));
      },
    );
    clearTimeout(timer);
    clearTimeout(cutPipes);
    if (pgid !== undefined) this.#running.delete(pgid);
    const command = [file, ...args].join(" ");
    const errorCode = (ended.error as NodeJS.ErrnoException | undefined)?.code;
    if (errorCode === "ENOENT") throw new ToolMissingError(file, { cause: ended.error });
    if (timedOut) {
      throw new TimeoutError(
        `\`${shorten(command)}\` did not finish within ${timeoutSeconds} s; its process group was killed`,
      );
    }
    if (overflowed) {
      throw new UpstreamError(
        `\`${shorten(command)}\` printed more than ${this.#maxBufferBytes} bytes on one stream; its output is not used`,
      );
    }
    if (ended.code === null || ended.error) {
      const why = ended.signal ? `was killed by ${ended.signal}` : `could not run (${errorCode ?? "unknown error"})`;
      throw new UpstreamError(`\`${shorten(command)}\` ${why}`, { cause: ended.error });
    }
    return {
      stdout: output.stdout.text(),
      stderr: output.stderr.text(),
      exitCode: ended.code,
      durationSeconds: (performance.now() - started) / 1000,
    };
  }

  /** Kills every command still running (whole groups); for shutdown. */
  killAll(): void {
    for (const pgid of this.#running) killGroup(pgid);
  }
}

/** One stream's output, up to a limit; decoded as UTF-8 once complete (a character may span chunks). */
class Output {
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  constructor(readonly limit: number) {}

  /** Keeps `chunk`; false once the stream passed the limit (nothing more is kept). */
  add(chunk: Buffer): boolean {
    this.#bytes += chunk.length;
    if (this.#bytes > this.limit) return false;
    this.#chunks.push(chunk);
    return true;
  }

  text(): string {
    return Buffer.concat(this.#chunks).toString("utf8");
  }
}

/** Keeps error messages readable when a command carries a long shell script. */
function shorten(command: string): string {
  return command.length > 120 ? `${command.slice(0, 117)}...` : command;
}
