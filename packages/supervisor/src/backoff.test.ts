import { describe, expect, it } from "vitest";
import { Backoff, sleep } from "./backoff.js";

describe("Backoff", () => {
  it("doubles from min to max with jitter in [d/2, d] and resets", () => {
    const low = new Backoff(1000, 300_000, () => 0);
    const high = new Backoff(1000, 300_000, () => 1);
    const lows = Array.from({ length: 12 }, () => low.next());
    const highs = Array.from({ length: 12 }, () => high.next());
    expect(highs.slice(0, 5)).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(lows.slice(0, 3)).toEqual([500, 1000, 2000]);
    expect(highs.at(-1)).toBe(300_000);
    expect(lows.at(-1)).toBe(150_000);
    expect(high.failures).toBe(12);
    high.reset();
    expect(high.next()).toBe(1000);
  });

  it("spreads delays when random", () => {
    const b = () => new Backoff(1000, 300_000).next();
    const values = new Set(Array.from({ length: 50 }, b));
    expect(values.size).toBeGreaterThan(10);
    for (const v of values) expect(v).toBeGreaterThanOrEqual(500);
  });

  it("rejects bounds that make no sense", () => {
    expect(() => new Backoff(0, 10)).toThrow(RangeError);
    expect(() => new Backoff(10, 5)).toThrow(RangeError);
  });
});

describe("sleep", () => {
  it("ends early with false when aborted", async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 20);
    expect(await sleep(10_000, ac.signal)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await sleep(5)).toBe(true);
  });
});
