import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { TimeoutError } from "@rpi-swarming/core";
import { dimensionProblems } from "./dimension-rules.js";
import type {
  BotCodeFault,
  BotRecord,
  Dimensions,
  DoubleCommand,
  PublishedBotCode,
  QueuedCommand,
  RequestRecord,
  TaskRecord,
} from "./types.js";

const MAX_EVENTS = 200;
const MAX_REQUESTS = 2000;
const MAX_PROBLEMS = 50;
const MAX_TASK_OUTPUT = 1024 * 1024;

/** What a bot sends in handshake, poll and event bodies. */
export interface BotAttributes {
  readonly dimensions: Dimensions;
  readonly state: Record<string, unknown>;
  readonly version: string;
}

export interface StoreOptions {
  readonly defaultSleepSeconds: number;
  readonly autoUpdate: boolean;
}

/** The double's memory: bots, tasks, queued commands, published code, faults. Emits "change". */
export class DoubleStore extends EventEmitter {
  readonly botsById = new Map<string, BotRecord>();
  readonly tasksById = new Map<string, TaskRecord>();
  readonly queue: QueuedCommand[] = [];
  readonly requests: RequestRecord[] = [];
  readonly botCode = new Map<string, PublishedBotCode>();
  currentVersion: string | undefined;
  fault: BotCodeFault | null = null;
  /** Requests the current fault still applies to; undefined = until cleared. */
  private faultRemaining: number | undefined;
  botCodeDownloads = 0;
  private nextCommandId = 1;
  private nextTaskNumber = 1;

  /** Whether polls of a bot on other code are answered with `update` (Swarming always does). */
  autoUpdate: boolean;

  constructor(private readonly options: StoreOptions) {
    super();
    this.autoUpdate = options.autoUpdate;
    this.setMaxListeners(100);
  }

  changed(): void {
    this.emit("change");
  }

  recordRequest(r: RequestRecord): RequestRecord {
    this.requests.push(r);
    if (this.requests.length > MAX_REQUESTS) this.requests.splice(0, this.requests.length - MAX_REQUESTS);
    return r;
  }

  publish(code: PublishedBotCode): void {
    this.botCode.set(code.digest, code);
    this.currentVersion = code.digest;
    this.changed();
  }

  setFault(fault: BotCodeFault | null): void {
    this.fault = fault;
    this.faultRemaining = fault?.times;
    this.changed();
  }

  /** The fault that applies to this request, counting it down. */
  takeFault(target: "redirect" | "download"): BotCodeFault | null {
    const f = this.fault;
    if (!f) return null;
    const on = "on" in f && f.on ? f.on : f.mode === "status" || f.mode === "hang" ? "both" : "download";
    if (on !== "both" && on !== target) return null;
    if (this.faultRemaining !== undefined) {
      this.faultRemaining -= 1;
      if (this.faultRemaining <= 0) {
        this.fault = null;
        this.faultRemaining = undefined;
      }
    }
    this.changed();
    return f;
  }

  enqueue(command: DoubleCommand, botId?: string): QueuedCommand {
    const q: QueuedCommand = { id: this.nextCommandId++, botId, command, enqueuedAt: new Date().toISOString() };
    this.queue.push(q);
    this.changed();
    return q;
  }

