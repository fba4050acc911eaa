import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import { join } from "node:path";
import { closeServer, createMetricsRegistry, type Logger, redactUrl, TokenSource } from "@rpi-swarming/core";
import cron, { type ScheduledTask } from "node-cron";
import { Backoff, sleep } from "./backoff.js";
import { BotCodeFetcher } from "./bot-code.js";
import { removeBotPidFile, stopLeftoverBot, writeBotPidFile } from "./bot-pid-file.js";
import { BotProcess } from "./bot-process.js";
import { BotStopReport } from "./bot-stop.js";
import { BotCodeError } from "./errors.js";
import { startHealthServer } from "./health-server.js";
import { acquireLock, type HeldLock } from "./lock.js";
import { type RestartReason, SupervisorMetrics } from "./metrics.js";
import { type RebootRequest, RebootRequestWatcher } from "./reboot-requests.js";
import type { SupervisorConfig } from "./settings.js";
import { StateServerClient } from "./state-client.js";

export const BOT_ZIP = "swarming_bot.zip";
export const REBOOT_REQUEST_FILE = "reboot-requests";
export const BOT_PID_FILE = "bot.pid";

/** How often an update restart asks the state server whether the task has ended. */
const IDLE_POLL_MS = 5_000;

/**
 * Keeps one Swarming bot running from a bot directory: fetches and verifies
 * its code, restarts it with backoff, follows reboot requests and code
 * updates, and stops it cleanly on shutdown.
 */
export class Supervisor {
  private readonly log: Logger;
  private readonly metrics: SupervisorMetrics;
  private readonly tokens: TokenSource;
  private readonly fetcher: BotCodeFetcher;
  private readonly state: StateServerClient;
  private readonly zipPath: string;
  private readonly rebootFile: string;
  private readonly botPidFile: string;
  /** Settles once a bot left by a SIGKILLed supervisor (if any) is gone; no bot starts before. */
  private leftoverStopped: Promise<unknown> = Promise.resolve();
  private readonly stopping = new AbortController();
  private readonly restartBackoff: Backoff;
  private bot: BotProcess | null = null;
  /** Digest of the verified zip in place; null until there is one. */
  private digest: string | null = null;
  /** Set before the supervisor itself stops the bot, so its exit is counted under this reason. */
  private pendingReason: RestartReason | null = null;
  /** Wakes the restart loop early (code arrived, update or reboot restart). */
  private wake = new AbortController();
  /** A digest the running bot should report; set while an update restart is owed. */
  private owedUpdate: string | null = null;
  private updateWatch: Promise<void> | null = null;
  /** While set, the bot is not started again (a device reboot is being requested). */
  private restartHold: Promise<void> | null = null;
  private codeReady: Promise<void>;
  private resolveCodeReady: () => void = () => undefined;
  private healthUrl: string | null = null;
  private readonly watcher: RebootRequestWatcher;
  private readonly stopReport: BotStopReport;

  constructor(
    private readonly config: SupervisorConfig,
    rootLog: Logger,
  ) {
    this.log = rootLog.child({ component: "supervisor" });
    this.metrics = new SupervisorMetrics(createMetricsRegistry(config.botId));
    this.tokens = new TokenSource({ configPath: config.tokenConfig, log: rootLog, metrics: this.metrics.registry });
    this.fetcher = new BotCodeFetcher({
      server: config.swarmingServer,
      botId: config.botId,
      tokens: this.tokens,
      log: rootLog,
      metrics: this.metrics,
      timeoutMs: config.downloadTimeoutSeconds * 1000,
    });
    this.state = new StateServerClient(config.stateServerUrl);
    this.stopReport = new BotStopReport(this.log, this.metrics, this.state);
    this.zipPath = join(config.botDir, BOT_ZIP);
    this.rebootFile = join(config.sharedDir, REBOOT_REQUEST_FILE);
    this.botPidFile = join(config.sharedDir, BOT_PID_FILE);
    this.restartBackoff = new Backoff(
      config.restartBackoffMinSeconds * 1000,
      Math.max(config.restartBackoffMinSeconds, config.restartBackoffMaxSeconds) * 1000,
    );
    this.watcher = new RebootRequestWatcher(this.rebootFile, this.log, (r) => this.onRebootRequest(r));
    this.codeReady = new Promise((r) => {
      this.resolveCodeReady = r;
    });
  }

