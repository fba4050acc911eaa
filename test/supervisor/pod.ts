/**
 * The whole pod (Swarming double, state server, supervisor, stand-in bot with
 * bot_config.py) as separate real processes, for the supervisor's end-to-end
 * tests that need the real state server. Uses the built CLI (`npx tsc -b`).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
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

export async function getJson(url: string): Promise<Json> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as Json;
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export async function postJson(url: string, body: unknown): Promise<Json> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const reply = (await res.json()) as Json;
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status} ${JSON.stringify(reply)}`);
  return reply;
}

/** Polls `check` until it returns a truthy value; errors count as "not yet". */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(last)}`);
}
