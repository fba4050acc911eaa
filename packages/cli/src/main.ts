import { VERSION } from "@rpi-swarming/core";
import { Command } from "commander";
import { subcommands } from "./commands/index.js";

export function buildProgram(): Command {
  const program = new Command("rpi-swarming")
    .description("Run LUCI Swarming bots for Android and iOS test devices on Raspberry Pis")
    .version(VERSION, "-V, --version")
    .showHelpAfterError()
    .enablePositionalOptions();
  for (const cmd of subcommands()) program.addCommand(cmd);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  await buildProgram().parseAsync([...argv]);
}
