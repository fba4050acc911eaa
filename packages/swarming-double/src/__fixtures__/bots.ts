import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const HOOK_FIXTURE = fileURLToPath(new URL("./hook_script.py", import.meta.url));
/** The project's sudo (images/sudo): records a reboot request and SIGKILLs its caller. Never the host's sudo. */
export const SUDO_DIR = fileURLToPath(new URL("../../../../images/sudo/", import.meta.url));

export interface BotHarness {
  readonly root: string;
  /** The bot directory (like /b/s). */
  readonly dir: string;
  readonly controlFile: string;
  readonly callsFile: string;
  readonly rebootFile: string;
  setControl(control: Record<string, unknown>): Promise<void>;
  /** Hook calls in order, e.g. ["get_dimensions"], ["on_after_poll", "sleep"]. */
  calls(): Promise<string[][]>;
  rebootRequests(): Promise<string>;
  /** detached: the bot gets a session and process group of its own (setsid), as under the supervisor. */
  start(options?: { zipPath?: string; args?: string[]; env?: Record<string, string>; detached?: boolean }): BotProcess;
  cleanup(): Promise<void>;
}

export interface BotProcess {
  readonly proc: ChildProcess;
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

/** A temporary bot directory plus the files the fixture hook script reads and writes. */
export async function botHarness(zipPath: string, botId = "standin-test-1"): Promise<BotHarness> {
  const root = await mkdtemp(join(tmpdir(), "standin-bot-"));
  const dir = join(root, "bot");
  await mkdir(dir);
  await copyFile(zipPath, join(dir, "swarming_bot.zip"));
  const controlFile = join(root, "control.json");
  const callsFile = join(root, "calls.jsonl");
  const rebootFile = join(root, "reboot-requests");
  const h: BotHarness = {
    root,
    dir,
    controlFile,
    callsFile,
    rebootFile,
    async setControl(control) {
      await writeFile(`${controlFile}.tmp`, JSON.stringify(control));
      await rename(`${controlFile}.tmp`, controlFile);
    },
    async calls() {
      const text = await readFile(callsFile, "utf8").catch(() => "");
      return text
        .split("\n")
        .filter((l) => l)
        .map((l) => JSON.parse(l) as string[]);
    },
    rebootRequests: () => readFile(rebootFile, "utf8").catch(() => ""),
    start(options = {}) {
      const zip = options.zipPath ?? "swarming_bot.zip";
      const proc = spawn("python3", [zip, ...(options.args ?? ["start_bot"])], {
        cwd: dir,
        env: {
          ...process.env,
          PATH: `${SUDO_DIR}:${process.env.PATH ?? ""}`,
          HOME: root,
          TMPDIR: root,
          SWARMING_BOT_ID: botId,
          SWARMING_EXTERNAL_BOT_SETUP: "1",
          STANDIN_FIXTURE_CONTROL: controlFile,
          STANDIN_FIXTURE_CALLS: callsFile,
          RPI_SWARMING_REBOOT_REQUEST_FILE: rebootFile,
          SWARMING_STANDIN_RETRY_SECONDS: "0.1",
          SWARMING_STANDIN_AUTH_RETRY_SECONDS: "0.1",
          SWARMING_STANDIN_AUTH_TRIES: "3",
          SWARMING_STANDIN_TASK_UPDATE_SECONDS: "0.3",
          SWARMING_STANDIN_LOCK_WAIT_SECONDS: "0.5",
          SWARMING_STANDIN_REBOOT_WAIT_SECONDS: "0.2",
          SWARMING_STANDIN_REBOOT_TIMEOUT_SECONDS: "0.5",
          ...options.env,
        },
        stdio: ["ignore", "pipe", "pipe"],
        detached: options.detached ?? false,
      });
      running.add(proc);
      let out = "";
      proc.stdout?.on("data", (b: Buffer) => {
        out += b.toString();
      });
      proc.stderr?.on("data", (b: Buffer) => {
        out += b.toString();
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        proc.once("exit", (code, signal) => {
          running.delete(proc);
          resolve({ code, signal });
        });
      });
      return { proc, output: () => out, exited };
    },
    async cleanup() {
      await rm(root, { recursive: true, force: true });
    },
  };
  return h;
}

/** Pids of every descendant of pid (task_runner, run_isolated, the task: each in a group of its own). */
async function descendants(pid: number): Promise<number[]> {
  const all: ProcInfo[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const p = await procInfo(Number(name));
    if (p) all.push(p);
  }
  const out: number[] = [];
  const walk = (parent: number): void => {
    for (const p of all) {
      if (p.ppid === parent) {
        out.push(p.pid);
        walk(p.pid);
      }
    }
  };
  walk(pid);
  return out;
}

/** SIGKILLs every bot process a test left running, and what they started (afterEach). */
export async function killAllBots(): Promise<void> {
  const waits = [...running].map(async (p) => {
    const children = p.pid ? await descendants(p.pid) : [];
    const exited = new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) resolve();
      else p.once("exit", () => resolve());
    });
    p.kill("SIGKILL");
    for (const pid of children) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await exited;
  });
  await Promise.all(waits);
}

/** Runs a one-shot command of a zip (version, attributes, config, is_fine). */
export function runZipCommand(
  zipPath: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn("python3", [zipPath, ...args], {
      env: { ...process.env, PATH: `${SUDO_DIR}:${process.env.PATH ?? ""}`, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    proc.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    proc.once("error", reject);
    proc.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  readonly cmdline: string[];
}

/** One process as /proc shows it; undefined once it is gone. */
export async function procInfo(pid: number): Promise<ProcInfo | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces and parentheses).
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").filter((a) => a);
    return { pid, ppid: Number(rest[1]), pgid: Number(rest[2]), sid: Number(rest[3]), cmdline };
  } catch {
    return undefined;
  }
}

/** Every live process of a session (zombies included until reaped). */
export async function sessionProcesses(sid: number): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const p = await procInfo(Number(name));
    if (p && p.sid === sid) out.push(p);
  }
  return out;
}
