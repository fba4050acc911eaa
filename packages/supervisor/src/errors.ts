import { RpiSwarmingError } from "@rpi-swarming/core";
import type { DownloadResult } from "./metrics.js";

/** A bot code check or download failed; `result` is its label in rpi_swarming_bot_code_downloads_total. */
export class BotCodeError extends RpiSwarmingError {
  constructor(
    message: string,
    readonly result: Exclude<DownloadResult, "success">,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
