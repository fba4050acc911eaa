import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { botCodeDigest, InvalidInputError } from "@rpi-swarming/core";
import type Koa from "koa";
import type { DoubleStore } from "./store.js";
import type { BotCodeFault, PublishedBotCode } from "./types.js";

/** Computes the digest of a zip on disk and makes it the current bot code. */
export async function publishZip(store: DoubleStore, zipPath: string): Promise<PublishedBotCode> {
  let digest: string;
  let size: number;
  try {
    digest = await botCodeDigest(zipPath);
    size = (await stat(zipPath)).size;
  } catch (err) {
    throw new InvalidInputError(`cannot publish ${zipPath}: ${(err as Error).message}`, { cause: err });
  }
  const code: PublishedBotCode = { digest, path: zipPath, size, publishedAt: new Date().toISOString() };
  store.publish(code);
  return code;
}

/** Waits until the client or the server goes away; used by the "hang" fault. */
function hang(ctx: Koa.Context, closing: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    ctx.req.socket.once("close", () => resolve());
    void closing.then(() => {
      ctx.req.socket.destroy();
      resolve();
    });
  });
}

/** Applies a status or hang fault. Returns true when the request was answered by the fault. */
export async function applyRequestFault(
  ctx: Koa.Context,
  fault: BotCodeFault | null,
  closing: Promise<void>,
): Promise<boolean> {
  if (!fault) return false;
  if (fault.mode === "status") {
    ctx.status = fault.status;
    ctx.body = { error: "InjectedFault", message: `swarming double: injected HTTP ${fault.status}` };
    return true;
  }
  if (fault.mode === "hang") {
    await hang(ctx, closing);
    ctx.respond = false;
    return true;
  }
  return false;
}

/** Waits for "drain" or "close", then takes both listeners off (one per drain would pile up on a slow client). */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.removeListener("drain", done);
      res.removeListener("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/** Serves a published zip, honouring the body faults (truncate, not-zip, slow). Returns bytes sent. */
export async function serveZip(ctx: Koa.Context, code: PublishedBotCode, fault: BotCodeFault | null): Promise<number> {
  if (fault?.mode === "not-zip") {
    const body = Buffer.from(
      "<html><body>This is not a zip: the swarming double serves garbage on purpose.</body></html>\n",
    );
    ctx.status = 200;
    ctx.type = "application/octet-stream";
    ctx.body = body;
    return body.length;
  }
  ctx.respond = false;
  const res = ctx.res;
  res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": String(code.size) });
  const limit = fault?.mode === "truncate" ? (fault.afterBytes ?? Math.floor(code.size / 2)) : code.size;
  const rate = fault?.mode === "slow" ? fault.bytesPerSecond : undefined;
  let sent = 0;
  const stream = createReadStream(code.path, rate ? { highWaterMark: Math.max(1, Math.min(65536, rate)) } : {});
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (res.destroyed) break;
      if (rate) await new Promise((r) => setTimeout(r, (chunk.length / rate) * 1000));
      if (res.destroyed) break;
      const piece = sent + chunk.length > limit ? chunk.subarray(0, limit - sent) : chunk;
      if (piece.length > 0 && !res.write(piece)) await drainOrClose(res);
      sent += piece.length;
      if (sent >= limit) break;
    }
  } finally {
    stream.destroy();
  }
  if (sent < code.size) {
    // Cut mid-body: the client sees a connection closed before Content-Length bytes.
    res.destroy();
  } else {
    res.end();
  }
  return sent;
}
