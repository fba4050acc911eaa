import Koa from "koa";
import { afterEach, describe, expect, it } from "vitest";
import { capturingLogger } from "../__fixtures__/test-support.js";
import { closeServer, jsonDepth, jsonErrors, listen, replyCodeLabel } from "./koa.js";

const servers: Awaited<ReturnType<typeof listen>>[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => closeServer(s.server)));
});

describe("jsonErrors", () => {
  it("serialises a body inside the middleware, so an unserialisable one is a logged JSON 500 that outer middleware sees", async () => {
    const { log, lines } = capturingLogger();
    const seen: string[] = [];
    const app = new Koa();
    app.silent = true;
    app.use(async (ctx, next) => {
      await next();
      seen.push(replyCodeLabel(ctx));
    });
    app.use(jsonErrors(log));
    app.use((ctx) => {
      const loop: Record<string, unknown> = {};
      loop.self = loop;
      ctx.body = ctx.path === "/loop" ? loop : { ok: true };
    });
    const s = await listen(app, "127.0.0.1", 0);
    servers.push(s);
    const res = await fetch(`${s.url}/loop`);
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await res.json()).toMatchObject({ error: "TypeError", message: expect.stringContaining("circular") });
    const good = await fetch(`${s.url}/fine`);
    expect(await good.json()).toEqual({ ok: true });
    expect(seen).toEqual(["500", "200"]);
    expect(lines.filter((l) => l.msg === "request failed").map((l) => l.level)).toEqual([50]);
  });
});

describe("jsonDepth", () => {
  it("counts nesting outside strings, without recursion", () => {
    expect(jsonDepth("1")).toBe(0);
    expect(jsonDepth('{"a": [1, {"b": []}]}')).toBe(4);
    expect(jsonDepth('{"a": "[[[{{{\\"[["}')).toBe(1);
    expect(jsonDepth("[".repeat(1_000_000))).toBe(1_000_000);
  });
});
