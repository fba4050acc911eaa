import type { DeviceDriver, ProbeResult } from "../types.js";

/** A host without a device: nothing to probe, nothing to recover; the bot reports host dimensions only. */
export class NoneDriver implements DeviceDriver {
  readonly kind = "none" as const;

  async probe(): Promise<ProbeResult> {
    return { kind: "none", finishedAt: Date.now(), durationSeconds: 0, spawns: 0 };
  }

  async recover(): Promise<void> {
    // No device, so no step can help; the monitor never asks because a none probe has no problem.
  }

  async close(): Promise<void> {}
}
