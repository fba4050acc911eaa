import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import type { Logger } from "@rpi-swarming/core";
import {
  type PowerController,
  type PowerCycleLimits,
  type PowerCycleRefusal,
  type PowerTarget,
  powerCycle,
  powerCycleRefusal,
} from "@rpi-swarming/devices";
import * as z from "zod/mini";
import type { StateServerMetrics } from "./metrics.js";

/** The `result` label of rpi_swarming_device_power_cycles_total. */
export type PowerCycleResult = "ok" | "failed" | PowerCycleRefusal["reason"] | "task_running";

export interface PowerCyclerOptions {
  readonly controller: PowerController;
  readonly offSeconds: number;
  /** How long the device may take to answer after the power returns. */
  readonly settleSeconds: number;
  readonly limits: PowerCycleLimits;
  readonly metrics: StateServerMetrics;
  readonly log: Logger;
  readonly now: () => number;
  /**
   * Where the start times are kept (in the shared dir), so the cap and the
   * cool-down outlive a restart of the state server; unset: in memory only.
   */
  readonly historyFile?: string | undefined;
}

/** The history file's name in the shared dir. */
export const POWER_CYCLE_HISTORY_FILE = "power-cycles.json";

/** The cap looks at one hour, the cool-down at less: a day is plenty. */
const KEEP_MS = 86_400_000;

/** The history file: start times in ms since the epoch. */
const historyFileSchema = z.object({ started: z.array(z.number()) });

/**
 * Runs power cycles of the one device and keeps when they happened, for the
 * cap and cool-down: in the history file when there is one (a crash-looping
 * state server must not power-cycle the phone on every start), else in memory.
 */
export class PowerCycler {
  readonly #opts: PowerCyclerOptions;
  readonly #history: number[] = [];
  #running = false;

  constructor(opts: PowerCyclerOptions) {
    this.#opts = opts;
    this.#history.push(...this.#load());
  }

  /** Start times from the history file, within the last day; none when it is missing or unreadable. */
  #load(): number[] {
    const file = this.#opts.historyFile;
    if (!file) return [];
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        this.#opts.log.warn({ file, message: (err as Error).message }, "cannot read the power-cycle history");
      return [];
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const history = historyFileSchema.safeParse(json);
    if (!history.success) {
      this.#opts.log.warn({ file }, "the power-cycle history is malformed: the cap and cool-down start afresh");
      return [];
    }
    const since = this.#opts.now() - KEEP_MS;
    const kept = history.data.started.filter((t) => t >= since).sort((a, b) => a - b);
    if (kept.length > 0) this.#opts.log.info({ file, cycles: kept.length }, "power-cycle history read");
    return kept;
  }

  /** Writes the history file (atomically); a failure is logged, and the cycle goes on. */
  async #save(): Promise<void> {
    const file = this.#opts.historyFile;
    if (!file) return;
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, `${JSON.stringify({ started: this.#history })}\n`);
      await rename(tmp, file);
    } catch (err) {
      this.#opts.log.warn({ file, message: (err as Error).message }, "cannot keep the power-cycle history");
    }
  }

  get offSeconds(): number {
    return this.#opts.offSeconds;
  }

  get settleSeconds(): number {
    return this.#opts.settleSeconds;
  }

  get limits(): PowerCycleLimits {
    return this.#opts.limits;
  }

  /** When earlier power cycles started (ms since the epoch). */
  get history(): readonly number[] {
    return this.#history;
  }

  /** A power cycle is switching the power right now. */
  get running(): boolean {
    return this.#running;
  }

  /** Why the limits hold a power cycle back now; undefined when they allow one. */
  refusal(): PowerCycleRefusal | undefined {
    return powerCycleRefusal(this.#opts.limits, this.#history, this.#opts.now());
  }

  /** Counts a power cycle that was not done (capped, cooling down, a task running). */
  countRefused(result: Exclude<PowerCycleResult, "ok" | "failed">): void {
    this.#opts.metrics.powerCycles.inc({ result });
  }

  /** Off, offSeconds, on; counted ok or failed. Throws the controller's error. */
  async cycle(target: PowerTarget, cause: "recovery" | "requested"): Promise<void> {
    const { controller, log, metrics } = this.#opts;
    this.#running = true;
    this.#history.push(this.#opts.now());
    while (this.#history.length > 0 && (this.#history[0] ?? 0) < this.#opts.now() - KEEP_MS) this.#history.shift();
    // Before switching: a state server killed mid-cycle still counts this one after its restart.
    await this.#save();
    log.warn(
      { cause, controller: controller.kind, target, offSeconds: this.#opts.offSeconds },
      "power-cycling the device",
    );
    try {
      await powerCycle(controller, target, this.#opts.offSeconds);
      metrics.powerCycles.inc({ result: "ok" });
      log.info({ cause, controller: controller.kind }, "device power restored");
    } catch (err) {
      metrics.powerCycles.inc({ result: "failed" });
      log.error({ cause, controller: controller.kind, err }, "power cycle failed");
      throw err;
    } finally {
      this.#running = false;
    }
  }

  close(): void {
    this.#opts.controller.close();
  }
}
