/** The http power controller against a fake smart plug on 127.0.0.1. */
import { TimeoutError, UpstreamError } from "@rpi-swarming/core";
import { afterEach, describe, expect, it } from "vitest";
import { FakePlug } from "../__fixtures__/fake-plug.js";
import { HttpPowerController } from "./http.js";
import { powerHttpSchema } from "./settings.js";

let plug: FakePlug | undefined;
afterEach(async () => {
  await plug?.close();
  plug = undefined;
});

const TOKEN = "plug-secret-0123456789";

async function setUp(timeoutSeconds = 5): Promise<{ plug: FakePlug; controller: HttpPowerController }> {
  plug = await FakePlug.start();
  // Parsed as the setting is, so defaults (method POST, headers {}) are those of powerHttp.
  const config = powerHttpSchema.parse({
    off: {
      url: `${plug.url}/relay/0/off?token=${TOKEN}`,
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: '{"turn":"off"}',
    },
    on: { method: "GET", url: `${plug.url}/relay/0/on` },
    timeoutSeconds,
  });
  return { plug, controller: new HttpPowerController(config) };
}

describe("HttpPowerController", () => {
  it("sends the off and on requests as configured", async () => {
    const { plug, controller } = await setUp();
    await controller.off({ serial: "8A2Y0B3C" });
    expect(plug.on).toBe(false);
    await controller.on({ serial: "8A2Y0B3C" });
    expect(plug.on).toBe(true);
    expect(plug.requests.map((r) => [r.method, r.path.split("?")[0], r.body])).toEqual([
      ["POST", "/relay/0/off", '{"turn":"off"}'],
      ["GET", "/relay/0/on", ""],
    ]);
    expect(plug.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("fails on an error status, naming the request without its token", async () => {
    const { plug, controller } = await setUp();
    plug.failWith = 503;
    const err = await controller.off({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    const message = (err as Error).message;
    expect(message).toBe(`power off request POST ${plug.url}/relay/0/off?token=<redacted> answered 503: relay busy`);
    expect(message).not.toContain(TOKEN);
  });

  it("gives up after its timeout when the plug does not answer", async () => {
    const { plug, controller } = await setUp(0.3);
    plug.hang = true;
    const err = await controller.off({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/got no answer within 0.3 s$/);
    expect((err as Error).message).not.toContain(TOKEN);
  });

  it("says so when nothing listens", async () => {
    const { plug, controller } = await setUp();
    await plug.close();
    const err = await controller.on({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(
      /^power on request GET http:\/\/127\.0\.0\.1:\d+\/relay\/0\/on failed: ECONNREFUSED$/,
    );
  });
});
