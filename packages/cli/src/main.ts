import type { Command } from "commander";
import { allCommands } from "./commands/index.js";
import { programOf, runProgram } from "./program.js";

/** The whole CLI: every subcommand (what --help and --version show). */
export function buildProgram(): Command {
  return programOf(allCommands);
}

export async function main(argv: readonly string[]): Promise<void> {
  await runProgram(allCommands, argv);
}
