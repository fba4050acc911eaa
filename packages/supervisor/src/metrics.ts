import { METRIC_PREFIX } from "@rpi-swarming/core";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export type RestartReason = "exit" | "signal" | "reboot_request" | "update";
export type DownloadResult =
  | "success"
  | "auth_error"
  | "http_error"
  | "network_error"
  | "timeout"
  | "truncated"
  | "corrupt"
  | "disk_error";
export type UpdateCheckResult = "unchanged" | "changed" | "error";
/** Why processes of a task were killed (rpi_swarming_bot_tasks_cut_total). */
export type TaskCutReason = "grace_expired" | "bot_exit" | "leftover";
export type StopOutcome = "exited" | "killed";

const RESTART_REASONS: readonly RestartReason[] = ["exit", "signal", "reboot_request", "update"];
const DOWNLOAD_RESULTS: readonly DownloadResult[] = [
  "success",
  "auth_error",
  "http_error",
  "network_error",
  "timeout",
  "truncated",
  "corrupt",
  "disk_error",
];
const CHECK_RESULTS: readonly UpdateCheckResult[] = ["unchanged", "changed", "error"];
const CUT_REASONS: readonly TaskCutReason[] = ["grace_expired", "bot_exit", "leftover"];

/** The supervisor's metrics (docs/metrics.md, section Supervisor). */
export class SupervisorMetrics {
  readonly botUp: Gauge;
  readonly botStartTime: Gauge;
  readonly restarts: Counter<"reason">;
  readonly rebootRequests: Counter;
  readonly downloads: Counter<"result">;
  readonly downloadDuration: Histogram;
  readonly downloadBytes: Counter;
  readonly updateChecks: Counter<"result">;
  readonly botCodeInfo: Gauge<"version" | "running_version" | "server_version">;
  readonly tasksCut: Counter<"reason">;
  readonly stopDuration: Histogram<"outcome">;

  constructor(readonly registry: Registry) {
    const p = METRIC_PREFIX;
    const registers = [registry];
    this.botUp = new Gauge({ name: `${p}bot_up`, help: "1 while the bot process runs", registers });
    this.botStartTime = new Gauge({
      name: `${p}bot_start_time_seconds`,
      help: "unix time the current bot process started",
      registers,
    });
    this.restarts = new Counter({
      name: `${p}bot_restarts_total`,
      help: "bot restarts",
      labelNames: ["reason"],
      registers,
    });
    this.rebootRequests = new Counter({
      name: `${p}bot_reboot_requests_total`,
      help: "reboots the bot asked for through the image's sudo",
      registers,
    });
    this.downloads = new Counter({
      name: `${p}bot_code_downloads_total`,
      help: "bot code downloads",
      labelNames: ["result"],
      registers,
    });
    this.downloadDuration = new Histogram({
      name: `${p}bot_code_download_duration_seconds`,
      help: "download time of successful downloads",
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.downloadBytes = new Counter({
      name: `${p}bot_code_download_bytes_total`,
      help: "bytes of bot code received",
      registers,
    });
    this.updateChecks = new Counter({
      name: `${p}bot_code_update_checks_total`,
      help: "scheduled update checks",
      labelNames: ["result"],
      registers,
    });
    this.botCodeInfo = new Gauge({
      name: `${p}bot_code_info`,
      help: "bot code versions: version = swarming_bot.zip on disk, running_version = what the bot's hooks last reported, server_version = what the server announces (unknown until known)",
      labelNames: ["version", "running_version", "server_version"],
      registers,
    });
    this.tasksCut = new Counter({
      name: `${p}bot_tasks_cut_total`,
      help: "times processes of the bot's session (its task) were killed: the shutdown grace ran out, the bot died during a task, or a previous bot's session was left running",
      labelNames: ["reason"],
      registers,
    });
    this.stopDuration = new Histogram({
      name: `${p}bot_stop_duration_seconds`,
      help: "time from SIGTERM to the bot's exit; outcome killed: the shutdown grace ran out",
      labelNames: ["outcome"],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
      registers,
    });
    this.botUp.set(0);
    // Every labelled series exists from the start, so rate() and alerts see zeros.
    for (const reason of RESTART_REASONS) this.restarts.inc({ reason }, 0);
    for (const result of DOWNLOAD_RESULTS) this.downloads.inc({ result }, 0);
    for (const result of CHECK_RESULTS) this.updateChecks.inc({ result }, 0);
    for (const reason of CUT_REASONS) this.tasksCut.inc({ reason }, 0);
  }

  /** One series naming the three versions; null = not known (yet). */
  setBotCodeVersions(v: { disk: string | null; running: string | null; server: string | null }): void {
    this.botCodeInfo.reset();
    if (v.disk === null) return;
    this.botCodeInfo.set(
      { version: v.disk, running_version: v.running ?? "unknown", server_version: v.server ?? "unknown" },
      1,
    );
  }
}