  /** The bound /metrics address once run() has started it. */
  get metricsUrl(): string | null {
    return this.healthUrl;
  }

  /** Runs until `stop` resolves; resolves with the process exit code. Throws LockedError/ConfigError. */
  async run(stop: Promise<unknown>): Promise<number> {
    const c = this.config;
    await mkdir(c.sharedDir, { recursive: true });
    await mkdir(c.botDir, { recursive: true });
    // Keyed on the bot dir (beside it), so another --shared-dir cannot start a second bot there.
    const lock: HeldLock = await acquireLock(c.botDir, `bot directory ${c.botDir}`, {
      onLost: (message) => this.log.error({ message }, "lost the supervisor lock"),
      onWait: (message) => this.log.info({ message }, "waiting for the supervisor lock"),
    });
    if (lock.tookOverFrom !== null)
      this.log.warn({ lock: lock.path, deadPid: lock.tookOverFrom }, "took over a stale lock");
    // In the background, so /healthz answers during the grace period.
    this.leftoverStopped = stopLeftoverBot(this.botPidFile, c.shutdownGraceSeconds * 1000, this.log).then((r) =>
      this.stopReport.leftover(r),
    );
    let server: Server | null = null;
    let task: ScheduledTask | null = null;
    const watcher = this.watcher;
    try {
      await this.tokens.start();
      const health = await startHealthServer({
        host: c.metricsHost,
        port: c.metricsPort,
        registry: this.metrics.registry,
        log: this.log,
        summary: () => ({ bot_running: this.bot?.running ?? false, bot_code_version: this.digest }),
      });
      server = health.server;
      this.healthUrl = health.url;
      this.log.info(
        { metrics: `${health.url}/metrics`, botDir: c.botDir, server: redactUrl(c.swarmingServer), botId: c.botId },
        "supervisor started",
      );
      await watcher.start();
      await this.fetcher.removeStaleTempFiles(this.zipPath);

      this.digest = await this.fetcher.cachedDigest(this.zipPath);
      if (this.digest) {
        this.log.info({ version: this.digest }, "starting from the cached bot code");
        this.metrics.setBotCodeVersion(this.digest);
        this.resolveCodeReady();
        // Catch up with the server in the background; the bot does not wait for it.
        void this.checkForUpdate("start");
      } else {
        void this.bootstrap();
      }
      task = cron.schedule(c.updateSchedule, () => this.checkForUpdate("schedule"), {
        name: "bot-code-update-check",
        noOverlap: true,
        maxRandomDelay: c.updateJitterSeconds * 1000,
        logger: this.cronLogger(),
      });
      const loop = this.botLoop();
      const signal = await stop;
      this.log.info({ signal }, "shutting down");
      this.stopping.abort();
      await task.stop();
      watcher.stop();
      await this.stopBot();
      await loop;
      await this.leftoverStopped;
      return 0;
    } finally {
      this.stopping.abort();
      if (task) await task.destroy();
      watcher.stop();
      if (this.bot) {
        this.bot.killSessionNow();
        if (this.bot.pid !== undefined) removeBotPidFile(this.botPidFile, this.bot.pid);
      }
      this.tokens.stop();
      if (server) await closeServer(server);
      lock.release();
    }
  }

  /** node-cron's own messages (e.g. a tick skipped while a check still runs) as records of ours. */
  private cronLogger() {
    const log = this.log.child({ component: "update-schedule" });
    const text = (m: string | Error) => (m instanceof Error ? m.message : m);
    return {
      info: (m: string) => log.debug({ cron: m }, "node-cron"),
      warn: (m: string) => log.debug({ cron: m }, "node-cron"),
      error: (m: string | Error) => log.warn({ cron: text(m) }, "node-cron"),
      debug: (m: string | Error) => log.trace({ cron: text(m) }, "node-cron"),
    };
  }

