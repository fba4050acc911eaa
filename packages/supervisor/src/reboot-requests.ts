import { open, stat } from "node:fs/promises";
import type { Logger } from "@rpi-swarming/core";

/** One line the image's sudo appended: `{"time", "args", "pid"}`. */
export interface RebootRequest {
  readonly time: number | null;
  readonly args: string;
  readonly pid: number | null;
}

/**
 * Follows the reboot-request file the image's sudo appends to. Requests that
 * were there before start() are old news (logged, not acted on).
 */
export class RebootRequestWatcher {
  private offset = 0;
  private partial = "";
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<RebootRequest[]> | null = null;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    private readonly onRequest: (r: RebootRequest) => void,
    private readonly intervalMs = 500,
  ) {}

  async start(): Promise<void> {
    this.offset = await sizeOf(this.path);
    if (this.offset > 0)
      this.log.info({ file: this.path, bytes: this.offset }, "ignoring reboot requests from before start");
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads lines added since the last poll and reports each; returns them. */
  poll(): Promise<RebootRequest[]> {
    if (!this.polling) {
      this.polling = this.readNew().finally(() => {
        this.polling = null;
      });
    }
    return this.polling;
  }

  private async readNew(): Promise<RebootRequest[]> {
    const size = await sizeOf(this.path);
    if (size < this.offset) {
      // Truncated or replaced by someone: start over.
      this.offset = 0;
      this.partial = "";
    }
    if (size === this.offset) return [];
    const fh = await open(this.path, "r");
    let text: string;
    try {
      const buf = Buffer.alloc(Math.min(size - this.offset, 1024 * 1024));
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
      this.offset += bytesRead;
      text = this.partial + buf.subarray(0, bytesRead).toString("utf8");
    } finally {
      await fh.close();
    }
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    const requests = lines.filter((l) => l.trim() !== "").map((l) => this.parse(l));
    for (const r of requests) this.onRequest(r);
    return requests;
  }

  private parse(line: string): RebootRequest {
    try {
      const j = JSON.parse(line) as { time?: unknown; args?: unknown; pid?: unknown };
      return {
        time: typeof j.time === "number" ? j.time : null,
        args: typeof j.args === "string" ? j.args : "",
        pid: typeof j.pid === "number" ? j.pid : null,
      };
    } catch {
      // Still a request: something wrote to the file, most likely sudo with odd arguments.
      this.log.warn({ file: this.path, line: line.slice(0, 200) }, "reboot request line is not JSON");
      return { time: null, args: line.slice(0, 200), pid: null };
    }
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
