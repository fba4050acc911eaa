import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Stream } from "node:stream";
import type Koa from "koa";
import { ClientAbortError, InvalidInputError, PayloadTooLargeError } from "../errors.js";
import type { Logger } from "../logger.js";
import { CLIENT_ABORT_STATUS, logLevelForStatus, statusCodeLabel, statusForError } from "./error-status.js";

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Deepest nesting of arrays and objects a JSON request body may have. Bot
 * state is a few levels deep; a body nested thousands of levels would
 * overflow the stack when the reply built from it is serialised.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Koa middleware that turns any thrown error into a JSON reply
 * `{error: name, message}` and logs it at the level its status calls for
 * (only server faults are errors). It serialises JSON bodies itself, so a
 * body that cannot be serialised is a JSON 500 that outer middleware (the
 * request metrics) sees, not a plain-text reply made after them. Requests
 * never crash the process.
 */
export function jsonErrors(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) {
          ctx.status = 404;
          ctx.body = { error: "NotFoundError", message: `no route for ${ctx.method} ${ctx.path}` };
        } else if (ctx.status === 405 || ctx.status === 501) {
          const allow = ctx.response.get("Allow");
          ctx.body = {
            error: ctx.status === 405 ? "MethodNotAllowedError" : "NotImplementedError",
            message:
              ctx.status === 405
                ? `${ctx.method} is not allowed on ${ctx.path}${allow ? `; use ${allow}` : ""}`
                : `${ctx.method} is not a method this server implements${allow ? `; ${ctx.path} takes ${allow}` : ""}`,
          };
          log.info({ method: ctx.method, path: ctx.path, status: ctx.status }, "request rejected");
        }
      }
      serialiseJson(ctx);
    } catch (err) {
      const status = statusForError(err);
      const e = err as Error & { headers?: unknown };
      ctx.status = status;
      if (e.headers && typeof e.headers === "object")
        for (const [name, value] of Object.entries(e.headers)) if (typeof value === "string") ctx.set(name, value);
      ctx.body = JSON.stringify({ error: e.name ?? "Error", message: e.message ?? String(err) });
      ctx.type = "application/json";
      const level = logLevelForStatus(status);
      if (status === CLIENT_ABORT_STATUS)
        log.info({ method: ctx.method, path: ctx.path, reason: e.message }, "client closed the request");
      else if (level === "error") log.error({ err, method: ctx.method, path: ctx.path }, "request failed");
      else log[level]({ method: ctx.method, path: ctx.path, status, message: e.message }, "request rejected");
    }
  };
}

/** Turns an object body into JSON text here, where a failure can still become a JSON error reply. */
function serialiseJson(ctx: Koa.Context): void {
  const b: unknown = ctx.body;
  if (b === null || typeof b !== "object" || Buffer.isBuffer(b) || b instanceof Stream) return;
  const text = JSON.stringify(b);
  ctx.body = text;
  ctx.type = "application/json";
}

/** The client's connection is gone before a reply was sent: nobody will read it. */
function clientGone(ctx: Koa.Context): boolean {
  // A request stream also ends destroyed once read to its end: only an incomplete one means the client left.
  return !ctx.headerSent && (!ctx.writable || (ctx.req.destroyed && !ctx.req.complete));
}

/**
 * The `code` label for a finished request: its status, or `client_abort`
 * when the client left before a reply could be sent (unless the server
 * failed too: a server fault is counted as one whoever was listening).
 */
export function replyCodeLabel(ctx: Koa.Context): string {
  const gone = clientGone(ctx) && ctx.status < 500;
  return statusCodeLabel(gone ? CLIENT_ABORT_STATUS : ctx.status);
}

/**
 * Reads a JSON request body of at most `limit` bytes nested at most
 * MAX_JSON_DEPTH levels. An empty body reads as `undefined`. A client that
 * disconnects mid-body is a ClientAbortError.
 */
export async function readJsonBody(ctx: Koa.Context, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(ctx.get("content-length") || "0");
  if (declared > limit)
    throw new PayloadTooLargeError(`request body of ${declared} bytes is over the limit of ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new PayloadTooLargeError(`request body is over the limit of ${limit} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof PayloadTooLargeError || ctx.req.complete) throw err;
    throw new ClientAbortError(
      `the client closed the connection after ${size}${declared ? ` of ${declared}` : ""} body bytes`,
      { cause: err },
    );
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return undefined;
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH)
    throw new InvalidInputError(
      `request body is nested ${depth} levels deep; at most ${MAX_JSON_DEPTH} levels of arrays and objects are accepted`,
    );
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`request body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** The deepest nesting of `[`/`{` in JSON text, outside strings (no recursion, so any depth is safe). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
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
