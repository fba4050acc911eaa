import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Logger } from "@rpi-swarming/core";
import type { StateServerMetrics } from "./metrics.js";
import type { DeviceMonitor } from "./monitor.js";

/** The marker's file name in the shared dir; present exactly while a task runs. */
export const TASK_MARKER_FILE = "task-running.json";

/** Whether a task runs; "unknown" means the state server cannot tell, never "idle". */
export type TaskState = "running" | "idle" | "unknown";

interface MarkerContent {
  readonly task_id: string | null;
  readonly since: string;
}

/**
 * Knows whether the bot runs a task across state server restarts. The
 * monitor keeps the flag in memory; this keeps a marker file in the shared
 * dir (the pod's emptyDir) from on_before_task to on_after_task. After a
 * restart a marker means a task still runs; no marker proves nothing (the
 * hook may have failed while the server was down), so the state stays
 * "unknown" until a hook tells: on_before_task (running), or on_after_task,
 * on_bot_idle, on_bot_startup, on_handshake, on_bot_shutdown (idle).
 */
export class TaskTracker {
  private known = false;
  private readonly file: string | null;
  private readonly log: Logger;
  private readonly metrics: Pick<StateServerMetrics, "taskStateKnown">;
  /** Marker writes in order: a quick before/after pair must not leave a stale marker. */
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly monitor: DeviceMonitor,
    opts: { sharedDir: string | undefined; log: Logger; metrics: Pick<StateServerMetrics, "taskStateKnown"> },
  ) {
    this.file = opts.sharedDir ? join(opts.sharedDir, TASK_MARKER_FILE) : null;
    this.log = opts.log.child({ component: "task-marker" });
    this.metrics = opts.metrics;
  }

  /** From now on the state is "running" or "idle", and the metric says so. */
  private markKnown(): void {
    this.known = true;
    this.metrics.taskStateKnown.set(1);
  }

  /** Reads the marker a previous state server left; a task it names is running. */
  async start(): Promise<void> {
    if (!this.file) return;
    await mkdir(dirname(this.file), { recursive: true });
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        this.log.warn({ file: this.file, message: (err as Error).message }, "cannot read the task marker");
      return;
    }
    let marker: Partial<MarkerContent> = {};
    try {
      marker = JSON.parse(text) as Partial<MarkerContent>;
    } catch {
      // Written atomically, so this is not ours half-written; a task is running all the same.
    }
    const taskId = typeof marker.task_id === "string" ? marker.task_id : null;
    this.log.warn({ taskId, since: marker.since }, "a task was running when the state server stopped");
    this.monitor.taskStarted(taskId);
    this.markKnown();
  }

  get state(): TaskState {
    if (!this.known) return "unknown";
    return this.monitor.snapshot.taskRunning ? "running" : "idle";
  }

  /** on_before_task: the marker is written before the hook answers. */
  async taskStarted(taskId: string | null): Promise<void> {
    this.markKnown();
    this.monitor.taskStarted(taskId);
    const content: MarkerContent = { task_id: taskId, since: new Date().toISOString() };
    await this.write(content);
  }

  /** on_after_task. Returns whether the device reboots (DeviceMonitor.taskEnded). */
  async taskEnded(): Promise<boolean> {
    this.markKnown();
    const reboot = this.monitor.taskEnded();
    await this.write(null);
    return reboot;
  }

  /** on_bot_shutdown: whatever task there was is over. */
  async botShutdown(): Promise<void> {
    this.markKnown();
    this.monitor.botShutdown();
    await this.write(null);
  }

  /**
   * A hook only an idle bot calls (on_bot_idle, on_bot_startup,
   * on_handshake). A task the marker still names ended while the state
   * server was down (its on_after_task was lost).
   */
  async idle(hook: string): Promise<void> {
    const wasKnown = this.known;
    this.markKnown();
    if (!wasKnown) this.log.info({ hook }, "the bot is idle: task state known again");
    if (this.monitor.snapshot.taskRunning) {
      this.log.info({ hook, taskId: this.monitor.snapshot.taskId }, "the bot is idle: the task has ended");
      if (hook === "on_bot_idle") this.monitor.taskEnded();
      else this.monitor.botShutdown();
      await this.write(null);
    }
  }

  private write(content: MarkerContent | null): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const next = this.writes.then(async () => {
      try {
        if (content === null) {
          await unlink(file).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== "ENOENT") throw err;
          });
        } else {
          // Written beside it and renamed: a reader never sees half a marker.
          const temp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
          await writeFile(temp, `${JSON.stringify(content)}\n`);
          await rename(temp, file);
        }
      } catch (err) {
        this.log.error({ file, message: (err as Error).message }, "cannot update the task marker");
      }
    });
    this.writes = next;
    return next;
  }
}
