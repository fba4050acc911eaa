import type { PowerTarget } from "../types.js";

/** The `powerController` setting: how the device's power is cut and restored. */
export type PowerControllerKind = "none" | "uhubctl" | "command" | "http";

/**
 * Switches the power of one device's USB port, plug or PoE port. Both calls
 * throw a domain error when the switch did not happen; neither logs secrets.
 */
export interface PowerController {
  readonly kind: Exclude<PowerControllerKind, "none">;
  off(target: PowerTarget): Promise<void>;
  on(target: PowerTarget): Promise<void>;
  /** Frees what the controller holds (running commands). */
  close(): void;
}
