/**
 * Helpers every test suite shares (unit, integration, end-to-end):
 * `import { freePort, waitFor } from "@rpi-swarming/core/test-support"`.
 * Resolved through the `source` export condition only: never built or shipped.
 */
import { createServer } from "node:net";
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../logger.js";

/** A debug logger whose records (parsed JSON) the test reads. */
export function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: "debug",
    stream: new Writable({
      write(chunk, _e, cb) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        cb();
      },
    }),
  });
  return { log, lines };
}

/** A port the kernel just handed out on 127.0.0.1, released again so a child can bind it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}

export interface WaitOptions {
  /** Give up after this long (default 20 s). */
  timeoutMs?: number;
  /** Pause between two checks (default 50 ms). */
  intervalMs?: number;
}

/**
 * Checks `check` until it returns a truthy value and returns that value. An
 * error thrown by the check counts as "not yet"; on timeout the error names
 * `what` and the last value or error seen, so a failure says what was there.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: WaitOptions | number = {},
): Promise<T> {
  const { timeoutMs = 20_000, intervalMs = 50 } = typeof options === "number" ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const seen = last instanceof Error ? `error: ${last.message}` : JSON.stringify(last);
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${seen}`);
}

export { makeZip } from "./make-zip.js";

/** GET a JSON reply; an HTTP error status throws with the body. */
export async function getJson<T = Record<string, unknown>>(url: string, timeoutMs = 5000): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json()) as T;
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** POST a JSON body and read the JSON reply; an HTTP error status throws with the reply. */
export async function postJson<T = Record<string, unknown>>(url: string, body: unknown, timeoutMs = 30_000): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const reply = (await res.json()) as T;
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status} ${JSON.stringify(reply)}`);
  return reply;
}
