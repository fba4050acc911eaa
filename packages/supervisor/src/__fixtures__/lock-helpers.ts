import { spawn } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import { readProcStat } from "../bot-pid-file.js";

/** A pid that was ours a moment ago and is dead now, with the start time it had. */
export async function deadProcess(): Promise<{ pid: number; startTime: string }> {
  const c = spawn("sleep", ["30"]);
  const pid = c.pid as number;
  const startTime = readProcStat(pid)?.startTime as string;
  c.kill("SIGKILL");
  await new Promise((r) => c.once("exit", r));
  return { pid, startTime };
}

export function identity() {
  return {
    pidNs: readlinkSync("/proc/self/ns/pid"),
    bootId: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
  };
}

