import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { waitFor } from "@rpi-swarming/core/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuthError, ConfigError, UpstreamError } from "./errors.js";
import { createLogger } from "./logger.js";
import { createMetricsRegistry } from "./metrics.js";
import { TokenSource } from "./token-source.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let dir: string;
let server: Server | null = null;
let logText = "";
const sources: TokenSource[] = [];

function logger() {
  const stream = new PassThrough();
  stream.on("data", (c: Buffer) => {
    logText += c.toString();
  });
  return createLogger({ level: "debug", stream });
}

async function serve(handler: Handler): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
}

function source(configPath: string, extra: Partial<ConstructorParameters<typeof TokenSource>[0]> = {}) {
  const metrics = createMetricsRegistry("bot1");
  const s = new TokenSource({ configPath, log: logger(), metrics, retryMinMs: 50, retryMaxMs: 200, ...extra });
  sources.push(s);
  return { s, metrics };
}

async function counts(metrics: ReturnType<typeof createMetricsRegistry>) {
  const m = await metrics.getSingleMetric("rpi_swarming_token_refreshes_total")?.get();
  const by = (r: string) => m?.values.find((v) => v.labels.result === r)?.value ?? -1;
  return { success: by("success"), failure: by("failure") };
}

function writeConfig(url: string, headers: Record<string, string> = { "Metadata-Flavor": "Google" }): string {
  const p = join(dir, "oauth2_access_token_config.json");
  writeFileSync(p, JSON.stringify({ url, headers }));
  return p;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "token-source-"));
  logText = "";
});

afterEach(async () => {
  for (const s of sources.splice(0)) s.stop();
  if (server) await new Promise<void>((r) => server?.close(() => r()));
  server = null;
  rmSync(dir, { recursive: true, force: true });
});

describe("TokenSource", () => {
  it("turns auth off when the config file is missing", async () => {
    const { s } = source(join(dir, "absent.json"));
    await s.start();
    expect(s.enabled).toBe(false);
    expect(await s.current()).toBeNull();
    expect(await s.headers()).toEqual({});
    expect(logText).toContain("no token config");
  });

  it("rejects a malformed config naming the file", async () => {
    const p = join(dir, "bad.json");
    writeFileSync(p, "{not json");
    const { s } = source(p);
    await expect(s.start()).rejects.toThrow(ConfigError);
    await expect(s.start()).rejects.toThrow(p);
    writeFileSync(p, JSON.stringify({ headers: {} }));
    await expect(s.start()).rejects.toThrow(/url/);
  });

  it("fetches with the configured headers, caches, and never logs the token", async () => {
    let hits = 0;
    let flavor: string | undefined;
    const url = await serve((req, res) => {
      hits += 1;
      flavor = req.headers["metadata-flavor"] as string | undefined;
      res.end(JSON.stringify({ access_token: "SECRET-abc", expires_in: 3600, token_type: "Bearer" }));
    });
    const { s, metrics } = source(writeConfig(url));
    await s.start();
    const t = await s.current();
    expect(t?.token).toBe("SECRET-abc");
    expect(t?.expiresAt).toBeGreaterThan(Date.now() / 1000 + 3500);
    expect(await s.headers()).toEqual({ Authorization: "Bearer SECRET-abc" });
    expect(hits).toBe(1);
    expect(flavor).toBe("Google");
    expect((await counts(metrics)).success).toBe(1);
    expect(logText).not.toContain("SECRET");
  });

  it("refreshes in the background before the token expires", async () => {
    let n = 0;
    const url = await serve((_req, res) => {
      n += 1;
      res.end(JSON.stringify({ access_token: `tok-${n}`, expires_in: 2 }));
    });
    // Margin is capped at half the lifetime: refresh after about 1 s.
    const { s, metrics } = source(writeConfig(url));
    await s.start();
    expect((await s.current())?.token).toBe("tok-1");
    // Within the first token's 2 s lifetime, and without asking: the refresh ran in the background.
    await waitFor("a background refresh", () => n >= 2, 1900);
    expect((await s.current())?.token).not.toBe("tok-1");
    expect((await counts(metrics)).success).toBeGreaterThanOrEqual(2);
  });

  it("reports garbage replies and retries with backoff until the endpoint recovers", async () => {
    let mode: "garbage" | "ok" = "garbage";
    let hits = 0;
    const url = await serve((_req, res) => {
      hits += 1;
      res.end(mode === "garbage" ? "<html>oops</html>" : JSON.stringify({ access_token: "good", expires_in: 3600 }));
    });
    const { s, metrics } = source(writeConfig(url));
    await s.start();
    await expect(s.current()).rejects.toThrow(UpstreamError);
    await expect(s.current()).rejects.toThrow(/not JSON/);
    await waitFor("background retries", () => hits >= 3, 5000);
    const failuresBefore = (await counts(metrics)).failure;
    expect(failuresBefore).toBeGreaterThanOrEqual(2);
    mode = "ok";
    await waitFor("the token after the endpoint recovered", async () => (await s.current())?.token === "good", 5000);
    expect((await counts(metrics)).success).toBeGreaterThanOrEqual(1);
  });

  it("names JSON without access_token as unusable", async () => {
    const url = await serve((_req, res) => res.end(JSON.stringify({ expires_in: 10 })));
    const { s } = source(writeConfig(url));
    await s.start();
    await expect(s.current()).rejects.toThrow(/access_token/);
  });

  it("maps 401/403 to AuthError and a closed port to UpstreamError", async () => {
    const url = await serve((_req, res) => {
      res.statusCode = 403;
      res.end("forbidden");
    });
    const { s } = source(writeConfig(url));
    await s.start();
    await expect(s.current()).rejects.toThrow(AuthError);

    // A port nothing listens on.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { s: down, metrics } = source(writeConfig(`http://127.0.0.1:${port}/token`));
    await down.start();
    await expect(down.current()).rejects.toThrow(UpstreamError);
    await expect(down.current()).rejects.toThrow(/cannot be reached/);
    expect((await counts(metrics)).failure).toBeGreaterThanOrEqual(1);
  });
});