  private touch(id: string, attrs: BotAttributes, userAgent: string | undefined): BotRecord {
    const now = new Date().toISOString();
    let bot = this.botsById.get(id);
    if (!bot) {
      bot = {
        id,
        dimensions: {},
        state: {},
        version: undefined,
        session: undefined,
        userAgent,
        firstSeen: now,
        lastSeen: now,
        handshakes: 0,
        handshakeAttributes: undefined,
        polls: 0,
        versions: [],
        lastCommand: undefined,
        serverQuarantine: undefined,
        quarantined: undefined,
        maintenance: undefined,
        problems: [],
        events: [],
      };
      this.botsById.set(id, bot);
    }
    bot.lastSeen = now;
    bot.userAgent = userAgent;
    bot.dimensions = attrs.dimensions;
    bot.state = attrs.state;
    bot.version = attrs.version;
    if (bot.versions.at(-1) !== attrs.version) bot.versions.push(attrs.version);
    const dimProblems = dimensionProblems(attrs.dimensions);
    bot.serverQuarantine = dimProblems.length > 0 ? dimProblems.join("; ") : undefined;
    bot.quarantined = flagMessage(attrs.state.quarantined);
    bot.maintenance = flagMessage(attrs.state.maintenance);
    const dimId = attrs.dimensions.id?.[0];
    if (dimId !== undefined && dimId !== id)
      this.problem(bot, `X-Luci-Swarming-Bot-ID "${id}" differs from dimension id "${dimId}"`);
    return bot;
  }

  problem(bot: BotRecord, message: string): void {
    if (bot.problems.at(-1) === message) return;
    bot.problems.push(message);
    if (bot.problems.length > MAX_PROBLEMS) bot.problems.splice(0, bot.problems.length - MAX_PROBLEMS);
  }

  handshake(id: string, attrs: BotAttributes, userAgent: string | undefined): BotRecord {
    const bot = this.touch(id, attrs, userAgent);
    bot.handshakes += 1;
    bot.handshakeAttributes = structuredClone({
      dimensions: attrs.dimensions,
      state: attrs.state,
      version: attrs.version,
    });
    bot.session = randomBytes(16).toString("hex");
    this.changed();
    return bot;
  }

  /** Records a poll and picks the reply: update, then the first queued command that fits, else sleep. */
  poll(
    id: string,
    attrs: BotAttributes,
    session: string | undefined,
    userAgent: string | undefined,
  ): Record<string, unknown> {
    const bot = this.touch(id, attrs, userAgent);
    bot.polls += 1;
    if (bot.session !== undefined && session !== bot.session) this.problem(bot, `poll with unknown session ${session}`);
    const reply = this.pickCommand(bot);
    bot.lastCommand = reply;
    this.changed();
    return reply;
  }

  private pickCommand(bot: BotRecord): Record<string, unknown> {
    const healthy = !bot.serverQuarantine && !bot.quarantined && !bot.maintenance;
    if (this.autoUpdate && this.currentVersion && bot.version !== this.currentVersion) {
      return { cmd: "update", version: this.currentVersion };
    }
    const index = this.queue.findIndex(
      (q) => (q.botId === undefined || q.botId === bot.id) && (q.command.cmd !== "run" || healthy),
    );
    if (index >= 0) {
      const [q] = this.queue.splice(index, 1) as [QueuedCommand];
      q.deliveredAt = new Date().toISOString();
      q.deliveredTo = bot.id;
      return this.toReply(q.command, bot);
    }
    const reply: Record<string, unknown> = { cmd: "sleep", duration: this.options.defaultSleepSeconds };
    if (!healthy) reply.quarantined = Boolean(bot.serverQuarantine || bot.quarantined);
    return reply;
  }

  private toReply(c: DoubleCommand, bot: BotRecord): Record<string, unknown> {
    switch (c.cmd) {
      case "sleep":
        return { cmd: "sleep", duration: c.duration };
      case "update":
        return { cmd: "update", version: c.version ?? this.currentVersion ?? bot.version };
      case "terminate":
        return { cmd: "terminate", task_id: c.taskId ?? `terminate-${this.nextTaskNumber++}` };
      case "run": {
        const taskId = c.taskId ?? `task-${Date.now().toString(16)}-${this.nextTaskNumber++}`;
        const command = c.command ?? ["python3", "-c", "print('hello from the rpi-swarming double')"];
        this.tasksById.set(taskId, {
          id: taskId,
          botId: bot.id,
          command,
          status: "pending",
          output: "",
          exitCode: undefined,
          durationSeconds: undefined,
          updates: 0,
          error: undefined,
          mustStop: false,
          startedAt: undefined,
          endedAt: undefined,
        });
        return {
          cmd: "run",
          manifest: {
            task_id: taskId,
            bot_id: bot.id,
            // The real task runner refuses a manifest without it.
            bot_dimensions: bot.dimensions,
            command,
            env: c.env ?? {},
            dimensions: c.dimensions ?? { pool: bot.dimensions.pool ?? [] },
            hard_timeout: c.hardTimeoutSeconds ?? 3600,
            grace_period: c.gracePeriodSeconds ?? 30,
            io_timeout: c.ioTimeoutSeconds ?? 1200,
          },
        };
      }
      default:
        return { cmd: c.cmd, message: c.message };
    }
  }

