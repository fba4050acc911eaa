import { readFile } from "node:fs/promises";
import { Counter, type Registry } from "prom-client";
import * as z from "zod/mini";
import "./config/zod-messages.js";
import { AuthError, ConfigError, TimeoutError, UpstreamError } from "./errors.js";
import type { Logger } from "./logger.js";
import { METRIC_PREFIX } from "./metrics.js";

/** An OAuth access token and the unix time (seconds) at which it stops working. */
export interface AccessToken {
  readonly token: string;
  readonly expiresAt: number;
}

export interface TokenSourceOptions {
  /** Token config `{"url", "headers"}`; a missing file turns auth off. */
  readonly configPath: string;
  readonly log: Logger;
  /** Registry for `rpi_swarming_token_refreshes_total{result}`. */
  readonly metrics?: Registry;
  /** Refresh this many seconds before expiry (capped at half the token's lifetime). Default 300. */
  readonly refreshMarginSeconds?: number;
  /** Per-request timeout. Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** Retry delays after failed background refreshes: doubling from min to max, with jitter. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

const tokenConfigSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  headers: z._default(z.record(z.string(), z.string()), {}),
});
type TokenConfig = z.infer<typeof tokenConfigSchema>;

const tokenReplySchema = z.object({
  access_token: z.string().check(z.minLength(1)),
  expires_in: z.number().check(z.positive()),
  token_type: z.optional(z.string()),
});

const REFRESHES_METRIC = `${METRIC_PREFIX}token_refreshes_total`;

function refreshCounter(registry: Registry): Counter<"result"> {
  // Two token sources on one registry (e.g. in tests) share the counter.
  const existing = registry.getSingleMetric(REFRESHES_METRIC);
  if (existing) return existing as Counter<"result">;
  return new Counter({
    name: REFRESHES_METRIC,
    help: "OAuth token fetches",
    labelNames: ["result"],
    registers: [registry],
  });
}

/**
 * Fetches OAuth access tokens from the endpoint named in the token config (a
 * GCE-metadata-shaped server), caches them and refreshes them in the
 * background before they expire. Failed refreshes are retried with backoff.
 */
export class TokenSource {
  private readonly opts: Required<Omit<TokenSourceOptions, "metrics">>;
  private readonly counter: Counter<"result"> | undefined;
  private config: TokenConfig | null | undefined;
  private cached: AccessToken | null = null;
  /** Lifetime in seconds of the cached token as issued. */
  private cachedLifetime = Number.POSITIVE_INFINITY;
  private inflight: Promise<AccessToken> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;

  constructor(options: TokenSourceOptions) {
    this.opts = {
      refreshMarginSeconds: 300,
      requestTimeoutMs: 10_000,
      retryMinMs: 1_000,
      retryMaxMs: 60_000,
      ...options,
      log: options.log.child({ component: "token-source" }),
    };
    this.counter = options.metrics ? refreshCounter(options.metrics) : undefined;
    // Zero the series so dashboards see both results from the start.
    this.counter?.inc({ result: "success" }, 0);
    this.counter?.inc({ result: "failure" }, 0);
  }

  /** True when a token config was found at start(). */
  get enabled(): boolean {
    return Boolean(this.config);
  }

  get configPath(): string {
    return this.opts.configPath;
  }

  /**
   * Reads the token config. A missing file turns auth off (said once); an
   * unreadable or malformed one throws ConfigError. Then fetches the first
   * token in the background.
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.config = await this.readConfig();
    if (!this.config) {
      this.opts.log.info({ tokenConfig: this.opts.configPath }, "no token config: requests carry no auth");
      return;
    }
    this.opts.log.info({ tokenConfig: this.opts.configPath, url: this.config.url }, "token config loaded");
    this.scheduleRefresh(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * A token valid for at least the refresh margin, fetching one if needed;
   * null when auth is off. Throws AuthError/UpstreamError/TimeoutError when no
   * valid token can be had.
   */
  async current(): Promise<AccessToken | null> {
    if (this.config === undefined) this.config = await this.readConfig();
    if (!this.config) return null;
    if (this.cached && this.cached.expiresAt - nowSeconds() > this.marginFor(this.cachedLifetime)) return this.cached;
    if (this.cached && this.cached.expiresAt - nowSeconds() > 5) {
      // Still usable: refresh in the background, hand out what we have.
      void this.refresh().catch(() => undefined);
      return this.cached;
    }
    return this.refresh();
  }

