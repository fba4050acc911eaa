import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@rpi-swarming/core";
import type { OperatorMessage } from "@rpi-swarming/devices";

/** A message longer than this is cut: it ends up in the Swarming UI, not in a book. */
const MAX_MESSAGE_CHARS = 1000;

export interface MaintenanceWatcherOptions {
  readonly dir: string;
  readonly botId: string;
  readonly log: Logger;
  /** Called with the current messages whenever they change. */
  readonly onChange: (messages: readonly OperatorMessage[]) => void;
  /** Periodic re-read, because ConfigMap mounts swap a symlink that fs.watch may not report. */
  readonly pollMs?: number;
}

/**
 * Watches the operator maintenance directory: a file named after the bot id
 * or `all` puts the bot into maintenance with the file's content as message;
 * removing it ends that. Picked up without a restart.
 */
export class MaintenanceWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private current: readonly OperatorMessage[] = [];
  private key = "";
  private reading: Promise<void> | undefined;
  private again = false;
  private watchFailed = false;

  constructor(private readonly opts: MaintenanceWatcherOptions) {}

  get messages(): readonly OperatorMessage[] {
    return this.current;
  }

  /** Reads once, then watches. */
  async start(): Promise<void> {
    await this.refresh();
    this.startWatch();
    this.timer = setInterval(() => {
      if (!this.watcher) this.startWatch();
      void this.refresh();
    }, this.opts.pollMs ?? 5000);
    this.timer.unref();
  }

  private startWatch(): void {
    try {
      this.watcher = watch(this.opts.dir, { persistent: false }, () => void this.refresh());
      this.watcher.on("error", () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
      this.watchFailed = false;
    } catch (err) {
      // A missing directory is normal (no ConfigMap mounted); the poll keeps looking.
      if (!this.watchFailed)
        this.opts.log.info({ dir: this.opts.dir, err: (err as Error).message }, "maintenance directory not watched");
      this.watchFailed = true;
    }
  }

  /** Re-reads the two files; serialised so events arriving together read once more at most. */
  refresh(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        await this.readOnce();
      } while (this.again);
    })().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    const found: OperatorMessage[] = [];
    for (const name of [this.opts.botId, "all"]) {
      const path = join(this.opts.dir, name);
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "ENOENT" && code !== "ENOTDIR")
          this.opts.log.warn({ path, err: (err as Error).message }, "maintenance file unreadable");
        continue;
      }
      const message = text.replace(/\s+/g, " ").trim().slice(0, MAX_MESSAGE_CHARS);
      found.push({ source: path, message: message || `Maintenance requested by operator` });
    }
    const key = JSON.stringify(found);
    if (key === this.key) return;
    const first = this.key === "";
    this.key = key;
    if (first && found.length === 0) return;
    this.current = found;
    this.opts.log.info({ messages: found }, "operator maintenance changed");
    this.opts.onChange(found);
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
