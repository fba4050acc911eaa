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

/** Power through a smart plug's, PDU's or PoE switch's HTTP API: one request for off, one for on. */
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
    const timer = setTimeout(() => abort.abort(new Error("timeout")), this.#options.timeoutSeconds * 1000);
    try {
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        ...(req.body !== undefined && req.method !== "GET" ? { body: req.body } : {}),
        signal: abort.signal,
        redirect: "error",
      });
      const text = await res.text();
      if (res.ok) return;
      const said = text.trim().split("\n")[0]?.slice(0, 200) ?? "";
      throw new UpstreamError(`${what} answered ${res.status}${said ? `: ${said}` : ""}`);
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      if (abort.signal.aborted)
        throw new TimeoutError(`${what} got no answer within ${this.#options.timeoutSeconds} s`, { cause: err });
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new UpstreamError(`${what} failed: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(abort);
    }
  }
}
