/**
 * Every process of the local pod carries POD_MARKER_ENV=<pod id> in its
 * environment (inherited by the bot and its tasks), so processes that escaped
 * their process group (the bot runs in its own) can still be found and ended.
 * Linux only (/proc); elsewhere nothing is found.
 */
import { readdirSync, readFileSync } from "node:fs";

export const POD_MARKER_ENV = "RPI_SWARMING_DEMO_POD";

/** Pids (other than this process) whose environment holds the pod marker. */
export function podProcesses(podId: string): number[] {
  const needle = Buffer.from(`${POD_MARKER_ENV}=${podId}\0`);
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`);
      if (environ.includes(needle)) pids.push(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return pids;
}

/** SIGKILLs every process of the pod still alive; returns their pids. */
export function killPodProcesses(podId: string): number[] {
  const pids = podProcesses(podId);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return pids;
}

/**
 * Pids of the pod still alive after waiting up to `timeoutMs` for them to go:
 * a process just sent SIGKILL still shows in /proc until the kernel has torn
 * it down, which takes a while on a loaded machine.
 */
export async function podProcessesLeft(podId: string, timeoutMs = 5000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = podProcesses(podId);
    if (pids.length === 0 || Date.now() >= deadline) return pids;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
