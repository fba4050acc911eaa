import type { Logger } from "@rpi-swarming/core";
import {
  type PowerController,
  type PowerCycleLimits,
  type PowerCycleRefusal,
  type PowerTarget,
  powerCycle,
  powerCycleRefusal,
} from "@rpi-swarming/devices";
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
}

/**
 * Runs power cycles of the one device and keeps when they happened, for the
 * cap and cool-down (in memory: a restarted state server starts afresh, and
 * the alert on the counter still sees every cycle).
 */
export class PowerCycler {
  readonly #opts: PowerCyclerOptions;
  readonly #history: number[] = [];
  #running = false;

  constructor(opts: PowerCyclerOptions) {
    this.#opts = opts;
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
    // Keep a day at most: the cap looks at one hour.
    while (this.#history.length > 0 && (this.#history[0] ?? 0) < this.#opts.now() - 86_400_000) this.#history.shift();
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
