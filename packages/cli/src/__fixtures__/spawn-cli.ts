import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

/** Runs the CLI from sources in its own process, as `rpi-swarming <args>` would. */
export function spawnCli(
  args: readonly string[],
  env: Record<string, string> = {},
  nodeFlags: readonly string[] = [],
): ChildProcess {
  const script =
    'import { main } from "@rpi-swarming/cli"; await main(["node", "rpi-swarming", ...process.argv.slice(1)]);';
  return spawn(process.execPath, [...nodeFlags, "--conditions=source", "--import", "tsx", "--input-type=module", "-e", script, ...args], {
    cwd: join(import.meta.dirname, "../../../.."),
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

