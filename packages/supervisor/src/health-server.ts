import type { Server } from "node:http";
import { jsonErrors, type Logger, listen } from "@rpi-swarming/core";
import Koa from "koa";
import type { Registry } from "prom-client";

/** `/metrics` (Prometheus text) and `/healthz` (200 while the process serves, with a short summary). */
export async function startHealthServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  log: Logger;
  summary: () => Record<string, unknown>;
}): Promise<{ server: Server; url: string }> {
  const app = new Koa();
  app.use(jsonErrors(opts.log));
  app.use(async (ctx) => {
    if (ctx.method !== "GET" && ctx.method !== "HEAD") {
      ctx.status = 405;
      ctx.body = { error: "MethodNotAllowed", message: `${ctx.method} is not allowed; use GET` };
      return;
    }
    if (ctx.path === "/metrics") {
      ctx.type = opts.registry.contentType;
      ctx.body = await opts.registry.metrics();
    } else if (ctx.path === "/healthz") {
      ctx.body = { ok: true, ...opts.summary() };
    }
  });
  const { server, url } = await listen(app, opts.host, opts.port);
  return { server, url };
}
