/**
 * The whole pod (Swarming double, state server, supervisor, stand-in bot with
 * bot_config.py) as separate real processes, for the supervisor's end-to-end
 * tests that need the real state server. Uses the built CLI (`npx tsc -b`).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { getJson as sharedGetJson, postJson as sharedPostJson, waitFor } from "@rpi-swarming/core/test-support";
import { CLI_BIN, HOOK_SCRIPT, type Pod, startPod } from "../../packages/cli/src/demo/pod.js";

export { HOOK_SCRIPT };
export type Json = Record<string, unknown>;

export async function startTestPod(options: {
  botId: string;
  supervisorArgs: readonly string[];
  stateServerArgs?: readonly string[];
}): Promise<Pod> {
  const built = join(CLI_BIN, "../../dist/main.js");
  if (!existsSync(built)) throw new Error(`${built} is missing: build first (npx tsc -b)`);
  return startPod({
    botId: options.botId,
    device: "simulated",
    ports: { double: 0, hook: 0, stateMetrics: 0, supervisorMetrics: 0, simulatedControl: 0 },
    python: "python3",
    logLevel: "debug",
    pollSeconds: 0.5,
    probeIntervalSeconds: 1,
    restartDelayMs: 300,
    stateServerArgs: options.stateServerArgs ?? [],
    supervisorArgs: options.supervisorArgs,
  });
}

/** The supervisor's log records so far (JSON lines of its log file). */
export function supervisorLog(pod: Pod): Json[] {
  const file = join(pod.logDir, "supervisor.log");
  if (!existsSync(file)) return [];
  const out: Json[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    try {
      out.push(JSON.parse(line) as Json);
    } catch {
      // Not a record of ours.
    }
  }
  return out;
}

export const getJson = (url: string): Promise<Json> => sharedGetJson<Json>(url, 5000);
export const postJson = (url: string, body: unknown): Promise<Json> => sharedPostJson<Json>(url, body, 30_000);

/** The shared waitFor with this folder's longer default timeout. */
export function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
): Promise<T> {
  return waitFor(what, check, timeoutMs);
}
