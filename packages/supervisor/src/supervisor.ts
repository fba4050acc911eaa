import type { Server } from "node:http";
import { join } from "node:path";
import { closeServer, createMetricsRegistry, type Logger, redactUrl, TokenSource } from "@rpi-swarming/core";
import cron, { type ScheduledTask } from "node-cron";
import { Backoff, sleep } from "./backoff.js";
import { BotCodeFetcher } from "./bot-code.js";
import { BOT_ZIP, BotCodeStore } from "./bot-code-store.js";
import { removeBotPidFile, stopLeftoverBot, writeBotPidFile } from "./bot-pid-file.js";
import { BotProcess } from "./bot-process.js";
import { BotStopReport } from "./bot-stop.js";
import { botCodeDirOf, checkDirectories } from "./dirs.js";
import { BotCodeError } from "./errors.js";
import { startHealthServer } from "./health-server.js";
import { acquireLock, type HeldLock } from "./lock.js";
import { type RestartReason, SupervisorMetrics } from "./metrics.js";
import { type RebootRequest, RebootRequestWatcher } from "./reboot-requests.js";
import type { SupervisorConfig } from "./settings.js";
import { StateServerClient, type StateServerStatus } from "./state-client.js";

export { BOT_ZIP };
export const REBOOT_REQUEST_FILE = "reboot-requests";
export const BOT_PID_FILE = "bot.pid";

