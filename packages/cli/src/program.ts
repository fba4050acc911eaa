import { VERSION } from "@rpi-swarming/core";
import { Command } from "commander";
import { type CommandDefinition, toCommander } from "./command.js";

// The image runs the state server without Node's fetch API (images/rpi-swarming:
// lite mode has no WebAssembly, which undici needs), but Koa 3 tests
// `body instanceof Response` on every reply: an empty class keeps that test
// false instead of throwing.
if (typeof globalThis.Response === "undefined") {
  globalThis.Response = class Response {} as unknown as typeof globalThis.Response;
}

// The image's wrapper tunes glibc's malloc for this Node process only
// (images/rpi-swarming); the bot, its tasks and the device tools keep the default.
delete process.env.MALLOC_MMAP_THRESHOLD_;

// biome-ignore lint/suspicious/noExplicitAny: each command has its own settings type
type AnyCommand = CommandDefinition<any>;

/** The `rpi-swarming` program with the given subcommands, in the order --help lists them. */
export function programOf(commands: readonly AnyCommand[]): Command {
  const program = new Command("rpi-swarming")
    .description("Run LUCI Swarming bots for Android and iOS test devices on Raspberry Pis")
    .version(VERSION, "-V, --version")
    .showHelpAfterError()
    .enablePositionalOptions();
  for (const def of commands) program.addCommand(toCommander(def));
  return program;
}

/** Parses argv (node, script, subcommand, ...) with a program of these subcommands and runs the one named. */
export async function runProgram(commands: readonly AnyCommand[], argv: readonly string[]): Promise<void> {
  await programOf(commands).parseAsync([...argv]);
}