  /** `{Authorization: "Bearer ..."}` or `{}` when auth is off. */
  async headers(): Promise<Record<string, string>> {
    const t = await this.current();
    return t ? { Authorization: `Bearer ${t.token}` } : {};
  }

  private marginFor(lifetime: number): number {
    return Math.min(this.opts.refreshMarginSeconds, lifetime / 2);
  }

  private async readConfig(): Promise<TokenConfig | null> {
    let text: string;
    try {
      text = await readFile(this.opts.configPath, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new ConfigError(`token config ${this.opts.configPath} cannot be read: ${(err as Error).message}`, {
        cause: err,
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`token config ${this.opts.configPath} is not valid JSON: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const parsed = tokenConfigSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
      throw new ConfigError(`token config ${this.opts.configPath} is malformed: ${issues}`);
    }
    return parsed.data;
  }

  /** One fetch at a time; concurrent callers share it. */
  private refresh(): Promise<AccessToken> {
    if (!this.inflight) {
      this.inflight = this.fetchToken().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  private async fetchToken(): Promise<AccessToken> {
    const config = this.config;
    if (!config) throw new AuthError("auth is off: no token config");
    try {
      const { lifetime, ...token } = await this.request(config);
      this.cached = token;
      this.cachedLifetime = lifetime;
      this.failures = 0;
      this.counter?.inc({ result: "success" });
      this.opts.log.debug({ expiresAt: token.expiresAt }, "token refreshed");
      this.scheduleRefresh(Math.max(1, token.expiresAt - nowSeconds() - this.marginFor(lifetime)) * 1000);
      return token;
    } catch (err) {
      this.failures += 1;
      this.counter?.inc({ result: "failure" });
      const delay = retryDelay(this.failures, this.opts.retryMinMs, this.opts.retryMaxMs);
      this.opts.log.warn(
        { err: { name: (err as Error).name, message: (err as Error).message }, retryInMs: delay },
        "token fetch failed",
      );
      this.scheduleRefresh(delay);
      throw err;
    }
  }

  private async request(config: TokenConfig): Promise<AccessToken & { lifetime: number }> {
    const where = `token endpoint ${config.url} (from ${this.opts.configPath})`;
    let body: string;
    let status: number;
    try {
      // Loaded on first use: got is the largest module a state server would
      // otherwise carry, and most labs' state servers never fetch a token.
      const { default: got } = await import("got");
      const res = await got(config.url, {
        headers: config.headers,
        timeout: { request: this.opts.requestTimeoutMs },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: false,
      });
      body = res.body;
      status = res.statusCode;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "ETIMEDOUT") throw new TimeoutError(`${where} did not answer in time`, { cause: err });
      throw new UpstreamError(`${where} cannot be reached: ${(err as Error).message}`, { cause: err });
    }
    if (status === 401 || status === 403) throw new AuthError(`${where} refused the request with HTTP ${status}`);
    if (status !== 200) throw new UpstreamError(`${where} answered HTTP ${status}`);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new UpstreamError(`${where} answered something that is not JSON`);
    }
    const parsed = tokenReplySchema.safeParse(json);
    if (!parsed.success) {
      const keys = parsed.error.issues.map((i) => i.path.join(".") || "(root)").join(", ");
      throw new UpstreamError(`${where} answered JSON without a usable access_token/expires_in (${keys})`);
    }
    return {
      token: parsed.data.access_token,
      expiresAt: nowSeconds() + parsed.data.expires_in,
      lifetime: parsed.data.expires_in,
    };
  }

  private scheduleRefresh(delayMs: number): void {
    if (this.stopped || !this.config) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh().catch(() => undefined);
    }, delayMs);
    this.timer.unref();
  }
}

function nowSeconds(): number {
  return Date.now() / 1000;
}

/** Doubling delay with full jitter in [d/2, d]. */
function retryDelay(failures: number, minMs: number, maxMs: number): number {
  const d = Math.min(maxMs, minMs * 2 ** Math.max(0, failures - 1));
  return Math.round(d / 2 + Math.random() * (d / 2));
}