  event(id: string, attrs: BotAttributes, event: string, message: string, userAgent: string | undefined): void {
    const bot = this.touch(id, attrs, userAgent);
    bot.events.push({ time: new Date().toISOString(), event, message, version: attrs.version });
    if (bot.events.length > MAX_EVENTS) bot.events.splice(0, bot.events.length - MAX_EVENTS);
    this.changed();
  }

  /** Records a task_update; returns whether the bot must stop the task. */
  taskUpdate(
    botId: string,
    taskId: string,
    update: { output?: string; exitCode?: number | undefined; duration?: number | undefined },
  ): { mustStop: boolean; known: boolean } {
    let task = this.tasksById.get(taskId);
    const known = task !== undefined;
    if (!task) {
      // A task the double did not hand out (e.g. after a restart of the double): record it anyway.
      task = {
        id: taskId,
        botId,
        command: [],
        status: "running",
        output: "",
        exitCode: undefined,
        durationSeconds: undefined,
        updates: 0,
        error: undefined,
        mustStop: false,
        startedAt: new Date().toISOString(),
        endedAt: undefined,
      };
      this.tasksById.set(taskId, task);
    }
    task.updates += 1;
    if (task.status === "pending") {
      task.status = "running";
      task.startedAt = new Date().toISOString();
    }
    if (update.output) task.output = (task.output + update.output).slice(-MAX_TASK_OUTPUT);
    if (update.exitCode !== undefined) {
      task.exitCode = update.exitCode;
      task.durationSeconds = update.duration;
      task.status = task.mustStop ? "killed" : "completed";
      task.endedAt = new Date().toISOString();
    }
    this.changed();
    return { mustStop: task.mustStop, known };
  }

  taskError(botId: string, taskId: string, message: string): void {
    const task = this.tasksById.get(taskId);
    if (task) {
      task.status = "error";
      task.error = message;
      task.endedAt = new Date().toISOString();
    } else {
      this.tasksById.set(taskId, {
        id: taskId,
        botId,
        command: [],
        status: "error",
        output: "",
        exitCode: undefined,
        durationSeconds: undefined,
        updates: 0,
        error: message,
        mustStop: false,
        startedAt: undefined,
        endedAt: new Date().toISOString(),
      });
    }
    this.changed();
  }

  /** Marks a task so that the bot's next task_update is told to stop it. Returns false for an unknown task. */
  cancelTask(taskId: string): boolean {
    const task = this.tasksById.get(taskId);
    if (!task) return false;
    task.mustStop = true;
    this.changed();
    return true;
  }

  /** Resolves with the first truthy value of `check`, re-evaluated on every change. */
  waitFor<T>(check: () => T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const test = (): boolean => {
        const v = check();
        if (v) {
          cleanup();
          resolve(v);
          return true;
        }
        return false;
      };
      const onChange = (): void => {
        try {
          test();
        } catch (err) {
          cleanup();
          reject(err);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new TimeoutError(`swarming double: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off("change", onChange);
      };
      this.on("change", onChange);
      onChange();
    });
  }
}

function flagMessage(v: unknown): string | undefined {
  if (v === undefined || v === null || v === false || v === "") return undefined;
  return typeof v === "string" ? v : JSON.stringify(v);
}
