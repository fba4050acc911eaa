import Router from "@koa/router";
import { jsonErrors, type Logger, MetricsCache } from "@rpi-swarming/core";
import Koa from "koa";
import type { Registry } from "prom-client";

export interface MetricsAppOptions {
  readonly registry: Registry;
  readonly log: Logger;
  /** True once the first probe has finished. */
  readonly ready: () => boolean;
  /** Renders of /metrics; default: at most one per METRICS_MAX_AGE_MS, so a flood cannot slow the hooks. */
  readonly metricsCache?: MetricsCache;
}

/** `/metrics`, `/healthz` and `/readyz` for Prometheus and the kubelet. */
export function createMetricsApp(opts: MetricsAppOptions): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(jsonErrors(opts.log.child({ component: "metrics-api" })));
  const cache = opts.metricsCache ?? new MetricsCache(opts.registry);
  const router = new Router();
  router.get("/metrics", async (ctx) => {
    ctx.body = await cache.body();
    ctx.type = cache.contentType;
  });
  router.get("/healthz", (ctx) => {
    ctx.body = { ok: true };
  });
  router.get("/readyz", (ctx) => {
    const ready = opts.ready();
    ctx.status = ready ? 200 : 503;
    ctx.body = ready ? { ready: true } : { error: "NotReadyError", message: "the first device probe has not finished" };
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
