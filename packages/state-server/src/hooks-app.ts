import Router from "@koa/router";
import {
  type AccessToken,
  InvalidInputError,
  jsonErrors,
  type Logger,
  NotReadyError,
  readJsonBody,
  replyCodeLabel,
} from "@rpi-swarming/core";
import type { DeviceKind, Dimensions } from "@rpi-swarming/devices";
import Koa from "koa";
import * as z from "zod/mini";
import { buildDimensions, buildState } from "./attributes.js";
import type { StateServerMetrics } from "./metrics.js";
import type { DeviceMonitor } from "./monitor.js";
import type { TaskTracker } from "./task-marker.js";

/** Where get_authentication_headers gets its token; core's TokenSource fits. */
export interface TokenProvider {
  current(): Promise<AccessToken | null>;
}

export interface HookAppOptions {
  readonly botId: string;
  readonly kind: DeviceKind;
  readonly monitor: DeviceMonitor;
  /** Task start/end as hooks report them, kept across restarts (task-marker.ts). */
  readonly tasks: TaskTracker;
  readonly metrics: StateServerMetrics;
  readonly log: Logger;
  readonly staticDimensions: Dimensions;
  readonly staticState: Readonly<Record<string, unknown>>;
  readonly botSettings: Readonly<Record<string, unknown>>;
  readonly tokens: TokenProvider | null;
}

/**
 * The `hook` label of the hook metrics: the path of the route that matched
 * (whatever the method), so `/STATUS` and `/status/`, which the router
 * answers as `/status`, count as `status`; `unknown` when no route matched.
 * Bounded by the route table.
 */
function hookLabel(ctx: Koa.Context): string {
  const routed = ctx as Koa.Context & { _matchedRoute?: unknown; matched?: readonly { path?: unknown }[] };
  const path = routed._matchedRoute ?? routed.matched?.find((l) => typeof l.path === "string")?.path;
  return typeof path === "string" ? path.slice(1) : "unknown";
}

const MAX_VERSION_CHARS = 200;

const dimensionsBody = z.record(z.string(), z.array(z.string(), "each dimension must be a list of strings"));
const objectBody = z.record(z.string(), z.unknown());
const idleBody = z.looseObject({ since_last_action_s: z.optional(z.number().check(z.nonnegative())) });
const beforeTaskBody = z.looseObject({ task_id: z.optional(z.string().check(z.maxLength(256))) });
const rebootBody = z.looseObject({ reason: z.optional(z.string().check(z.maxLength(1000))) });
const powerCycleBody = z.strictObject({
  reason: z.optional(z.string().check(z.maxLength(1000))),
  force: z.optional(z.boolean()),
});
const afterTaskBody = z.looseObject({
  failure: z.optional(z.boolean()),
  internal_failure: z.optional(z.boolean()),
  task_dimensions: z.optional(objectBody),
  summary: z.optional(objectBody),
});

