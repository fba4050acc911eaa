/** Dimensions as Swarming sends them: key to a list of values. */
export type Dimensions = Record<string, string[]>;

/** A command the double hands to a bot in a poll reply, as queued by a test or the demo. */
export type DoubleCommand =
  | { cmd: "sleep"; duration: number }
  | { cmd: "update"; version?: string | undefined }
  | { cmd: "terminate"; taskId?: string | undefined }
  | {
      cmd: "run";
      taskId?: string | undefined;
      /** argv of the task; default a short `python3 -c print(...)`. */
      command?: string[] | undefined;
      env?: Record<string, string> | undefined;
      hardTimeoutSeconds?: number | undefined;
      gracePeriodSeconds?: number | undefined;
      ioTimeoutSeconds?: number | undefined;
      dimensions?: Dimensions | undefined;
    }
  | { cmd: "bot_restart" | "host_reboot" | "restart"; message: string };

export interface QueuedCommand {
  readonly id: number;
  /** Only this bot gets it; any bot when undefined. */
  readonly botId: string | undefined;
  readonly command: DoubleCommand;
  readonly enqueuedAt: string;
  deliveredAt?: string;
  deliveredTo?: string;
}

/** How GET /bot_code and GET /swarming/api/v1/bot/bot_code/<digest> misbehave. */
export type BotCodeFault =
  | { mode: "status"; status: number; on?: FaultTarget; times?: number }
  | { mode: "hang"; on?: FaultTarget; times?: number }
  /** Sends the headers with the full Content-Length, then `afterBytes` bytes (default half), then drops the connection. */
  | { mode: "truncate"; afterBytes?: number; times?: number }
  | { mode: "not-zip"; times?: number }
  /** Serves the zip at this rate. */
  | { mode: "slow"; bytesPerSecond: number; times?: number };

/** "redirect" is GET /bot_code, "download" is GET .../bot_code/<digest>. */
export type FaultTarget = "redirect" | "download" | "both";

export interface BotEvent {
  readonly time: string;
  readonly event: string;
  readonly message: string;
  readonly version: string | undefined;
}

export interface BotRecord {
  readonly id: string;
  dimensions: Dimensions;
  state: Record<string, unknown>;
  version: string | undefined;
  session: string | undefined;
  userAgent: string | undefined;
  firstSeen: string;
  lastSeen: string;
  handshakes: number;
  /** What the last handshake body carried (the attributes before the first poll). */
  handshakeAttributes: { dimensions: Dimensions; state: Record<string, unknown>; version: string } | undefined;
  polls: number;
  /** Versions in the order the bot reported them (consecutive duplicates dropped). */
  versions: string[];
  /** The last command the double sent in a poll reply. */
  lastCommand: Record<string, unknown> | undefined;
  /** Why the server side treats the bot as quarantined (bad dimensions), or undefined. */
  serverQuarantine: string | undefined;
  /** Quarantine or maintenance message from the bot's own state, if any. */
  quarantined: string | undefined;
  maintenance: string | undefined;
  /** Protocol problems the double noticed (missing headers, id mismatch), newest last. */
  problems: string[];
  events: BotEvent[];
}

export type TaskStatus = "pending" | "running" | "completed" | "error" | "killed";

export interface TaskRecord {
  readonly id: string;
  readonly botId: string | undefined;
  readonly command: string[];
  status: TaskStatus;
  output: string;
  exitCode: number | undefined;
  durationSeconds: number | undefined;
  updates: number;
  error: string | undefined;
  /** Set by cancelTask: the next task_update reply says must_stop. */
  mustStop: boolean;
  startedAt: string | undefined;
  endedAt: string | undefined;
}

export interface RequestRecord {
  readonly time: string;
  readonly method: string;
  readonly path: string;
  readonly botId: string | undefined;
  readonly userAgent: string | undefined;
  readonly authorized: boolean;
  status: number;
  /** Body bytes sent (bot code downloads). */
  bytesSent: number;
}

export interface PublishedBotCode {
  readonly digest: string;
  readonly path: string;
  readonly size: number;
  readonly publishedAt: string;
}

/** Everything the double knows, as GET /_double/state returns it. */
export interface DoubleState {
  readonly url: string;
  readonly currentVersion: string | undefined;
  readonly botCode: PublishedBotCode[];
  readonly queue: QueuedCommand[];
  readonly fault: BotCodeFault | null;
  readonly authRequired: boolean;
  readonly bots: BotRecord[];
  readonly tasks: TaskRecord[];
  readonly botCodeDownloads: number;
}
