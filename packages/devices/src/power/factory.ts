import { ConfigError, type ConfigOf, type Logger } from "@rpi-swarming/core";
import { CommandPowerController } from "./command.js";
import { HttpPowerController } from "./http.js";
import type { powerSettings } from "./settings.js";
import type { PowerController } from "./types.js";
import { UhubctlController } from "./uhubctl.js";

export type PowerConfig = ConfigOf<typeof powerSettings>;

export interface PowerContext {
  readonly log: Logger;
  /** Time limit of one uhubctl or power command. */
  readonly commandTimeoutSeconds: number;
  /** Extra environment for the commands (tests point the fakes at their worlds). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * The controller `powerController` names, or undefined for none. Settings
 * that only make sense together are checked here: a ConfigError names them.
 */
export function createPowerController(config: PowerConfig, ctx: PowerContext): PowerController | undefined {
  const env = ctx.env ? { env: ctx.env } : {};
  // uhubctl and power commands may wait for a slow hub or relay: never less than 10 s.
  const timeoutSeconds = Math.max(ctx.commandTimeoutSeconds, 10);
  switch (config.powerController) {
    case "none":
      return undefined;
    case "uhubctl":
      return new UhubctlController({
        path: config.uhubctlPath,
        hubLocation: config.powerHubLocation,
        hubPort: config.powerHubPort,
        ganged: config.powerHubGanged,
        timeoutSeconds,
        log: ctx.log,
        ...env,
      });
    case "command":
      if (!config.powerOffCommand || !config.powerOnCommand)
        throw new ConfigError(
          "powerController command needs powerOffCommand and powerOnCommand (JSON lists: program and arguments)",
        );
      return new CommandPowerController({
        offCommand: config.powerOffCommand,
        onCommand: config.powerOnCommand,
        hubLocation: config.powerHubLocation,
        hubPort: config.powerHubPort,
        timeoutSeconds,
        ...env,
      });
    case "http":
      if (!config.powerHttp)
        throw new ConfigError('powerController http needs powerHttp ({"off": {"url": ...}, "on": {"url": ...}})');
      return new HttpPowerController(config.powerHttp);
  }
}
