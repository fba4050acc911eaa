import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeServer, createLogger, jsonErrors, type Logger, listen } from "@rpi-swarming/core";
import Koa from "koa";
import { botApiRouter, recordStatus } from "./bot-api.js";
import { publishZip } from "./bot-code.js";
import { controlApiRouter } from "./control-api.js";
import { DoubleStore } from "./store.js";
import type {
  BotCodeFault,
  BotRecord,
  Dimensions,
  DoubleCommand,
  DoubleState,
  PublishedBotCode,
  QueuedCommand,
  RequestRecord,
  TaskRecord,
} from "./types.js";
import { buildStandInBotZip } from "./zip-builder.js";

/** Where published bot code comes from: a zip on disk, or a stand-in bot built against this double. */
export type BotCodeSource =
  | { zipPath: string }
  | { standIn: { hookScript: string; extraFiles?: Record<string, string> } };

export interface SwarmingDoubleOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** Bearer token the bot API and /bot_code require; no auth when unset. */
  readonly token?: string;
  /** Bot code published at start. */
  readonly botCode?: BotCodeSource;
  /** bot_group_cfg dimensions sent in the handshake (override the bot's own). Default {pool: ["rpi-swarming-double"]}. */
  readonly serverDimensions?: Dimensions;
  /** Duration of the sleep command when nothing is queued. Default 1 s. */
  readonly defaultSleepSeconds?: number;
  /** Reply `update` to a bot that reports a version other than the current one (like Swarming). Default true. */
  readonly autoUpdate?: boolean;
  /** A hook script the handshake injects as bot_config (as a Swarming bot group's bot_config_script). */
  readonly botConfigScript?: { name: string; content: string };
  /** Directory for built and uploaded zips; default a fresh temporary directory, removed by close(). */
  readonly workDir?: string;
  readonly log?: Logger;
}

export interface SwarmingDouble {
  /** Base URL, no trailing slash. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  /** Publishes bot code and makes it current; bots on another version get `update` on their next poll. */
  publishBotCode(source: BotCodeSource): Promise<PublishedBotCode>;
  /** Queues a command for the next poll of `botId` (or of any bot). */
  enqueue(command: DoubleCommand, botId?: string): QueuedCommand;
  /** Makes /bot_code and the zip download misbehave; null clears. */
  setFault(fault: BotCodeFault | null): void;
  /** Changes the required bearer token; undefined turns auth off. */
  setToken(token: string | undefined): void;
  /** Off: polls are not answered with `update`, as if the bot could not update itself (tests of the supervisor's own downloads). */
  setAutoUpdate(enabled: boolean): void;
  /** The next task_update for this task is answered with must_stop. */
  cancelTask(taskId: string): boolean;
  currentVersion(): string | undefined;
  bots(): BotRecord[];
  bot(id: string): BotRecord | undefined;
  tasks(): TaskRecord[];
  requests(): RequestRecord[];
  state(): DoubleState;
  /** Resolves with the first truthy value of `check(double)`, re-checked whenever the double records something. */
  waitFor<T>(
    check: (d: SwarmingDouble) => T | undefined | null | false,
    options?: { timeoutMs?: number; what?: string },
  ): Promise<T>;
}

const clone = <T>(v: T): T => structuredClone(v);

/** Starts the local Swarming server double (tests and the demo only; production code never imports it). */
export async function startSwarmingDouble(options: SwarmingDoubleOptions = {}): Promise<SwarmingDouble> {
  const log = (options.log ?? createLogger({ name: "swarming-double", level: "warn", stream: process.stderr })).child({
    component: "swarming-double",
  });
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), "swarming-double-")));
  const store = new DoubleStore({
    defaultSleepSeconds: options.defaultSleepSeconds ?? 1,
    autoUpdate: options.autoUpdate ?? true,
  });
  let token = options.token;
  let url = "";
  let endClosing: () => void = () => {};
  const closing = new Promise<void>((resolve) => {
    endClosing = resolve;
  });
  const script = options.botConfigScript;
  let builds = 0;

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    endClosing();
    const closed = closeServer(server);
    // A test double stops at once: in-flight (slow or hanging) downloads are cut.
    server.closeAllConnections();
    await closed;
    store.removeAllListeners();
    if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
  };

  const app = new Koa();
  const double: SwarmingDouble = {
    get url() {
      return url;
    },
    get port() {
      return Number(new URL(url).port);
    },
    close() {
      stopped ??= stop();
      return stopped;
    },
    async publishBotCode(source) {
      let zipPath: string;
      if ("zipPath" in source) zipPath = source.zipPath;
      else {
        const built = await buildStandInBotZip({
          server: url,
          hookScript: source.standIn.hookScript,
          outPath: join(workDir, `standin-${++builds}.zip`),
          extraFiles: source.standIn.extraFiles ?? {},
        });
        zipPath = built.path;
      }
      const code = await publishZip(store, zipPath);
      log.info({ digest: code.digest, size: code.size }, "bot code published");
      return code;
    },
    enqueue(command, botId) {
      const q = store.enqueue(command, botId);
      log.info({ command, botId }, "command queued");
      return clone(q);
    },
    setFault(fault) {
      store.setFault(fault);
      log.info({ fault }, "bot code fault set");
    },
    setToken(t) {
      token = t;
      store.changed();
    },
    setAutoUpdate(enabled) {
      store.autoUpdate = enabled;
      store.changed();
    },
    cancelTask: (taskId) => store.cancelTask(taskId),
    currentVersion: () => store.currentVersion,
    bots: () => clone([...store.botsById.values()]),
    bot: (id) => clone(store.botsById.get(id)),
    tasks: () => clone([...store.tasksById.values()]),
    requests: () => clone(store.requests),
    state: () => ({
      url,
      currentVersion: store.currentVersion,
      botCode: clone([...store.botCode.values()]),
      queue: clone(store.queue),
      fault: clone(store.fault),
      authRequired: token !== undefined,
      bots: clone([...store.botsById.values()]),
      tasks: clone([...store.tasksById.values()]),
      botCodeDownloads: store.botCodeDownloads,
    }),
    waitFor(check, o = {}) {
      return store.waitFor(() => check(double), o.timeoutMs ?? 20_000, o.what ?? "a condition");
    },
  };

  app.use(recordStatus(store));
  app.use(jsonErrors(log));
  const bot = botApiRouter({
    store,
    token: () => token,
    url: () => url,
    serverDimensions: options.serverDimensions ?? { pool: ["rpi-swarming-double"] },
    botConfigScript: script && {
      ...script,
      rev: createHash("sha256").update(script.content).digest("hex").slice(0, 16),
    },
    closing,
  });
  const control = controlApiRouter(double, workDir);
  app.use(bot.routes()).use(bot.allowedMethods());
  app.use(control.routes()).use(control.allowedMethods());

  let server: Server;
  try {
    const bound = await listen(app, options.host ?? "127.0.0.1", options.port ?? 0);
    server = bound.server;
    url = bound.url;
  } catch (err) {
    if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
    throw err;
  }
  try {
    if (options.botCode) await double.publishBotCode(options.botCode);
  } catch (err) {
    await double.close();
    throw err;
  }
  log.info({ url, auth: token !== undefined }, "swarming double listening");
  return double;
}
