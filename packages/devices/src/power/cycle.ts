import { setTimeout as sleep } from "node:timers/promises";
import type { PowerTarget } from "../types.js";
import type { PowerController } from "./types.js";

/**
 * Power off, wait offSeconds, power on. When switching off fails the power
 * is still switched on (the off may have half-worked), and the off error is
 * what the caller gets.
 */
export async function powerCycle(controller: PowerController, target: PowerTarget, offSeconds: number): Promise<void> {
  try {
    await controller.off(target);
  } catch (err) {
    await controller.on(target).catch(() => undefined);
    throw err;
  }
  await sleep(offSeconds * 1000);
  await controller.on(target);
}
