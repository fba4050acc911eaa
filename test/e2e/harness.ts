/**
 * Runs `rpi-swarming demo` (the whole pod: Swarming double, state server,
 * supervisor, stand-in bot with bot_config.py) as a real process for the
 * end-to-end tests, and talks to its parts over HTTP. Uses the built CLI
 * (`npx tsc -b` first).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePort,
  getJson as sharedGetJson,
  postJson as sharedPostJson,
  waitFor,
} from "@rpi-swarming/core/test-support";
import { CLI_BIN } from "../../packages/cli/src/demo/pod.js";

/** Shared by every suite; re-exported for the tests of this folder. */
export { waitFor };

export type Json = Record<string, unknown>;

export interface DemoPorts {
  readonly double: number;
  readonly hook: number;
  readonly stateMetrics: number;
  readonly supervisorMetrics: number;
  readonly simulatedControl: number;
}

export interface RunningDemo {
  readonly child: ChildProcess;
  readonly workDir: string;
  readonly botId: string;
  readonly ports: DemoPorts;
  readonly double: string;
  readonly hooks: string;
  readonly control: string;
  readonly supervisorHealth: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly outputFile: string;
  output(): string;
  /** SIGKILLs whatever of the pod is still alive (cleanup after a failed test). */
  killAll(): void;
}

export async function startDemo(options: { botId: string; extraArgs: readonly string[] }): Promise<RunningDemo> {
  const built = join(CLI_BIN, "../../dist/main.js");
  if (!existsSync(built)) throw new Error(`${built} is missing: build first (npx tsc -b)`);
  const workDir = mkdtempSync(join(tmpdir(), "rpi-swarming-e2e-"));
  const ports: DemoPorts = {
    double: await freePort(),
    hook: await freePort(),
    stateMetrics: await freePort(),
    supervisorMetrics: await freePort(),
    simulatedControl: await freePort(),
  };
  const outputFile = join(workDir, "demo-output.log");
  const fd = openSync(outputFile, "a");
  const env = { ...process.env };
  delete env.RPI_SWARMING_CONFIG;
  delete env.SWARMING_SERVER;
  const child = spawn(
    process.execPath,
    [
      CLI_BIN,
      "demo",
      `--bot-id=${options.botId}`,
      `--work-dir=${workDir}`,
      `--double-port=${ports.double}`,
      `--hook-port=${ports.hook}`,
      `--state-metrics-port=${ports.stateMetrics}`,
      `--supervisor-metrics-port=${ports.supervisorMetrics}`,
      `--simulated-control-port=${ports.simulatedControl}`,
      ...options.extraArgs,
    ],
    { env, stdio: ["ignore", fd, fd], detached: true },
  );
  closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const demo: RunningDemo = {
    child,
    workDir,
    botId: options.botId,
    ports,
    double: `http://127.0.0.1:${ports.double}`,
    hooks: `http://127.0.0.1:${ports.hook}`,
    control: `http://127.0.0.1:${ports.simulatedControl}/control`,
    supervisorHealth: `http://127.0.0.1:${ports.supervisorMetrics}/healthz`,
    exited,
    outputFile,
    output: () => readFileSync(outputFile, "utf8"),
    killAll() {
      for (const pid of [...pidsMentioning(workDir), child.pid ?? 0]) {
        try {
          if (pid) process.kill(pid, "SIGKILL");
        } catch {
          // Gone.
        }
      }
    },
  };
  return demo;
}

export const getJson = (url: string): Promise<Json> => sharedGetJson<Json>(url, 3000);
export const postJson = (url: string, body: unknown): Promise<Json> => sharedPostJson<Json>(url, body, 10_000);

/** Pids of live processes whose command line mentions `text` (e.g. the pod's work dir). */
export function pidsMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Zombies (state Z) are already dead; their parent just has not reaped them yet.
      if (cmdline.includes(text) && !/^\d+ \(.*\) Z/.test(stat)) pids.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}

export interface DoubleProcess {
  readonly url: string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/**
 * `rpi-swarming swarming-double` as its own process (as a lab's real server
 * would be: outside the pod), on a free port, with work files under `dir`.
 */
export async function startDoubleProcess(dir: string, extraArgs: readonly string[]): Promise<DoubleProcess> {
  const urlFile = join(dir, "url");
  const child = spawn(
    process.execPath,
    [
      CLI_BIN,
      "swarming-double",
      "--double-port=0",
      `--url-file=${urlFile}`,
      "--default-sleep-seconds=0.5",
      `--work-dir=${join(dir, "zips")}`,
      "--log-level=warn",
      ...extraArgs,
    ],
    { stdio: "ignore" },
  );
  const url = await waitFor("the server's URL file", () =>
    existsSync(urlFile) ? readFileSync(urlFile, "utf8").trim() || undefined : undefined,
  );
  return {
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}
