import { ConfigError, UpstreamError } from "@rpi-swarming/core";
import { CommandRunner } from "../exec/command-runner.js";
import type { PowerTarget } from "../types.js";
import type { PowerController } from "./types.js";
import { hubPortOfUsbPath } from "./usb-location.js";

export interface CommandPowerOptions {
  /** argv templates: the first word is the program; never run through a shell. */
  readonly offCommand: readonly string[];
  readonly onCommand: readonly string[];
  readonly hubLocation?: string | undefined;
  readonly hubPort?: number | undefined;
  readonly timeoutSeconds: number;
  readonly env?: Readonly<Record<string, string>>;
}

const PLACEHOLDER = /\{(serial|hub|port)\}/g;

/**
 * An argv template with {serial}, {hub} and {port} replaced. Each placeholder
 * is replaced inside its own argument only, so a value can never become a
 * second argument or shell syntax. An unknown value is replaced by "".
 */
export function fillTemplate(
  template: readonly string[],
  values: { readonly serial?: string; readonly hub?: string; readonly port?: string },
): string[] {
  return template.map((arg) => arg.replace(PLACEHOLDER, (_, name: "serial" | "hub" | "port") => values[name] ?? ""));
}

/** Power through the lab's own program (a smart plug's CLI, a relay board's script). */
export class CommandPowerController implements PowerController {
  readonly kind = "command";
  readonly #options: CommandPowerOptions;
  readonly #runner: CommandRunner;

  constructor(options: CommandPowerOptions) {
    if (options.offCommand.length === 0 || options.onCommand.length === 0)
      throw new ConfigError("powerOffCommand and powerOnCommand must each name a program (powerController command)");
    this.#options = options;
    this.#runner = new CommandRunner({
      timeoutSeconds: options.timeoutSeconds,
      ...(options.env ? { env: options.env } : {}),
    });
  }

  off(target: PowerTarget): Promise<void> {
    return this.#run(this.#options.offCommand, target, "off");
  }

  on(target: PowerTarget): Promise<void> {
    return this.#run(this.#options.onCommand, target, "on");
  }

  close(): void {
    this.#runner.killAll();
  }

  async #run(template: readonly string[], target: PowerTarget, action: string): Promise<void> {
    const derived = target.usbPath ? hubPortOfUsbPath(target.usbPath) : undefined;
    const hub = this.#options.hubLocation ?? derived?.location;
    const port = this.#options.hubPort ?? derived?.port;
    const [file = "", ...args] = fillTemplate(template, {
      ...(target.serial ? { serial: target.serial } : {}),
      ...(hub ? { hub } : {}),
      ...(port !== undefined ? { port: String(port) } : {}),
    });
    const out = await this.#runner.run(file, args);
    if (out.exitCode === 0) return;
    const said = (out.stderr.trim() || out.stdout.trim()).split("\n")[0] ?? "";
    throw new UpstreamError(`power ${action} command \`${file}\` exited ${out.exitCode}${said ? `: ${said}` : ""}`);
  }
}
