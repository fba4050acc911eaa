import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scratchDir, testConfig, testLogger } from "./__fixtures__/helpers.js";
import { type StateServer, startStateServer } from "./server.js";

// Issue 11 item 7: the metrics port shares the event loop with the hooks, so a flood of
// /metrics must not render the registry once per request.
let server: StateServer | undefined;
let scratch: ReturnType<typeof scratchDir>;

beforeEach(() => {
  scratch = scratchDir();
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  scratch.cleanup();
});

describe("/metrics under a flood", () => {
  it("renders the registry once for a burst of requests and serves every one of them the same text", async () => {
    server = await startStateServer(testConfig({ device: "simulated", probeIntervalSeconds: "3600" }, scratch.dir), {
      log: testLogger(),
    });
    const registry = server.registry;
    const render = registry.metrics.bind(registry);
    let renders = 0;
    registry.metrics = () => {
      renders += 1;
      return render();
    };
    const replies = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const res = await fetch(`${server?.metricsUrl}/metrics`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toContain("text/plain");
        return res.text();
      }),
    );
    expect(new Set(replies).size).toBeLessThanOrEqual(renders);
    expect(replies[0]).toContain("rpi_swarming_device_up");
    // One render, or two if the burst outlived the cache's age on a loaded machine.
    expect(renders).toBeGreaterThanOrEqual(1);
    expect(renders).toBeLessThanOrEqual(2);
  });
});
