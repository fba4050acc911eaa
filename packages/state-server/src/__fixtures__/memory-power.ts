import type { PowerController, PowerTarget } from "@rpi-swarming/devices";

/** A power controller in memory: records each switch, can fail or stall switching off. */
export class MemoryPower implements PowerController {
  readonly kind = "command" as const;
  readonly calls: string[] = [];
  failOff = false;
  /** When set, switching off waits for it (a slow relay or plug). */
  offGate: Promise<void> | undefined;
  onOn: () => void = () => {};

  async off(target: PowerTarget): Promise<void> {
    this.calls.push(`off ${target.serial ?? ""}`);
    if (this.offGate) await this.offGate;
    if (this.failOff) throw new Error("relay board not answering");
  }

  async on(target: PowerTarget): Promise<void> {
    this.calls.push(`on ${target.serial ?? ""}`);
    this.onOn();
  }

  close(): void {}
}
