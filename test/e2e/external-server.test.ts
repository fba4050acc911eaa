/**
 * `rpi-swarming demo --swarming-server URL --token-config FILE` leaves the
 * double out and points the pod at the given server, with auth as in a device
 * lab: a double started on its own requires a bearer token, which a
 * metadata-server stand-in in this test process hands out. Every part fetches
 * the token itself (supervisor, state server) and the bot gets it through
 * bot_config.py, which fetches it directly while the state server is down.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOOK_SCRIPT } from "../../packages/cli/src/demo/pod.js";
import {
  type DoubleProcess,
  getJson,
  type Json,
  pidsMentioning,
  type RunningDemo,
  startDemo,
  startDoubleProcess,
  waitFor,
} from "./harness.js";

const BOT = "skia-rpi2-external";
const TOKEN = "e2e-lab-token";
// Under the bot's 570 s refresh margin after a few seconds: the bot then asks its hook for headers on every request.
const TOKEN_LIFETIME_S = 575;

describe("the pod against a Swarming server of its own, with auth", () => {
  let server: DoubleProcess | undefined;
  let serverDir: string;
  let url: string;
  let metadata: Server;
  const tokenFetches: string[] = [];
  let demo: RunningDemo | undefined;

  beforeAll(async () => {
    serverDir = mkdtempSync(join(tmpdir(), "rpi-swarming-e2e-server-"));
    metadata = createServer((req, res) => {
      if (req.headers["metadata-flavor"] !== "Google") {
        res.writeHead(403).end("missing Metadata-Flavor");
        return;
      }
      tokenFetches.push(String(req.headers["user-agent"]));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ access_token: TOKEN, expires_in: TOKEN_LIFETIME_S, token_type: "Bearer" }));
    });
    await new Promise<void>((r) => metadata.listen(0, "127.0.0.1", r));
    const tokenUrl = `http://127.0.0.1:${(metadata.address() as AddressInfo).port}/token`;
    writeFileSync(
      join(serverDir, "token-config.json"),
      JSON.stringify({ url: tokenUrl, headers: { "Metadata-Flavor": "Google" } }),
    );
    server = await startDoubleProcess(serverDir, [`--hook-script=${HOOK_SCRIPT}`, `--double-token=${TOKEN}`]);
    url = server.url;
  }, 30_000);

  afterAll(async () => {
    demo?.killAll();
    if (demo) rmSync(demo.workDir, { recursive: true, force: true });
    await server?.stop();
    await new Promise((r) => metadata.close(r));
    rmSync(serverDir, { recursive: true, force: true });
  }, 30_000);

  it("connects the bot to that server with a token, also while the state server is down, and starts no double", async () => {
    demo = await startDemo({
      botId: BOT,
      extraArgs: [
        `--swarming-server=${url}`,
        `--token-config=${join(serverDir, "token-config.json")}`,
        "--probe-interval-seconds=0.5",
        "--restart-delay-seconds=6",
      ],
    });
    const d = demo;
    const bot = async () => getJson(`${url}/bots/${BOT}`);
    const seen = await waitFor(
      "the bot at the external server",
      async () => {
        const b = await bot();
        return (b.polls as number) >= 1 ? b : undefined;
      },
      40_000,
    );
    expect((seen.dimensions as Record<string, string[]>).device_type).toEqual(["sargo"]);
    const mine = pidsMentioning(d.workDir).map((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8"));
    expect(mine.some((c) => c.includes("swarming-double"))).toBe(false);
    expect(mine.some((c) => c.includes("state-server"))).toBe(true);
    await waitFor("the summary naming the server", () => d.output().includes(`Swarming      ${url}\n`));
    expect(d.output()).not.toContain("local Swarming double");

    // The token reached the bot: its requests were accepted, none refused.
    const requests = async () =>
      ((await getJson(`${url}/_double/requests`)).requests as Json[]).filter((r) => r.botId === BOT);
    const polls = (await requests()).filter((r) => String(r.path).endsWith("/poll"));
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((r) => r.authorized === true && r.status === 200)).toBe(true);
    // Only node processes (supervisor, state server) fetched tokens so far; the hook asked the state server.
    expect(tokenFetches.some((ua) => ua.startsWith("Python-urllib"))).toBe(false);

    // Let the token age into the bot's refresh margin, then take the state server away.
    await new Promise((r) => setTimeout(r, 6000));
    const [stateServer] = pidsMentioning(`${d.workDir}/maintenance`);
    expect(stateServer).toBeDefined();
    const killedAt = Date.now();
    process.kill(stateServer as number, "SIGKILL");
    await waitFor("bot_config.py fetching the token itself", () =>
      tokenFetches.some((ua) => ua.startsWith("Python-urllib")),
    );
    const during = await waitFor("an authorized poll while the state server is down", async () => {
      const b = await bot();
      return Date.parse(b.lastSeen as string) > killedAt && b.quarantined ? b : undefined;
    });
    expect(String(during.quarantined)).toContain("state server");
    const refused = (await requests()).filter((r) => r.status === 401);
    expect(refused).toEqual([]);
    await waitFor(
      "recovery after the restart",
      async () => {
        const b = await bot();
        return Date.parse(b.lastSeen as string) > killedAt + 6000 && !b.quarantined && !b.maintenance;
      },
      30_000,
    );

    d.child.kill("SIGTERM");
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(pidsMentioning(d.workDir)).toEqual([]);
    // The server outlives the pod and heard the bot go.
    const events = ((await bot()).events as { event: string }[]).map((e) => e.event);
    expect(events).toContain("bot_shutdown");
  }, 90_000);
});
