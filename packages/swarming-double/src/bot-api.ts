import Router, { type RouterContext, type RouterMiddleware } from "@koa/router";
import { AuthError, InvalidInputError, NotFoundError, readJsonBody, VERSION } from "@rpi-swarming/core";
import type Koa from "koa";
import { z } from "zod";
import { applyRequestFault, serveZip } from "./bot-code.js";
import type { BotAttributes, DoubleStore } from "./store.js";
import type { RequestRecord } from "./types.js";

export const BOT_API = "/swarming/api/v1/bot";

export interface BotApiContext {
  readonly store: DoubleStore;
  /** Bearer token the bot API requires; undefined = no auth. */
  token(): string | undefined;
  readonly url: () => string;
  readonly serverDimensions: Record<string, string[]>;
  readonly botConfigScript: { name: string; content: string; rev: string } | undefined;
  /** Resolves when the double closes (ends hanging requests). */
  readonly closing: Promise<void>;
}

const attributesSchema = z.object({
  dimensions: z.record(z.string(), z.array(z.string())),
  state: z.record(z.string(), z.unknown()),
  version: z.string().min(1),
});

const pollSchema = attributesSchema.extend({ session: z.string().optional(), request_uuid: z.string().optional() });
const eventSchema = attributesSchema.extend({
  event: z.string().min(1),
  message: z.string().default(""),
  session: z.string().optional(),
});
const taskUpdateSchema = z.object({
  id: z.string().optional(),
  task_id: z.string().optional(),
  output: z.string().optional(),
  output_chunk_start: z.number().optional(),
  exit_code: z.number().int().optional(),
  duration: z.number().optional(),
});
const taskErrorSchema = z.object({ id: z.string().optional(), task_id: z.string().optional(), message: z.string() });

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const detail = r.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    throw new InvalidInputError(`${what} body is invalid: ${detail}`);
  }
  return r.data;
}

