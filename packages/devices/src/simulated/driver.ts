import type { Server } from "node:http";
import { type Logger, NotSupportedError, UpstreamError } from "@rpi-swarming/core";
import { readAndroidDevice } from "../android/device-reading.js";
import type { DeviceDriver, DeviceProblem, ProbeResult, RecoveryAction } from "../types.js";
import { startControlServer } from "./control.js";
import type { SimulatedOptions } from "./options.js";
import { SimulatedPhone } from "./phone.js";

export interface SimulatedDriverOptions {
  readonly options: SimulatedOptions;
  /** Port of the loopback control interface; 0 picks a free one; null starts none (unit tests). */
  readonly controlPort: number | null;
  readonly commandTimeoutSeconds: number;
  readonly log: Logger;
  readonly now?: () => number;
}

/**
 * Driver over a SimulatedPhone. It behaves like the android driver from the
 * outside (same dimensions, same problems, a hung phone costs the full
 * command timeout) but spawns nothing.
 */
export class SimulatedDriver implements DeviceDriver {
  readonly kind = "simulated" as const;
  readonly phone: SimulatedPhone;
  private readonly log: Logger;
  private server: Server | undefined;
  private readonly pendingTimers = new Set<{ timer: NodeJS.Timeout; done: () => void }>();
  controlUrl: string | undefined;

  private constructor(private readonly opts: SimulatedDriverOptions) {
    this.phone = new SimulatedPhone(opts.options, opts.now);
    this.log = opts.log.child({ component: "simulated-device", simulated: true, serial: opts.options.serial });
  }

  static async start(opts: SimulatedDriverOptions): Promise<SimulatedDriver> {
    const driver = new SimulatedDriver(opts);
    if (opts.controlPort !== null) {
      const { server, url } = await startControlServer(driver.phone, "127.0.0.1", opts.controlPort, driver.log);
      driver.server = server;
      driver.controlUrl = url;
    }
    driver.log.warn({ controlUrl: driver.controlUrl }, "SIMULATED device in use: no real phone is attached");
    return driver;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Waits like a hung adb call until its time limit; close() cuts the wait short. */
  private waitTimeout(): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.pendingTimers.delete(entry);
          resolve();
        }, this.opts.commandTimeoutSeconds * 1000),
        done: resolve,
      };
      this.pendingTimers.add(entry);
    });
  }

  async probe(): Promise<ProbeResult> {
    const started = this.now();
    const serial = this.opts.options.serial;
    const c = this.phone.condition();
    const finish = (rest: Partial<ProbeResult>): ProbeResult => {
      const finishedAt = this.now();
      return {
        kind: "simulated",
        simulated: true,
        spawns: 0,
        finishedAt,
        durationSeconds: (finishedAt - started) / 1000,
        ...rest,
      };
    };
    const problem = (code: DeviceProblem["code"], message: string, timedOut = false): ProbeResult =>
      finish({ problem: { code, message: `${message} [simulated]`, serial, ...(timedOut ? { timedOut } : {}) } });

    if (c.unplugged || c.rebooting)
      return problem(
        "device_missing",
        `Android device ${serial} is not attached${c.rebooting ? " (rebooting)" : ""}; check its USB cable and power`,
      );
    if (c.unauthorized)
      return problem(
        "unauthorized",
        `Android device ${serial} is unauthorized: accept the USB debugging prompt on the phone or install the lab's adb key`,
      );
    if (c.offline)
      return problem("offline", `Android device ${serial} is offline; replug it or run adb reconnect offline`);
    if (c.hung) {
      await this.waitTimeout();
      return problem(
        "probe_failed",
        `Android device ${serial} did not answer within ${this.opts.commandTimeoutSeconds} s; the hung command was killed`,
        true,
      );
    }
    // The phone prints what a real one prints; the android driver's parsers and dimension rules read it.
    const read = readAndroidDevice({ serial, state: "device", info: {} }, this.phone.probeOutput(c));
    if (!read.device) return finish(read.problem ? { problem: read.problem } : {});
    return finish({ device: { ...read.device, extra: { ...read.device.extra, simulated: true } } });
  }

  async recover(action: RecoveryAction): Promise<void> {
    const c = this.phone.condition();
    this.log.info({ action, condition: c }, "simulated recovery step");
    if (action === "power_cycle")
      throw new NotSupportedError("a power cycle is done by the power controller (powerController), not the driver");
    if (action === "reconnect" || action === "restart_server") {
      this.phone.reconnect();
      return;
    }
    if (c.unplugged || c.rebooting)
      throw new UpstreamError(`cannot reboot simulated device ${c.serial}: it is not attached`);
    if (c.unauthorized) throw new UpstreamError(`cannot reboot simulated device ${c.serial}: it is unauthorized`);
    this.phone.reboot();
  }

  async close(): Promise<void> {
    for (const entry of this.pendingTimers) {
      clearTimeout(entry.timer);
      entry.done();
    }
    this.pendingTimers.clear();
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  }
}
