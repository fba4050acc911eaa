import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Koa from "koa";
import { InvalidInputError, PayloadTooLargeError } from "../errors.js";
import type { Logger } from "../logger.js";
import { statusForError } from "./error-status.js";

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Koa middleware that turns any thrown error into a JSON reply
 * `{error: name, message}` and logs server-side failures. Requests never
 * crash the process.
 */
export function jsonErrors(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: "NotFoundError", message: `no route for ${ctx.method} ${ctx.path}` };
      }
    } catch (err) {
      const status = statusForError(err);
      const e = err as Error;
      ctx.status = status;
      ctx.body = { error: e.name ?? "Error", message: e.message ?? String(err) };
      if (status >= 500) log.error({ err, method: ctx.method, path: ctx.path }, "request failed");
      else log.debug({ method: ctx.method, path: ctx.path, status, message: e.message }, "request rejected");
    }
  };
}

/** Reads a JSON request body of at most `limit` bytes. An empty body reads as `undefined`. */
export async function readJsonBody(ctx: Koa.Context, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(ctx.get("content-length") || "0");
  if (declared > limit)
    throw new PayloadTooLargeError(`request body of ${declared} bytes is over the limit of ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PayloadTooLargeError(`request body is over the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`request body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Starts a Koa app on host:port (port 0 picks a free one) and resolves with the bound address. */
export function listen(app: Koa, host: string, port: number): Promise<{ server: Server; port: number; url: string }> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once("error", reject);
    server.once("listening", () => {
      server.off("error", reject);
      const bound = (server.address() as AddressInfo).port;
      resolve({ server, port: bound, url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}` });
    });
  });
}

/** Closes a server, dropping idle keep-alive connections so close() does not wait on them. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
