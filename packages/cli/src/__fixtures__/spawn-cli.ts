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


/** Runs the CLI to its end; resolves with its exit code and both outputs, each read whole. */
export async function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args, env);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  // "close", not "exit": both streams are read to their end.
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  return { code, stdout, stderr };
}
