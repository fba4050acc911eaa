import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { MetricsCache } from "./metrics-cache.js";

function setup() {
  const registry = new Registry();
  const counter = new Counter({ name: "rpi_swarming_test_total", help: "test", registers: [registry] });
  let clock = 0;
  const cache = new MetricsCache(registry, 1000, () => clock);
  return { counter, cache, tick: (ms: number) => (clock += ms) };
}

const value = (b: Buffer) => Number(/rpi_swarming_test_total (\d+)/.exec(b.toString())?.[1]);

describe("MetricsCache", () => {
  it("renders once for concurrent requests and serves that text until it is maxAge old", async () => {
    const { counter, cache, tick } = setup();
    const first = await Promise.all(Array.from({ length: 50 }, () => cache.body()));
    expect(cache.renders).toBe(1);
    expect(new Set(first).size).toBe(1);
    counter.inc();
    tick(999);
    expect(value(await cache.body())).toBe(0);
    expect(cache.renders).toBe(1);
    tick(1);
    expect(value(await cache.body())).toBe(1);
    expect(cache.renders).toBe(2);
  });

  it("shares a render in flight and keeps no failed render", async () => {
    const registry = new Registry();
    let fail = true;
    registry.metrics = async () => {
      if (fail) throw new Error("collect failed");
      return "ok\n";
    };
    const cache = new MetricsCache(registry, 1000, () => 0);
    const both = await Promise.allSettled([cache.body(), cache.body()]);
    expect(both.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(cache.renders).toBe(1);
    fail = false;
    expect((await cache.body()).toString()).toBe("ok\n");
    expect(cache.renders).toBe(2);
  });
});