/** Reads and validates a JSON body; an empty body is `{}`. */
async function body<T>(ctx: Koa.Context, schema: z.ZodMiniType<T>): Promise<T> {
  const raw = (await readJsonBody(ctx)) ?? {};
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${["body", ...i.path].join(".")}: ${i.message}`);
  throw new InvalidInputError(`request body rejected: ${problems.join("; ")}`);
}

/** What the bot told us about itself through the headers and hooks. */
export interface BotInfo {
  version: string | null;
  lastSeen: Date | null;
}

/**
 * The hook API on loopback (docs/http-api.md). Every answer comes from the
 * monitor's snapshot; nothing here waits on the device.
 */
export function createHookApp(opts: HookAppOptions): { app: Koa; bot: BotInfo } {
  const { monitor, metrics, tasks } = opts;
  const log = opts.log.child({ component: "hook-api" });
  const bot: BotInfo = { version: null, lastSeen: null };
  let mismatchSeen = "";

  const app = new Koa();
  app.silent = true;

  // Outermost: time and count every request, whatever happens inside.
  app.use(async (ctx, next) => {
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const hook = hookLabel(ctx);
      metrics.hookRequests.inc({ hook, code: replyCodeLabel(ctx) });
      metrics.hookDuration.observe({ hook }, Number(process.hrtime.bigint() - start) / 1e9);
    }
  });
  app.use(jsonErrors(log));

  // The hook script names its bot and bot code on every request.
  app.use(async (ctx, next) => {
    const id = ctx.get("x-swarming-bot-id");
    if (id && id !== opts.botId) {
      metrics.botIdMismatches.inc();
      if (id !== mismatchSeen) {
        mismatchSeen = id;
        log.warn({ reportedBotId: id.slice(0, 100), botId: opts.botId }, "hook request from a different bot id");
      }
    }
    const version = ctx.get("x-swarming-bot-version");
    if (version && version !== bot.version && version.length <= MAX_VERSION_CHARS) {
      log.info({ version, previous: bot.version }, "bot version reported");
      bot.version = version;
      metrics.botVersion.reset();
      metrics.botVersion.set({ version }, 1);
    }
    await next();
  });

  const router = new Router();
  const seen = () => {
    bot.lastSeen = new Date();
  };

  router.post("/get_dimensions", async (ctx) => {
    const own = await body(ctx, dimensionsBody);
    const { dimensions, dropped } = buildDimensions(opts.botId, own, opts.staticDimensions, monitor.snapshot);
    if (dropped.length > 0) log.debug({ dropped }, "dimensions left out of the reply");
    ctx.body = dimensions;
  });

  router.post("/get_state", async (ctx) => {
    const own = await body(ctx, objectBody);
    ctx.body = buildState(own, opts.staticState, monitor.snapshot);
  });

  router.get("/get_settings", (ctx) => {
    ctx.body = opts.botSettings;
  });

  router.get("/get_authentication_headers", async (ctx) => {
    let token: AccessToken | null = null;
    if (opts.tokens) {
      try {
        token = await opts.tokens.current();
      } catch (err) {
        throw new NotReadyError(`no access token for the bot: ${(err as Error).message}`, { cause: err });
      }
    }
    ctx.body = token
      ? { headers: { Authorization: `Bearer ${token.token}` }, expiry: Math.floor(token.expiresAt) }
      : { headers: null, expiry: null };
  });

  for (const path of ["/on_bot_startup", "/on_handshake"]) {
    router.post(path, async (ctx) => {
      await body(ctx, objectBody);
      seen();
      log.info({ hook: path.slice(1), version: bot.version }, "bot event");
      await tasks.idle(path.slice(1));
      ctx.body = { ok: true };
    });
  }

  router.post("/on_bot_idle", async (ctx) => {
    await body(ctx, idleBody);
    seen();
    await tasks.idle("on_bot_idle");
    ctx.body = { ok: true };
  });

  // Older hook scripts use GET for the two task hooks.
  router.all("/on_before_task", async (ctx) => {
    if (ctx.method !== "POST" && ctx.method !== "GET")
      ctx.throw(405, `use POST or GET ${ctx.path}`, { headers: { Allow: "GET, POST" } });
    const b = await body(ctx, beforeTaskBody);
    const fromQuery = typeof ctx.query.task_id === "string" ? ctx.query.task_id : undefined;
    seen();
    await tasks.taskStarted(b.task_id ?? fromQuery ?? null);
    ctx.body = { ok: true };
  });

  router.all("/on_after_task", async (ctx) => {
    if (ctx.method !== "POST" && ctx.method !== "GET")
      ctx.throw(405, `use POST or GET ${ctx.path}`, { headers: { Allow: "GET, POST" } });
    const b = await body(ctx, afterTaskBody);
    seen();
    if (b.failure || b.internal_failure)
      log.info({ failure: b.failure, internal_failure: b.internal_failure }, "task ended with a failure");
    const reboot = await tasks.taskEnded();
    ctx.body = { ok: true, reboot };
  });

  router.post("/on_bot_shutdown", async (ctx) => {
    await body(ctx, objectBody);
    seen();
    await tasks.botShutdown();
    ctx.body = { ok: true };
  });

  // Not a hook: the supervisor calls it when the bot asks for a host reboot.
  router.post("/reboot_device", async (ctx) => {
    const b = await body(ctx, rebootBody);
    await monitor.rebootDevice(b.reason);
    ctx.body = { ok: true };
  });

  // Not a hook: an operator (rpi-swarming power-cycle) cuts the device's power. Answers once
  // the power is back; the device is then in maintenance until it answers.
  router.post("/power_cycle", async (ctx) => {
    const b = await body(ctx, powerCycleBody);
    const reply = await monitor.powerCycleDevice(b.reason, b.force ?? false);
    ctx.body = {
      ok: true,
      off_seconds: reply.offSeconds,
      settle_seconds: reply.settleSeconds,
    };
  });

  /** The `/status` snapshot for people and tools. */
  const statusBody = (): Record<string, unknown> => {
    const s = monitor.snapshot;
    const probe = s.probe;
    return {
      bot_id: opts.botId,
      device_kind: opts.kind,
      simulated: opts.kind === "simulated",
      ready: s.ready,
      // "unknown" until a hook tells (after a restart): cannot tell, never idle.
      task_running: tasks.state === "unknown" ? "unknown" : s.taskRunning,
      task_id: s.taskId,
      bot_version: bot.version ?? "unknown",
      bot_last_seen: bot.lastSeen?.toISOString() ?? null,
      health: s.health,
      dimensions: buildDimensions(opts.botId, {}, opts.staticDimensions, s).dimensions,
      state: buildState({}, opts.staticState, s),
      last_probe: probe
        ? {
            time: new Date(probe.finishedAt).toISOString(),
            duration_seconds: probe.durationSeconds,
            spawns: probe.spawns,
            problem: probe.problem ?? null,
          }
        : null,
      rebooting: s.reboot
        ? {
            cause: s.reboot.cause,
            since: new Date(s.reboot.startedAt).toISOString(),
            ...(s.reboot.via ? { via: s.reboot.via } : {}),
          }
        : null,
      recovery_tried: s.recoveryTried,
    };
  };

  router.get("/status", (ctx) => {
    ctx.body = statusBody();
  });

  // Not a hook: probe now (an operator who has just fixed a phone, or a tool) and answer
  // the status it led to. Waits for the probe, which the driver's timeouts bound.
  router.post("/probe", async (ctx) => {
    await monitor.probeNow();
    ctx.body = statusBody();
  });

  app.use(router.routes());
  // Not thrown: the router sets the Allow header and jsonErrors writes the JSON reply.
  app.use(router.allowedMethods());
  return { app, bot };
}
