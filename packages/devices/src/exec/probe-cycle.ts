import type { Logger } from "@rpi-swarming/core";
import type { DeviceKind, DeviceProblem, DeviceReading, ProbeResult } from "../types.js";
import type { CommandRunner } from "./command-runner.js";

/** What one cycle of a tool-driven driver found. */
export interface ProbeOutcome {
  readonly device?: DeviceReading;
  readonly problem?: DeviceProblem;
}

export interface ProbeCycleOptions {
  readonly kind: DeviceKind;
  readonly runner: CommandRunner;
  readonly log: Logger;
  /** One pass over the device tools; may throw. */
  readonly cycle: () => Promise<ProbeOutcome>;
  /** Turns what `cycle` threw into a problem for people. */
  readonly problemFromError: (err: unknown) => DeviceProblem;
}

/**
 * The part of a probe that the adb and libimobiledevice drivers share:
 * timing, counting spawns, one run shared by concurrent callers (timer and
 * on-demand), and logging a lasting problem once at warn, then at debug, so a
 * missing phone does not flood the log.
 */
export class ProbeCycle {
  readonly #options: ProbeCycleOptions;
  #inflight: Promise<ProbeResult> | undefined;
  #lastProblem: string | undefined;

  constructor(options: ProbeCycleOptions) {
    this.#options = options;
  }

  run(): Promise<ProbeResult> {
    this.#inflight ??= this.#runOnce().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** Resolves when the probe under way (if any) has ended, however it ended. */
  async settled(): Promise<void> {
    await this.#inflight?.catch(() => undefined);
  }

  async #runOnce(): Promise<ProbeResult> {
    const { kind, runner, log, cycle, problemFromError } = this.#options;
    const spawnsBefore = runner.spawns;
    const started = performance.now();
    let outcome: ProbeOutcome;
    try {
      outcome = await cycle();
    } catch (err) {
      outcome = { problem: problemFromError(err) };
    }
    const result: ProbeResult = {
      kind,
      finishedAt: Date.now(),
      durationSeconds: (performance.now() - started) / 1000,
      spawns: runner.spawns - spawnsBefore,
      ...outcome,
    };
    const said = outcome.problem?.message;
    const level = said !== undefined && said !== this.#lastProblem ? "warn" : "debug";
    this.#lastProblem = said;
    log[level](
      { problem: outcome.problem, serial: outcome.device?.serial, spawns: result.spawns },
      outcome.problem ? `${kind} probe problem` : `${kind} probe ok`,
    );
    return result;
  }
}
