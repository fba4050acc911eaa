import { UpstreamError } from "@rpi-swarming/core";
import got from "got";
import { z } from "zod";

const statusSchema = z.object({
  task_running: z.boolean(),
  bot_version: z.string().nullable().optional(),
});

export interface StateServerStatus {
  readonly taskRunning: boolean;
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
    if (!parsed.success) throw new UpstreamError(`state server ${url} answered without a boolean task_running`);
    return { taskRunning: parsed.data.task_running, botVersion: parsed.data.bot_version ?? null };
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
