import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import Router from "@koa/router";
import {
  InvalidInputError,
  MAX_BODY_BYTES,
  NotFoundError,
  PayloadTooLargeError,
  readJsonBody,
} from "@rpi-swarming/core";
import type Koa from "koa";
import { z } from "zod";
import type { SwarmingDouble } from "./double.js";
import type { BotCodeFault, DoubleCommand } from "./types.js";

const dims = z.record(z.string(), z.array(z.string()));

export const commandSchema = z.discriminatedUnion("cmd", [
  z.object({ cmd: z.literal("sleep"), duration: z.number().positive() }),
  z.object({ cmd: z.literal("update"), version: z.string().min(1).optional() }),
  z.object({ cmd: z.literal("terminate"), taskId: z.string().min(1).optional() }),
  z.object({
    cmd: z.literal("run"),
    taskId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .optional(),
    command: z.array(z.string()).min(1).optional(),
    env: z.record(z.string(), z.string()).optional(),
    hardTimeoutSeconds: z.number().positive().optional(),
    gracePeriodSeconds: z.number().nonnegative().optional(),
    ioTimeoutSeconds: z.number().positive().optional(),
    dimensions: dims.optional(),
  }),
  z.object({ cmd: z.enum(["bot_restart", "host_reboot", "restart"]), message: z.string().min(1) }),
]) satisfies z.ZodType<DoubleCommand>;

const target = z.enum(["redirect", "download", "both"]).optional();
const times = z.number().int().positive().optional();
export const faultSchema = z.discriminatedUnion("mode", [
  z.object({ mode: z.literal("none") }),
  z.object({ mode: z.literal("status"), status: z.number().int().min(400).max(599), on: target, times }),
  z.object({ mode: z.literal("hang"), on: target, times }),
  z.object({ mode: z.literal("truncate"), afterBytes: z.number().int().nonnegative().optional(), times }),
  z.object({ mode: z.literal("not-zip"), times }),
  z.object({ mode: z.literal("slow"), bytesPerSecond: z.number().positive(), times }),
]);

const publishSchema = z.union([
  z.object({ zipPath: z.string().min(1) }),
  z.object({
    standIn: z.object({
      hookScript: z.string().min(1),
      extraFiles: z.record(z.string(), z.string()).optional(),
    }),
  }),
]);

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const detail = r.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    throw new InvalidInputError(`${what}: ${detail}`);
  }
  return r.data;
}

async function readRaw(ctx: Koa.Context, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PayloadTooLargeError(`upload is over the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** GET /bots and the /_double control API used by tests and the demo (no auth: loopback tool). */
export function controlApiRouter(double: SwarmingDouble, workDir: string): Router {
  const router = new Router();
  let uploads = 0;

  router.get("/bots", (ctx) => {
    ctx.body = { bots: double.bots() };
  });
  router.get("/bots/:id", (ctx) => {
    const bot = double.bot(ctx.params.id as string);
    if (!bot) throw new NotFoundError(`no bot ${ctx.params.id} has been seen`);
    ctx.body = bot;
  });
  router.get("/_double/state", (ctx) => {
    ctx.body = double.state();
  });
  router.get("/_double/tasks", (ctx) => {
    ctx.body = { tasks: double.tasks() };
  });
  router.get("/_double/requests", (ctx) => {
    ctx.body = { requests: double.requests() };
  });

  router.post("/_double/publish", async (ctx) => {
    if (ctx.is("application/zip", "application/octet-stream")) {
      const bytes = await readRaw(ctx, 512 * MAX_BODY_BYTES);
      const path = join(workDir, `upload-${++uploads}.zip`);
      await writeFile(path, bytes);
      ctx.body = await double.publishBotCode({ zipPath: path });
      return;
    }
    const p = parse(publishSchema, await readJsonBody(ctx), "publish body");
    ctx.body = await double.publishBotCode(p);
  });

  router.post("/_double/enqueue", async (ctx) => {
    const { botId, ...rest } = ((await readJsonBody(ctx)) ?? {}) as Record<string, unknown>;
    if (botId !== undefined && typeof botId !== "string") throw new InvalidInputError("botId must be a string");
    ctx.body = double.enqueue(parse(commandSchema, rest, "enqueue body"), botId);
  });

  router.post("/_double/faults", async (ctx) => {
    const f = parse(faultSchema, await readJsonBody(ctx), "faults body");
    double.setFault(f.mode === "none" ? null : (f as BotCodeFault));
    ctx.body = { fault: double.state().fault };
  });

  router.post("/_double/token", async (ctx) => {
    const body = parse(z.object({ token: z.string().min(1).nullable() }), await readJsonBody(ctx), "token body");
    double.setToken(body.token ?? undefined);
    ctx.body = { authRequired: body.token !== null };
  });

  router.post("/_double/auto-update", async (ctx) => {
    const body = parse(z.object({ enabled: z.boolean() }), await readJsonBody(ctx), "auto-update body");
    double.setAutoUpdate(body.enabled);
    ctx.body = { autoUpdate: body.enabled };
  });

  router.post("/_double/cancel-task", async (ctx) => {
    const body = parse(z.object({ taskId: z.string().min(1) }), await readJsonBody(ctx), "cancel-task body");
    if (!double.cancelTask(body.taskId)) throw new NotFoundError(`no task ${body.taskId}`);
    ctx.body = { ok: true };
  });

  return router;
}
