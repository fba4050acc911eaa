import type { Logger } from "@rpi-swarming/core";
import type { LeftoverBotResult } from "./bot-pid-file.js";
import type { BotExit } from "./bot-process.js";
import type { SessionProcess } from "./bot-session.js";
import type { SupervisorMetrics } from "./metrics.js";
import type { StateServerClient } from "./state-client.js";

/** How long the state server may take to say whether a task runs, when the bot is being stopped. */
const STATUS_TIMEOUT_MS = 2_000;

const listed = (ps: readonly SessionProcess[]) => ps.map((p) => ({ pid: p.pid, comm: p.comm }));
const seconds = (ms: number) => Math.round(ms / 100) / 10;

/**
 * Says what happened when a bot stopped: how long it took after SIGTERM,
 * whether the grace ran out and a task was cut (metrics and one log record).
 */
export class BotStopReport {
  constructor(
    private readonly log: Logger,
    private readonly metrics: SupervisorMetrics,
    private readonly state: StateServerClient,
  ) {}

  /**
   * Whether the state server says a task runs, asked as SIGTERM goes out (at
   * the grace's end it may be stopping too); null when it cannot tell.
   */
  taskRunning(): Promise<boolean | null> {
    const timeout = new Promise<null>((r) => setTimeout(r, STATUS_TIMEOUT_MS, null).unref());
    const status = this.state.status().then(
      (s) => (s.task === "unknown" ? null : s.task === "running"),
      () => null,
    );
    return Promise.race([status, timeout]);
  }

  /** After terminate(): the stop time, and a cut task if the grace ran out. */
  stopped(exit: BotExit, graceMs: number, taskRunning: boolean | null, pid: number | undefined): void {
    const stop = exit.stop;
    if (!stop) return;
    const took = stop.exitedAt - stop.sigtermAt;
    this.metrics.stopDuration.observe({ outcome: stop.graceExpired ? "killed" : "exited" }, took / 1000);
    if (!stop.graceExpired) {
      this.log.info({ code: exit.code, signal: exit.signal, sinceSigtermSeconds: seconds(took) }, "bot stopped");
      return;
    }
    const context = {
      pid,
      graceSeconds: graceMs / 1000,
      sinceSigtermSeconds: seconds(took),
      taskRunningAtSigterm: taskRunning,
      killed: listed(exit.swept),
    };
    if (exit.swept.length > 0) {
      this.metrics.tasksCut.inc({ reason: "grace_expired" });
      this.log.warn(
        context,
        "shutdown grace ran out: killed the bot and the processes of its session; its task is cut",
      );
    } else {
      this.log.warn(
        context,
        "shutdown grace ran out: the bot had no task process but did not exit after SIGTERM; killed it",
      );
    }
  }

  /** A bot that exited by itself (crash, SIGKILL) while processes of its session ran: they were killed. */
  exitedWithOrphans(exit: BotExit, pid: number | undefined): void {
    if (exit.stop || exit.swept.length === 0) return;
    this.metrics.tasksCut.inc({ reason: "bot_exit" });
    this.log.warn(
      { pid, code: exit.code, signal: exit.signal, killed: listed(exit.swept) },
      "the bot exited while processes of its session ran: killed them; its task is cut",
    );
  }

  /** Start-up: what stopping a previous supervisor's bot found. */
  leftover(result: LeftoverBotResult): void {
    if (result.stopMs !== undefined)
      this.metrics.stopDuration.observe({ outcome: result.killed ? "killed" : "exited" }, result.stopMs / 1000);
    if (result.swept.length > 0) this.metrics.tasksCut.inc({ reason: "leftover" });
  }
}
