import { ConfigError, type Logger, NotFoundError, UpstreamError } from "@rpi-swarming/core";
import { CommandRunner } from "../exec/command-runner.js";
import type { PowerTarget } from "../types.js";
import type { PowerController } from "./types.js";
import { parseUhubctl } from "./uhubctl-output.js";
import { type HubPort, hubPortOfUsbPath } from "./usb-location.js";

export interface UhubctlOptions {
  /** uhubctl binary: a name on PATH or a path. */
  readonly path: string;
  /** Hub location and port given by the operator; otherwise found from the device. */
  readonly hubLocation?: string | undefined;
  readonly hubPort?: number | undefined;
  /** The hub switches all its ports together: uhubctl needs -f (force) to act on it. */
  readonly ganged: boolean;
  readonly timeoutSeconds: number;
  readonly log: Logger;
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Power through uhubctl (USB hubs with per-port power switching, and the
 * Raspberry Pi's own ports, which are ganged). The port comes from the
 * settings, or from the USB path adb prints, or for a device without one
 * (iOS) from `uhubctl -s <serial>`, which finds the port a device with that
 * USB serial number sits on; the last port found is remembered because a
 * device without power cannot be searched for.
 */
export class UhubctlController implements PowerController {
  readonly kind = "uhubctl";
  readonly #options: UhubctlOptions;
  readonly #runner: CommandRunner;
  readonly #found = new Map<string, HubPort>();

  constructor(options: UhubctlOptions) {
    if ((options.hubLocation === undefined) !== (options.hubPort === undefined))
      throw new ConfigError("powerHubLocation and powerHubPort: give both or neither");
    this.#options = options;
    this.#runner = new CommandRunner({
      timeoutSeconds: options.timeoutSeconds,
      ...(options.env ? { env: options.env } : {}),
    });
  }

  off(target: PowerTarget): Promise<void> {
    return this.#switch(target, "off");
  }

  on(target: PowerTarget): Promise<void> {
    return this.#switch(target, "on");
  }

  close(): void {
    this.#runner.killAll();
  }

  /** The hub port of the device: from the settings, its USB path, or a search by its serial. */
  async hubPort(target: PowerTarget): Promise<HubPort> {
    const { hubLocation, hubPort } = this.#options;
    if (hubLocation !== undefined && hubPort !== undefined) return { location: hubLocation, port: hubPort };
    const fromPath = target.usbPath ? hubPortOfUsbPath(target.usbPath) : undefined;
    if (fromPath) return fromPath;
    const serial = target.serial;
    if (!serial)
      throw new NotFoundError(
        "no hub port for the power cycle: the device has not been seen yet; set powerHubLocation and powerHubPort",
      );
    const searched = await this.#search(serial);
    if (searched) {
      this.#found.set(serial, searched);
      return searched;
    }
    const remembered = this.#found.get(serial);
    if (remembered) return remembered;
    throw new NotFoundError(
      `uhubctl -s found no hub port with a device whose USB serial is ${usbSerial(serial)}; set powerHubLocation and powerHubPort`,
    );
  }

  async #search(serial: string): Promise<HubPort | undefined> {
    const out = await this.#runner.run(this.#options.path, [...this.#force(), "-s", usbSerial(serial)]);
    if (out.exitCode !== 0) return undefined;
    for (const hub of parseUhubctl(out.stdout).before)
      for (const p of hub.ports)
        if (p.device?.includes(usbSerial(serial))) return { location: hub.location, port: p.port };
    return undefined;
  }

  #force(): string[] {
    return this.#options.ganged ? ["-f"] : [];
  }

  async #switch(target: PowerTarget, action: "on" | "off"): Promise<void> {
    const { location, port } = await this.hubPort(target);
    const args = [...this.#force(), "-l", location, "-p", String(port), "-a", action];
    const command = `${this.#options.path} ${args.join(" ")}`;
    const out = await this.#runner.run(this.#options.path, args);
    const said = firstLine(out.stderr) || firstLine(out.stdout);
    if (out.exitCode !== 0) {
      const hint = /No compatible devices detected/.test(out.stderr)
        ? this.#options.ganged
          ? " (no hub there: check powerHubLocation or the device's USB path)"
          : " (no hub with per-port switching there; a hub that switches all ports together needs powerHubGanged)"
        : "";
      throw new UpstreamError(`\`${command}\` exited ${out.exitCode}: ${said}${hint}`);
    }
    const report = parseUhubctl(out.stdout);
    // uhubctl exits 0 for a port the hub does not have: it lists no line for it.
    const listed = report.before.some((h) => h.location === location && h.ports.some((p) => p.port === port));
    if (!listed) {
      const hub = report.before.find((h) => h.location === location);
      throw new UpstreamError(
        `\`${command}\`: hub ${location} has no port ${port}${hub ? ` (${hub.description})` : " (uhubctl listed no such hub)"}`,
      );
    }
    if (!report.sent.includes(action))
      throw new UpstreamError(`\`${command}\` did not say it sent the power ${action} request: ${said || "no output"}`);
  }
}

/** iPhones give their UDID as the USB serial number, without the dash of the newer form (00008030-001A...). */
function usbSerial(serial: string): string {
  return /^[0-9A-F]{8}-[0-9A-F]{16}$/i.test(serial) ? serial.replace("-", "") : serial;
}

function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "") ?? ""
  );
}
