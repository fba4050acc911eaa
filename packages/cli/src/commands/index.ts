import type { Command } from "commander";

/** Subcommands in the order --help lists them; each module's definition goes through toCommander. */
export function subcommands(): Command[] {
  return [];
}
