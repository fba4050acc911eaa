import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { redactUrl, TimeoutError, UpstreamError } from "@rpi-swarming/core";
import type { PowerTarget } from "../types.js";
import type { PowerController } from "./types.js";

export interface PowerHttpRequest {
  readonly method: string;
  readonly url: string;
  /** May carry a plug's token: never logged or put in an error message. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
}

export interface HttpPowerOptions {
  readonly off: PowerHttpRequest;
  readonly on: PowerHttpRequest;
  readonly timeoutSeconds: number;
}

/** Only the start of a reply is read: enough for an error message. */
const MAX_REPLY_BYTES = 4096;

/**
 * Power through a smart plug's, PDU's or PoE switch's HTTP API: one request
 * for off, one for on. node:http, not fetch: the state server runs without
 * Node's fetch (images/rpi-swarming).
 */
export class HttpPowerController implements PowerController {
  readonly kind = "http";
  readonly #options: HttpPowerOptions;
  readonly #inFlight = new Set<AbortController>();

  constructor(options: HttpPowerOptions) {
    this.#options = options;
  }

  off(_target: PowerTarget): Promise<void> {
    return this.#send(this.#options.off, "off");
  }

  on(_target: PowerTarget): Promise<void> {
    return this.#send(this.#options.on, "on");
  }

  close(): void {
    for (const c of this.#inFlight) c.abort();
  }

  async #send(req: PowerHttpRequest, action: string): Promise<void> {
    // Errors name the method and the URL with its credentials redacted, never the headers or body.
    const what = `power ${action} request ${req.method} ${redactUrl(req.url)}`;
    const abort = new AbortController();
    this.#inFlight.add(abort);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.#options.timeoutSeconds * 1000);
    try {
      const { status, text } = await send(req, abort.signal);
      if (status >= 200 && status < 300) return;
      const said = text.trim().split("\n")[0]?.slice(0, 200) ?? "";
      throw new UpstreamError(`${what} answered ${status}${said ? `: ${said}` : ""}`);
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      if (timedOut)
        throw new TimeoutError(`${what} got no answer within ${this.#options.timeoutSeconds} s`, { cause: err });
      const code = (err as NodeJS.ErrnoException).code;
      throw new UpstreamError(`${what} failed: ${code ?? (err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(abort);
    }
  }
}

function send(req: PowerHttpRequest, signal: AbortSignal): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(req.url);
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const body = req.body !== undefined && req.method !== "GET" ? Buffer.from(req.body) : undefined;
    const headers: Record<string, string | number> = { ...req.headers };
    if (body) headers["content-length"] = body.length;
    const r = request(url, { method: req.method, headers, signal }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        if (bytes < MAX_REPLY_BYTES) chunks.push(c);
        bytes += c.length;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString("utf8").slice(0, MAX_REPLY_BYTES),
        }),
      );
      res.on("error", reject);
    });
    r.on("error", reject);
    r.end(body);
  });
}
