/**
 * Helpers for the supervisor's end-to-end tests and benchmark: the supervisor
 * runs as a real `rpi-swarming supervisor` process (from sources), against the
 * Swarming double with the Python stand-in bot.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { freePort, waitFor } from "@rpi-swarming/core/test-support";

export const ROOT = resolve(import.meta.dirname, "../..");
export const SUDO_DIR = join(ROOT, "images/sudo");
export const HOOK_SCRIPT = join(ROOT, "packages/swarming-double/src/__fixtures__/hook_script.py");
const CLI = join(ROOT, "test/supervisor/cli.ts");

export type LogRecord = Record<string, unknown> & { msg: string; time: string; component?: string };

export interface SupervisorRun {
  readonly child: ChildProcess;
  readonly records: LogRecord[];
  readonly stderr: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  waitForLog(match: (r: LogRecord) => boolean, timeoutMs?: number, what?: string): Promise<LogRecord>;
  /** Base URL of /metrics and /healthz, from the "supervisor started" record. */
  metricsUrl(): Promise<string>;
  metrics(): Promise<Metrics>;
  /** SIGTERM; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export class Metrics {
  constructor(readonly text: string) {}
  /** Value of a series; labels must match exactly the given subset. Undefined when absent. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    for (const line of this.text.split("\n")) {
      if (line.startsWith("#")) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (.+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const have: Record<string, string> = {};
      for (const pair of (m[2] ?? "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g))
        have[pair[1] ?? ""] = pair[2] ?? "";
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
    }
    return undefined;
  }
}

export function tempDirs(): { root: string; botDir: string; sharedDir: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), "supervisor-e2e-"));
  const botDir = join(root, "b", "s");
  const sharedDir = join(root, "b", "shared");
  mkdirSync(botDir, { recursive: true });
  mkdirSync(sharedDir, { recursive: true });
  return { root, botDir, sharedDir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

const running = new Set<ChildProcess>();

/** Starts `rpi-swarming supervisor` with the given flags (metrics on a free port, 127.0.0.1). */
export function startSupervisor(
  flags: Record<string, string | number>,
  env: Record<string, string> = {},
): SupervisorRun {
  const args = [
    "--conditions=source",
    "--import",
    "tsx",
    CLI,
    "supervisor",
    "--metrics-host",
    "127.0.0.1",
    "--metrics-port",
    "0",
    "--sudo-dir",
    SUDO_DIR,
    "--log-level",
    "debug",
  ];
  for (const [k, v] of Object.entries(flags)) args.push(`--${k}`, String(v));
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, SWARMING_BOT_ID: "rpi-test-1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const records: LogRecord[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    try {
      const rec = JSON.parse(line) as LogRecord;
      if (rec.msg === "bot started" && typeof rec.pid === "number") botPids.add(rec.pid);
      records.push(rec);
    } catch {
      records.push({ msg: line, time: new Date().toISOString(), component: "raw" });
    }
    for (const w of waiters) w();
  });
  const exited = new Promise<number | string>((r) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      for (const w of waiters) w();
      r(code ?? signal ?? -1);
    }),
  );
  let exitedNow = false;
  void exited.then(() => {
    exitedNow = true;
  });

  const run: SupervisorRun = {
    child,
    records,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs = 20_000, what = "a log record") {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          const found = records.find(match);
          if (found) {
            cleanup();
            resolvePromise(found);
          } else if (exitedNow) {
            cleanup();
            reject(new Error(`supervisor exited before ${what}; stderr: ${stderr}\n${tail(records)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${what}; stderr: ${stderr}\n${tail(records)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async metricsUrl() {
      const r = await run.waitForLog((x) => x.msg === "supervisor started", 20_000, "supervisor started");
      return String(r.metrics).replace(/\/metrics$/, "");
    },
    async metrics() {
      const res = await fetch(`${await run.metricsUrl()}/metrics`);
      return new Metrics(await res.text());
    },
    async stop(signal = "SIGTERM") {
      if (!exitedNow) child.kill(signal);
      return exited;
    },
  };
  return run;
}

const botPids = new Set<number>();

/** Kills supervisors a failed test left running, and every bot process group they started. */
export async function killLeftovers(): Promise<void> {
  for (const child of running) {
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
  }
  for (const pid of botPids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  botPids.clear();
}

function tail(records: LogRecord[]): string {
  return records
    .slice(-15)
    .map((r) => `${r.component ?? ""} ${r.msg} ${r.err ? JSON.stringify(r.err) : ""}`)
    .join("\n");
}

/** Pids of live processes in a process group (from ps). */
export function processGroupMembers(pgid: number): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,pgid=,stat="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => Number(f[1]) === pgid && !String(f[2]).startsWith("Z"))
    .map((f) => Number(f[0]));
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export { freePort };

/** A stand-in for the state server's GET /status and POST /reboot_device (docs/http-api.md). */
export async function startFakeStateServer(
  status: () => { task_running: boolean; bot_version: string | null },
  rebootReplyDelayMs = 0,
) {
  const rebootRequests: unknown[] = [];
  let statusCalls = 0;
  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/status") {
      statusCalls += 1;
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ bot_id: "rpi-test-1", ...status() }));
    } else if (req.method === "POST" && req.url === "/reboot_device") {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        rebootRequests.push({ ...JSON.parse(body || "{}"), receivedAt: Date.now() });
        setTimeout(() => {
          res.setHeader("Content-Type", "application/json");
          res.end(JSON.stringify({ ok: true }));
        }, rebootReplyDelayMs);
      });
    } else {
      res.statusCode = 404;
      res.end("{}");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    rebootRequests,
    statusCalls: () => statusCalls,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The shared waitFor, arguments in this folder's order. */
export function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = "a condition") {
  return waitFor(what, check, timeoutMs);
}
