import { TimeoutError, ToolMissingError, UpstreamError } from "@rpi-swarming/core";
import { execa } from "execa";

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
    const subprocess = execa(file, args, {
      detached: true,
      // Detached processes are not killed on our exit by execa; kill() below and killAll() do that.
      cleanup: false,
      reject: false,
      stdin: "ignore",
      env: this.#options.env,
      extendEnv: true,
      stripFinalNewline: false,
      forceKillAfterDelay: false,
      maxBuffer: this.#maxBufferBytes,
    });
    const pgid = subprocess.pid;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let cutPipes: NodeJS.Timeout | undefined;
    if (pgid !== undefined) {
      this.#running.add(pgid);
      // Whatever the command left behind in its group (daemons leave by setsid) would hold our pipes: end it.
      subprocess.once("exit", () => killGroup(pgid));
      timer = setTimeout(() => {
        timedOut = true;
        killGroup(pgid);
        // A process that left the group (e.g. a daemon) may still hold our pipes open.
        cutPipes = setTimeout(() => {
          subprocess.stdout?.destroy();
          subprocess.stderr?.destroy();
        }, PIPE_CLOSE_GRACE_MS);
      }, timeoutSeconds * 1000);
    }
    const result = await subprocess;
    clearTimeout(timer);
    clearTimeout(cutPipes);
    if (pgid !== undefined) this.#running.delete(pgid);
    const command = [file, ...args].join(" ");
    if (result.code === "ENOENT") throw new ToolMissingError(file, { cause: result.cause });
    if (timedOut) {
      throw new TimeoutError(
        `\`${shorten(command)}\` did not finish within ${timeoutSeconds} s; its process group was killed`,
      );
    }
    if (result.isMaxBuffer) {
      throw new UpstreamError(
        `\`${shorten(command)}\` printed more than ${this.#maxBufferBytes} bytes on one stream; its output is not used`,
      );
    }
    if (result.exitCode === undefined) {
      const why = result.signal
        ? `was killed by ${result.signal}`
        : `could not run (${result.code ?? "unknown error"})`;
      throw new UpstreamError(`\`${shorten(command)}\` ${why}`, { cause: result.cause });
    }
    return {
      stdout: String(result.stdout ?? ""),
      stderr: String(result.stderr ?? ""),
      exitCode: result.exitCode,
      durationSeconds: (performance.now() - started) / 1000,
    };
  }

  /** Kills every command still running (whole groups); for shutdown. */
  killAll(): void {
    for (const pgid of this.#running) killGroup(pgid);
  }
}

/** Keeps error messages readable when a command carries a long shell script. */
function shorten(command: string): string {
  return command.length > 120 ? `${command.slice(0, 117)}...` : command;
}