  /** Downloads bot code until it is in place (no cached copy at start). */
  private async bootstrap(): Promise<void> {
    const backoff = new Backoff(1000, this.config.downloadBackoffMaxSeconds * 1000);
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        const latest = await this.fetcher.latest(signal).catch((err: unknown) => {
          // Without a copy, asking /bot_code is the first half of the download: count its failures there.
          if (err instanceof BotCodeError && !signal.aborted) this.metrics.downloads.inc({ result: err.result });
          throw err;
        });
        const digest = await this.fetcher.download(latest.url, this.zipPath, latest.digest, signal);
        this.codeArrived(digest);
        return;
      } catch (err) {
        if (signal.aborted) return;
        const delay = backoff.next();
        this.log.error(
          { err: { name: (err as Error).name, message: (err as Error).message }, retryInMs: delay },
          "cannot get the bot code",
        );
        await sleep(delay, signal);
      }
    }
  }

  private codeArrived(digest: string): void {
    this.digest = digest;
    this.metrics.setBotCodeVersion(digest);
    this.resolveCodeReady();
  }

  /** Starts the bot, waits for it to exit, starts it again after a backoff; ends on shutdown. */
  private async botLoop(): Promise<void> {
    const signal = this.stopping.signal;
    await Promise.race([this.codeReady, new Promise((r) => signal.addEventListener("abort", r, { once: true }))]);
    await this.leftoverStopped;
    while (!signal.aborted) {
      const bot = this.startBot();
      const exit = await bot.exited;
      this.stopReport.exitedWithOrphans(exit, bot.pid);
      // Its session is gone (BotProcess kills it on exit): nothing for a later supervisor to stop.
      if (bot.pid !== undefined) removeBotPidFile(this.botPidFile, bot.pid);
      this.bot = null;
      this.metrics.botUp.set(0);
      if (signal.aborted) return;
      const ranMs = Date.now() - bot.startedAt;
      if (ranMs >= this.config.stableRunSeconds * 1000) this.restartBackoff.reset();
      // sudo writes its request, then kills the bot: read the file before judging the exit.
      await this.pollRebootRequests();
      const reason = this.pendingReason ?? (exit.signal ? "signal" : "exit");
      this.pendingReason = null;
      const delay = reason === "exit" || reason === "signal" ? this.restartBackoff.next() : 0;
      this.log.warn(
        {
          reason,
          code: exit.code,
          signal: exit.signal,
          spawnError: exit.spawnError?.message,
          ranSeconds: Math.round(ranMs / 1000),
          restartInMs: delay,
        },
        "bot exited",
      );
      if (this.restartHold) await this.restartHold;
      if (delay > 0) {
        this.wake = new AbortController();
        await sleep(delay, AbortSignal.any([signal, this.wake.signal]));
      }
      if (signal.aborted) return;
      this.metrics.restarts.inc({ reason: this.pendingReason ?? reason });
      this.pendingReason = null;
    }
  }

  private startBot(): BotProcess {
    const c = this.config;
    const bot = new BotProcess({
      python: c.python,
      botDir: c.botDir,
      zipName: BOT_ZIP,
      botId: c.botId,
      sudoDir: c.sudoDir,
      rebootRequestFile: this.rebootFile,
      log: this.log.child({ component: "bot" }),
    });
    this.bot = bot;
    if (bot.pid !== undefined) {
      try {
        writeBotPidFile(this.botPidFile, bot.pid);
      } catch (err) {
        // The bot runs anyway; only a SIGKILLed supervisor's successor would miss this record.
        this.log.warn({ file: this.botPidFile, message: (err as Error).message }, "cannot record the bot's pid");
      }
    }
    this.metrics.botUp.set(bot.pid === undefined ? 0 : 1);
    this.metrics.botStartTime.set(Math.floor(bot.startedAt / 1000));
    this.log.info({ pid: bot.pid, version: this.digest }, "bot started");
    return bot;
  }

  private async stopBot(): Promise<void> {
    const bot = this.bot;
    if (!bot?.running) return;
    const graceMs = this.config.shutdownGraceSeconds * 1000;
    this.log.info({ pid: bot.pid, graceSeconds: this.config.shutdownGraceSeconds }, "stopping the bot");
    const taskRunning = this.stopReport.taskRunning();
    const { exit } = await bot.terminate(graceMs);
    this.stopReport.stopped(exit, graceMs, await taskRunning, bot.pid);
  }

  private async pollRebootRequests(): Promise<void> {
    try {
      await this.watcher.poll();
    } catch (err) {
      this.log.warn({ message: (err as Error).message }, "cannot read reboot requests");
    }
  }

  private onRebootRequest(r: RebootRequest): void {
    this.metrics.rebootRequests.inc();
    const mode = this.config.onRebootRequest;
    this.log.warn({ args: r.args, pid: r.pid, mode }, "the bot asked for a reboot");
    this.pendingReason = "reboot_request";
    if (mode !== "restart") {
      const reboot = this.state
        .rebootDevice(`bot asked for a host reboot: ${r.args}`)
        .then(() => this.log.info({}, "state server is rebooting the device"))
        .catch((err: Error) => this.log.error({ message: err.message }, "device reboot request failed"));
      // reboot-device: the bot starts again once the state server has taken the request.
      if (mode === "reboot-device") {
        this.restartHold = reboot.finally(() => {
          this.restartHold = null;
        });
      }
    }
    this.wake.abort();
    // sudo normally has killed the bot already; if not, stop it now.
    if (this.bot?.running) void this.stopBot();
  }

  /** One update check: compares the server's digest with ours; downloads and schedules a restart on change. */
  private async checkForUpdate(why: "start" | "schedule"): Promise<void> {
    const signal = this.stopping.signal;
    if (signal.aborted) return;
    try {
      const latest = await this.fetcher.latest(signal);
      if (latest.digest !== null && latest.digest === this.digest) {
        this.metrics.updateChecks.inc({ result: "unchanged" });
        this.log.debug({ why, version: latest.digest }, "bot code unchanged");
      } else {
        const digest = await this.fetcher.download(latest.url, this.zipPath, latest.digest, signal);
        const changed = digest !== this.digest;
        this.metrics.updateChecks.inc({ result: changed ? "changed" : "unchanged" });
        if (changed) {
          this.log.info({ why, from: this.digest, to: digest }, "new bot code in place");
          const hadCode = this.digest !== null;
          this.codeArrived(digest);
          if (hadCode) this.owedUpdate = digest;
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      this.metrics.updateChecks.inc({ result: "error" });
      this.log.error(
        { why, err: { name: (err as Error).name, message: (err as Error).message } },
        "update check failed",
      );
    }
    if (this.owedUpdate && !this.updateWatch) {
      this.updateWatch = this.restartForUpdate().finally(() => {
        this.updateWatch = null;
      });
    }
  }

  /**
   * After new code arrived: give the bot updateGraceSeconds to update itself;
   * if it still reports another version (or is not running), restart it once
   * no task runs, waiting at most idleWaitMaxSeconds.
   */
  private async restartForUpdate(): Promise<void> {
    const c = this.config;
    const signal = this.stopping.signal;
    const want = this.owedUpdate;
    if (!want) return;
    if (this.bot?.running && !(await sleep(c.updateGraceSeconds * 1000, signal))) return;
    if (this.owedUpdate !== want) return;
    if (!this.bot?.running) {
      // Waiting out a restart backoff: start the new code now.
      this.owedUpdate = null;
      this.pendingReason = "update";
      this.wake.abort();
      return;
    }
    const deadline = Date.now() + c.idleWaitMaxSeconds * 1000;
    let loggedWait = false;
    while (!signal.aborted && this.owedUpdate === want) {
      let status: Awaited<ReturnType<StateServerClient["status"]>> | null = null;
      try {
        status = await this.state.status();
      } catch (err) {
        this.log.warn({ message: (err as Error).message }, "cannot tell whether a task runs: not restarting yet");
      }
      if (status?.botVersion === want) {
        this.log.info({ version: want }, "bot updated itself");
        this.owedUpdate = null;
        return;
      }
      if (status && !status.taskRunning) {
        this.log.info({ reported: status.botVersion, want }, "bot runs old code and is idle: restarting it");
        this.owedUpdate = null;
        this.pendingReason = "update";
        await this.stopBot();
        return;
      }
      if (status && !loggedWait) {
        this.log.info({ maxWaitSeconds: c.idleWaitMaxSeconds }, "bot runs old code; waiting for its task to end");
        loggedWait = true;
      }
      if (Date.now() >= deadline) {
        this.log.warn({ want }, "bot stayed busy: update restart postponed to the next check");
        return;
      }
      await sleep(Math.min(IDLE_POLL_MS, Math.max(0, deadline - Date.now())), signal);
    }
  }
}
