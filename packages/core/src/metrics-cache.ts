import type { Registry } from "prom-client";

/** How old the served metrics text may be; scrapers come every 15 s or more, floods many times a second. */
export const METRICS_MAX_AGE_MS = 1000;

/**
 * The registry's Prometheus text, rendered at most once per `maxAgeMs`.
 * Rendering costs about a millisecond of the event loop that also answers
 * the bot's hooks; a scraper requesting /metrics a hundred times a second
 * would otherwise spend a tenth of it. Requests within the age get the
 * cached text; concurrent requests after it share one render.
 */
export class MetricsCache {
  private cached: { body: Buffer; renderedAt: number } | undefined;
  private rendering: Promise<Buffer> | undefined;
  /** How many times the registry was rendered (tests, benchmarks). */
  renders = 0;

  constructor(
    private readonly registry: Registry,
    private readonly maxAgeMs = METRICS_MAX_AGE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text as UTF-8 bytes (encoded once per render, not per request). */
  body(): Promise<Buffer> {
    const c = this.cached;
    if (c && this.now() - c.renderedAt < this.maxAgeMs) return Promise.resolve(c.body);
    if (!this.rendering) {
      // The age counts from the start of the render: that is when the values were read.
      const startedAt = this.now();
      this.renders += 1;
      this.rendering = this.registry
        .metrics()
        .then((text) => {
          const body = Buffer.from(text, "utf8");
          this.cached = { body, renderedAt: startedAt };
          return body;
        })
        .finally(() => {
          this.rendering = undefined;
        });
    }
    return this.rendering;
  }
}