/** How often an update restart asks the state server whether the task has ended. */
const IDLE_POLL_MS = 5_000;
/** How often the running version and task state are read for /metrics and /healthz. */
const STATUS_POLL_MS = 10_000;

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
  private readonly store: BotCodeStore;
  private readonly zipPath: string;
  private readonly rebootFile: string;
  private readonly botPidFile: string;
  /** Settles once a bot left by a SIGKILLed supervisor (if any) is gone; no bot starts before. */
  private leftoverStopped: Promise<unknown> = Promise.resolve();
  private readonly stopping = new AbortController();
  private readonly restartBackoff: Backoff;
  private bot: BotProcess | null = null;
  /** Version of the verified swarming_bot.zip in place; null until there is one. */
  private digest: string | null = null;
  /** The version the server announced at the last update check; null until one succeeded. */
  private serverVersion: string | null = null;
  /** What the state server said at the last ask; null when it could not be asked. */
  private lastStatus: StateServerStatus | null = null;
  /** The version the bot's hooks last reported (kept while the state server cannot tell). */
  private runningVersion: string | null = null;
  /** The version of swarming_bot.zip when the current bot started. */
  private startedVersion: string | null = null;
  /** When serverVersion and runningVersion last changed: the newer news wins a restart. */
  private serverVersionSince = 0;
  private runningVersionSince = 0;
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
      tempDir: botCodeDirOf(config),
    });
    this.store = new BotCodeStore({
      botDir: config.botDir,
      codeDir: botCodeDirOf(config),
      verify: (path) => this.fetcher.verify(path),
      log: this.log,
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

  /** Aborts when the supervisor shuts down (for diagnostics and tests: nothing may pile up on it). */
  get stopSignal(): AbortSignal {
    return this.stopping.signal;
  }

  /** The bound /metrics address once run() has started it. */
  get metricsUrl(): string | null {
    return this.healthUrl;
  }

  /** Runs until `stop` resolves; resolves with the process exit code. Throws LockedError/ConfigError. */
  async run(stop: Promise<unknown>): Promise<number> {
    const c = this.config;
    // ConfigError (exit 2) for a shared or bot code dir inside the bot dir, or code on another filesystem.
    await checkDirectories(c.botDir, c.sharedDir, botCodeDirOf(c));
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
    let statusTimer: NodeJS.Timeout | undefined;
    const watcher = this.watcher;
    try {
      await this.tokens.start();
      const health = await startHealthServer({
        host: c.metricsHost,
        port: c.metricsPort,
        registry: this.metrics.registry,
        log: this.log,
        summary: () => ({
          bot_running: this.bot?.running ?? false,
          bot_code_version: this.digest,
          bot_running_version: this.lastStatus?.botVersion ?? null,
          server_bot_version: this.serverVersion,
          task: this.lastStatus?.task ?? "unknown",
        }),
      });
      server = health.server;
      this.healthUrl = health.url;
      this.log.info(
        { metrics: `${health.url}/metrics`, botDir: c.botDir, server: redactUrl(c.swarmingServer), botId: c.botId },
        "supervisor started",
      );
      await watcher.start();
      await this.fetcher.removeStaleTempFiles(this.zipPath);

      // A half-written swarming_bot.zip is checked again, and replaced from the verified copy if bad.
      this.digest = await this.store.prepareStart([]);
      if (this.digest) {
        this.log.info({ version: this.digest }, "starting from the cached bot code");
        this.publishVersions();
        this.resolveCodeReady();
        // Catch up with the server in the background; the bot does not wait for it.
        void this.checkForUpdate("start");
      } else {
        void this.bootstrap();
      }
      statusTimer = setInterval(() => void this.readStatus(), STATUS_POLL_MS);
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
      clearInterval(statusTimer);
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
        this.setServerVersion(latest.digest);
        await this.store.keepVerified(this.zipPath, digest);
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
    this.publishVersions();
    this.resolveCodeReady();
  }

  private setServerVersion(version: string | null): void {
    if (version === null || version === this.serverVersion) return;
    this.serverVersion = version;
    this.serverVersionSince = Date.now();
  }

  private publishVersions(): void {
    this.metrics.setBotCodeVersions({
      disk: this.digest,
      running: this.lastStatus?.botVersion ?? null,
      server: this.serverVersion,
    });
  }

  /** Asks the state server; never throws (null when it cannot be asked). */
  private async readStatus(): Promise<StateServerStatus | null> {
    let status: StateServerStatus | null = null;
    try {
      status = await this.state.status();
    } catch (err) {
      this.log.debug({ message: (err as Error).message }, "cannot ask the state server");
    }
    this.lastStatus = status;
    if (status?.botVersion && status.botVersion !== this.runningVersion) {
      this.log.info({ version: status.botVersion, previous: this.runningVersion }, "the bot reports a version");
      this.runningVersion = status.botVersion;
      this.runningVersionSince = Date.now();
    }
    this.publishVersions();
    return status;
  }

  /**
   * Before a restart: swarming_bot.zip becomes the newest verified code (the
   * server's version or the one the bot last ran, e.g. from the bot's own
   * .1/.2 zip after a self-update), else stays, else comes from the verified copy.
   */
  private async prepareRestart(): Promise<boolean> {
    await this.readStatus();
    // A bot that updated itself after our last check knows a newer server version than we do.
    const prefer =
      this.runningVersionSince > this.serverVersionSince
        ? [this.runningVersion, this.serverVersion]
        : [this.serverVersion, this.runningVersion];
    const version = await this.store.prepareStart(prefer);
    if (version) {
      if (version !== this.digest) this.log.info({ from: this.digest, to: version }, "restarting on newer bot code");
      this.digest = version;
      this.publishVersions();
      return true;
    }
    this.log.error({ file: this.zipPath }, "no usable bot code left: downloading it again");
    this.digest = null;
    this.publishVersions();
    this.codeReady = new Promise((r) => {
      this.resolveCodeReady = r;
    });
    void this.bootstrap();
    const signal = this.stopping.signal;
    await Promise.race([this.codeReady, new Promise((r) => signal.addEventListener("abort", r, { once: true }))]);
    return !signal.aborted;
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
      // Chosen during the backoff, so the restart is not later for it.
      const prepared = this.prepareRestart();
      if (delay > 0) {
        this.wake = new AbortController();
        await sleep(delay, AbortSignal.any([signal, this.wake.signal]));
      }
      if (!(await prepared) || signal.aborted) return;
      // Woken for new code that arrived during the wait: choose again, the newest is wanted.
      if (this.pendingReason === "update" && !(await this.prepareRestart())) return;
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
    this.startedVersion = this.digest;
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

  /**
   * One update check (also public for tests): asks /bot_code for the
   * server's version; when swarming_bot.zip already is that version it is a
   * no-op (no download, no restart). Otherwise the code comes from a local
   * verified copy (the bot may have downloaded it itself) or is downloaded,
   * and a restart is owed only if the bot does not run it already.
   */
  async checkForUpdate(why: "start" | "schedule"): Promise<void> {
    const signal = this.stopping.signal;
    if (signal.aborted) return;
    if (this.digest === null) {
      // The bootstrap download is under way; a second one alongside would only fetch the same zip again.
      this.log.debug({ why }, "no bot code in place yet: update check skipped");
      return;
    }
    try {
      const latest = await this.fetcher.latest(signal);
      this.setServerVersion(latest.digest);
      await this.readStatus();
      const disk = await this.store.check(this.zipPath);
      if (latest.digest !== null && disk.state === "ok" && disk.digest === latest.digest) {
        this.metrics.updateChecks.inc({ result: "unchanged" });
        if (disk.digest !== this.digest) {
          // The bot replaced swarming_bot.zip with the code it updated itself to.
          this.log.info({ from: this.digest, to: disk.digest }, "the bot code on disk changed (the bot's own update)");
          this.codeArrived(disk.digest);
        }
        await this.store.keepVerified(this.zipPath, disk.digest);
        this.log.debug({ why, version: latest.digest }, "bot code unchanged");
      } else {
        const local = latest.digest === null ? null : await this.store.findLocal(latest.digest);
        let digest: string;
        if (local !== null && latest.digest !== null && (await this.store.install(local, latest.digest))) {
          digest = latest.digest;
        } else {
          digest = await this.fetcher.download(latest.url, this.zipPath, latest.digest, signal);
        }
        await this.store.keepVerified(this.zipPath, digest);
        const changed = digest !== this.digest;
        this.metrics.updateChecks.inc({ result: changed ? "changed" : "unchanged" });
        if (changed) {
          this.log.info({ why, from: this.digest, to: digest }, "new bot code in place");
          this.codeArrived(digest);
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
    const want = this.serverVersion ?? this.digest;
    // What the bot runs: its own report, else (state server cannot tell) the code it was started from.
    const runs = this.lastStatus?.botVersion ?? this.startedVersion;
    if (want !== null && runs === want) {
      // Never restart a bot that already runs the server's current version.
      if (this.owedUpdate) this.log.info({ version: want }, "bot updated itself");
      this.owedUpdate = null;
    } else if (want !== null && this.bot?.running) {
      this.owedUpdate = want;
    }
    if (this.owedUpdate && !this.updateWatch) {
      this.updateWatch = this.restartForUpdate().finally(() => {
        this.updateWatch = null;
      });
    }
  }

  /**
   * After new code arrived: give the bot updateGraceSeconds to update itself;
   * if it still reports another version, restart it once no task runs,
   * waiting at most idleWaitMaxSeconds. While the state server cannot tell
   * (task or version unknown) the bot is not restarted.
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
    let loggedWait = "";
    while (!signal.aborted && this.owedUpdate === want) {
      const status = await this.readStatus();
      if (status?.botVersion === want) {
        this.log.info({ version: want }, "bot updated itself");
        this.owedUpdate = null;
        return;
      }
      if (status?.task === "idle" && status.botVersion !== null) {
        this.log.info({ reported: status.botVersion, want }, "bot runs old code and is idle: restarting it");
        this.owedUpdate = null;
        this.pendingReason = "update";
        await this.stopBot();
        return;
      }
      const wait = status?.task === "running" ? "task" : "unknown";
      if (wait !== loggedWait) {
        if (wait === "task")
          this.log.info({ maxWaitSeconds: c.idleWaitMaxSeconds }, "bot runs old code; waiting for its task to end");
        else
          this.log.warn(
            { task: status?.task ?? "unknown", reported: status?.botVersion ?? null, want },
            "cannot tell whether a task runs or which version the bot runs: not restarting yet",
          );
        loggedWait = wait;
      }
      if (Date.now() >= deadline) {
        this.log.warn({ want }, "bot stayed busy: update restart postponed to the next check");
        return;
      }
      await sleep(Math.min(IDLE_POLL_MS, Math.max(0, deadline - Date.now())), signal);
    }
  }
}
