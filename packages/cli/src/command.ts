import {
  ConfigError,
  type ConfigOf,
  commonSettings,
  createLogger,
  envName,
  flagName,
  type Logger,
  loadConfig,
  redactConfig,
  type SettingSpecs,
  yamlParser,
} from "@rpi-swarming/core";
import { Command, Option } from "commander";
import * as z from "zod/mini";

export interface CommandContext {
  readonly log: Logger;
  /** Resolves when SIGINT or SIGTERM arrives; the command then stops what it started. */
  readonly stopSignal: Promise<NodeJS.Signals>;
}

export interface CommandDefinition<S extends SettingSpecs> {
  readonly name: string;
  readonly summary: string;
  readonly settings: S;
  /** Resolves with the exit code. */
  run(config: ConfigOf<S & typeof commonSettings>, ctx: CommandContext): Promise<number>;
}

export function defineCommand<S extends SettingSpecs>(def: CommandDefinition<S>): CommandDefinition<S> {
  return def;
}

function describeDefault(key: string, specs: SettingSpecs): string {
  const spec = specs[key];
  if (!spec) return "";
  const parsed = z.safeParse(spec.schema, undefined);
  const shown = !parsed.success || parsed.data === undefined ? "" : `, default ${JSON.stringify(parsed.data)}`;
  return ` (env ${envName(key, spec)}${spec.secret ? "" : shown})`;
}

/** Turns a command definition into a commander subcommand whose options come from the setting specs. */
export function toCommander<S extends SettingSpecs>(def: CommandDefinition<S>): Command {
  const specs = { ...commonSettings, ...def.settings } as S & typeof commonSettings;
  const cmd = new Command(def.name).description(def.summary).allowExcessArguments(false);
  cmd.option("--config <file>", "YAML file of settings (keys as below, in camelCase) (env RPI_SWARMING_CONFIG)");
  cmd.option("--print-config", "print the effective configuration with secrets redacted, then exit");
  const attr: Record<string, string> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const flag = flagName(key, spec);
    const help = spec.help + describeDefault(key, specs);
    let opt: Option;
    if (spec.kind === "boolean") {
      opt = new Option(`--${flag}`, help);
    } else if (spec.kind === "list" || spec.kind === "map") {
      const placeholder = spec.kind === "map" ? "<key=value>" : "<value>";
      opt = new Option(`--${flag} ${placeholder}`, `${help}; repeatable`).argParser(
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      );
    } else {
      opt = new Option(`--${flag} <value>`, help);
    }
    attr[key] = opt.attributeName();
    cmd.addOption(opt);
    // After the positive flag: a --no-x defined first would make commander default x to true.
    if (spec.kind === "boolean") cmd.addOption(new Option(`--no-${flag}`, `turn off --${flag}`).hideHelp());
  }

  cmd.action(async (opts: Record<string, unknown>) => {
    const flags: Record<string, unknown> = {};
    for (const [key, name] of Object.entries(attr)) if (opts[name] !== undefined) flags[key] = opts[name];
    let config: ConfigOf<S & typeof commonSettings>;
    const configFile = (opts.config as string | undefined) ?? process.env.RPI_SWARMING_CONFIG;
    try {
      config = loadConfig(specs, {
        flags,
        env: process.env,
        configFile,
        ...(configFile ? { parseYaml: await yamlParser() } : {}),
      });
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`rpi-swarming ${def.name}: ${err.message}\n`);
        process.exitCode = 2;
        return;
      }
      throw err;
    }
    if (opts.printConfig) {
      process.stdout.write(`${JSON.stringify(redactConfig(specs, config), null, 2)}\n`);
      return;
    }
    const log = createLogger({ level: config.logLevel }).child({ command: def.name });
    const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
      for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve(sig));
    });
    try {
      process.exitCode = await def.run(config, { log, stopSignal });
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`rpi-swarming ${def.name}: ${err.message}\n`);
        process.exitCode = 2;
        return;
      }
      log.fatal({ err }, "command failed");
      process.exitCode = 1;
    }
  });
  return cmd;
}
