import { VERSION } from "@rpi-swarming/core";
import { Command } from "commander";
import { subcommands } from "./commands/index.js";

// The image runs the state server without Node's fetch API (images/rpi-swarming:
// lite mode has no WebAssembly, which undici needs), but Koa 3 tests
// `body instanceof Response` on every reply: an empty class keeps that test
// false instead of throwing.
if (typeof globalThis.Response === "undefined") {
  globalThis.Response = class Response {} as unknown as typeof globalThis.Response;
}

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
