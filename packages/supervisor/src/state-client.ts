import { UpstreamError } from "@rpi-swarming/core";
import got from "got";
import * as z from "zod/mini";

const statusSchema = z.object({
  // "unknown": the state server cannot tell (e.g. it restarted and no hook has reported since).
  task_running: z.union([z.boolean(), z.literal("unknown")]),
  bot_version: z.optional(z.nullable(z.string())),
});

/** What the state server knows; `unknown` means it cannot tell, never "idle". */
export type TaskState = "running" | "idle" | "unknown";

export interface StateServerStatus {
  readonly task: TaskState;
  /** The bot code version the bot's hooks last reported; null when unknown. */
  readonly botVersion: string | null;
}

/** The two calls the supervisor makes to the state server (docs/http-api.md). */
export class StateServerClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 5_000,
  ) {}

  /** GET /status: is a task running, which bot code version the bot last reported. */
  async status(): Promise<StateServerStatus> {
    const url = `${this.baseUrl}/status`;
    let body: unknown;
    try {
      body = await got(url, { timeout: { request: this.timeoutMs }, retry: { limit: 0 } }).json();
    } catch (err) {
      throw new UpstreamError(`state server ${url} cannot be asked: ${(err as Error).message}`, { cause: err });
    }
    const parsed = statusSchema.safeParse(body);
    if (!parsed.success)
      throw new UpstreamError(`state server ${url} answered without task_running (true, false or "unknown")`);
    const t = parsed.data.task_running;
    const v = parsed.data.bot_version;
    return {
      task: t === "unknown" ? "unknown" : t ? "running" : "idle",
      // Older state servers said null before the first report: unknown as well.
      botVersion: v === undefined || v === null || v === "unknown" ? null : v,
    };
  }

  /** POST /reboot_device: asks the state server to reboot the device (it refuses while a task runs). */
  async rebootDevice(reason: string): Promise<void> {
    const url = `${this.baseUrl}/reboot_device`;
    try {
      await got.post(url, { json: { reason }, timeout: { request: 30_000 }, retry: { limit: 0 } });
    } catch (err) {
      throw new UpstreamError(`state server ${url} did not take the reboot request: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}