/** The bot API of a Swarming server, as the real bot uses it (docs/swarming-bot.md). */
export function botApiRouter(c: BotApiContext): Router {
  const router = new Router();
  const { store } = c;

  const record = (ctx: Koa.Context): RequestRecord =>
    store.recordRequest({
      time: new Date().toISOString(),
      method: ctx.method,
      path: ctx.path,
      botId: ctx.get("X-Luci-Swarming-Bot-ID") || undefined,
      userAgent: ctx.get("User-Agent") || undefined,
      authorized: authorized(ctx),
      status: 0,
      bytesSent: 0,
    });

  const authorized = (ctx: Koa.Context): boolean => {
    const token = c.token();
    return token === undefined || ctx.get("Authorization") === `Bearer ${token}`;
  };

  const requireAuth = (ctx: Koa.Context): void => {
    if (authorized(ctx)) return;
    const why = ctx.get("Authorization") ? "wrong bearer token" : "no Authorization header";
    throw new AuthError(`swarming double: ${why}`);
  };

  /** Checks what every bot request but server_ping must carry; returns the bot id. */
  const botRequest = async (ctx: Koa.Context): Promise<{ id: string; body: unknown }> => {
    requireAuth(ctx);
    const id = ctx.get("X-Luci-Swarming-Bot-ID");
    if (!id) throw new InvalidInputError("missing header X-Luci-Swarming-Bot-ID");
    const ua = ctx.get("User-Agent");
    if (!ua.startsWith("swarming_bot/"))
      throw new InvalidInputError(`User-Agent "${ua}" does not start with swarming_bot/`);
    if (!ctx.is("application/json"))
      throw new InvalidInputError(`Content-Type must be application/json, got "${ctx.get("Content-Type")}"`);
    return { id, body: await readJsonBody(ctx) };
  };

  const withRecord =
    (handler: (ctx: RouterContext, rec: RequestRecord) => Promise<void>): RouterMiddleware =>
    async (ctx) => {
      const rec = record(ctx);
      // recordStatus (outside jsonErrors) fills in the final status.
      ctx.state.request = rec;
      await handler(ctx, rec);
    };

  router.get(
    `${BOT_API}/server_ping`,
    withRecord(async (ctx) => {
      ctx.type = "text/plain";
      ctx.body = "Server up";
    }),
  );

  router.post(
    `${BOT_API}/handshake`,
    withRecord(async (ctx) => {
      const { id, body } = await botRequest(ctx);
      const attrs: BotAttributes = parse(attributesSchema, body, "handshake");
      const bot = store.handshake(id, attrs, ctx.get("User-Agent"));
      const reply: Record<string, unknown> = {
        session: bot.session,
        bot_version: store.currentVersion ?? attrs.version,
        server_version: `swarming-double/${VERSION}`,
        bot_group_cfg_version: "rpi-swarming-double",
        bot_group_cfg: { dimensions: c.serverDimensions },
      };
      if (c.botConfigScript) {
        reply.bot_config = c.botConfigScript.content;
        reply.bot_config_name = c.botConfigScript.name;
        reply.bot_config_rev = c.botConfigScript.rev;
      }
      ctx.body = reply;
    }),
  );

  router.post(
    `${BOT_API}/poll`,
    withRecord(async (ctx) => {
      const { id, body } = await botRequest(ctx);
      const p = parse(pollSchema, body, "poll");
      ctx.body = store.poll(id, p, p.session, ctx.get("User-Agent"));
    }),
  );

  router.post(
    `${BOT_API}/event`,
    withRecord(async (ctx) => {
      const { id, body } = await botRequest(ctx);
      const e = parse(eventSchema, body, "event");
      store.event(id, e, e.event, e.message, ctx.get("User-Agent"));
      ctx.body = {};
    }),
  );

  router.post(
    `${BOT_API}/task_update/:taskId`,
    withRecord(async (ctx) => {
      const { id, body } = await botRequest(ctx);
      const u = parse(taskUpdateSchema, body, "task_update");
      const taskId = ctx.params.taskId as string;
      if (u.task_id !== undefined && u.task_id !== taskId) {
        throw new InvalidInputError(`task_id "${u.task_id}" in the body differs from "${taskId}" in the path`);
      }
      let output: string | undefined;
      if (u.output !== undefined) {
        const bytes = Buffer.from(u.output, "base64");
        if (bytes.toString("base64").replace(/=+$/, "") !== u.output.replace(/=+$/, "")) {
          throw new InvalidInputError("task_update output must be base64");
        }
        output = bytes.toString("utf8");
      }
      const r = store.taskUpdate(id, taskId, { output, exitCode: u.exit_code, duration: u.duration });
      ctx.body = { must_stop: r.mustStop, ok: true };
    }),
  );

  router.post(
    `${BOT_API}/task_error/:taskId`,
    withRecord(async (ctx) => {
      const { id, body } = await botRequest(ctx);
      const e = parse(taskErrorSchema, body, "task_error");
      store.taskError(id, ctx.params.taskId as string, e.message);
      ctx.body = { resp: 1 };
    }),
  );

  router.get(
    "/bot_code",
    withRecord(async (ctx) => {
      requireAuth(ctx);
      if (await applyRequestFault(ctx, store.takeFault("redirect"), c.closing)) return;
      if (!store.currentVersion) throw new NotFoundError("swarming double: no bot code has been published");
      ctx.status = 302;
      ctx.redirect(`${c.url()}${BOT_API}/bot_code/${store.currentVersion}`);
    }),
  );

  router.get(
    `${BOT_API}/bot_code/:digest`,
    withRecord(async (ctx, rec) => {
      requireAuth(ctx);
      const fault = store.takeFault("download");
      if (await applyRequestFault(ctx, fault, c.closing)) return;
      const code = store.botCode.get(ctx.params.digest as string);
      if (!code) throw new NotFoundError(`swarming double: unknown bot code version ${ctx.params.digest}`);
      store.botCodeDownloads += 1;
      rec.bytesSent = await serveZip(ctx, code, fault);
    }),
  );

  return router;
}

/** Outermost middleware: writes the final status of recorded bot API requests. */
export function recordStatus(store: DoubleStore): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } finally {
      const rec = ctx.state.request as RequestRecord | undefined;
      if (rec) {
        rec.status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
        store.changed();
      }
    }
  };
}
