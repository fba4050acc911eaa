import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { botCodeDigest, CorruptZipError } from "@rpi-swarming/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HOOK_FIXTURE } from "./__fixtures__/bots.js";
import { BOT_API, type SwarmingDouble, startSwarmingDouble } from "./index.js";
import { buildStandInBotZip } from "./zip-builder.js";

let tmp: string;
let zipPath: string;
let double: SwarmingDouble;

const botHeaders = (extra: Record<string, string> = {}) => ({
  "X-Luci-Swarming-Bot-ID": "bot-a",
  "User-Agent": "swarming_bot/test",
  "Content-Type": "application/json; charset=UTF-8",
  ...extra,
});
const attrs = (version: string, extra: Record<string, unknown> = {}) => ({
  dimensions: { id: ["bot-a"], pool: ["p"] },
  state: {},
  version,
  ...extra,
});
const post = (path: string, body: unknown, headers: Record<string, string> = botHeaders()) =>
  fetch(`${double.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "double-test-"));
  zipPath = (
    await buildStandInBotZip({ server: "http://127.0.0.1:1", hookScript: HOOK_FIXTURE, outPath: join(tmp, "a.zip") })
  ).path;
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});
afterEach(async () => {
  await double?.close();
});

describe("swarming double bot API", () => {
  it("answers server_ping, handshake and poll like Swarming and records the bot", async () => {
    double = await startSwarmingDouble({ botCode: { zipPath }, serverDimensions: { pool: ["lab"] } });
    const ping = await fetch(`${double.url}${BOT_API}/server_ping`);
    expect(await ping.text()).toBe("Server up");
    const version = double.currentVersion() as string;
    const hs = await post(`${BOT_API}/handshake`, attrs(version, { session_id: "x" }));
    expect(hs.status).toBe(200);
    const reply = (await hs.json()) as Record<string, unknown>;
    expect(reply).toMatchObject({ bot_version: version, bot_group_cfg: { dimensions: { pool: ["lab"] } } });
    expect(typeof reply.session).toBe("string");
    const poll = await post(`${BOT_API}/poll`, { ...attrs(version), session: reply.session, request_uuid: "u" });
    expect(await poll.json()).toEqual({ cmd: "sleep", duration: 1 });
    const bots = (await (await fetch(`${double.url}/bots`)).json()) as { bots: { id: string; polls: number }[] };
    expect(bots.bots).toMatchObject([{ id: "bot-a", polls: 1, handshakes: 1 }]);
  });

  it("rejects bot requests without the bot id header, with a wrong Content-Type or a bad body", async () => {
    double = await startSwarmingDouble({});
    const { "X-Luci-Swarming-Bot-ID": _, ...noId } = botHeaders();
    expect((await post(`${BOT_API}/poll`, attrs("v"), noId)).status).toBe(400);
    const textType = botHeaders({ "Content-Type": "text/plain" });
    expect((await post(`${BOT_API}/poll`, attrs("v"), textType)).status).toBe(400);
    const bad = await post(`${BOT_API}/poll`, { dimensions: { id: "bot-a" }, state: {}, version: "v" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/dimensions\.id/);
  });

  it("stops and resumes sending update over its control API (a bot that cannot update itself)", async () => {
    double = await startSwarmingDouble({ botCode: { zipPath } });
    const v = double.currentVersion() as string;
    const control = (enabled: unknown) =>
      fetch(`${double.url}/_double/auto-update`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ enabled }),
      });
    expect((await control("no")).status).toBe(400);
    expect(await (await control(false)).json()).toEqual({ autoUpdate: false });
    expect(await (await post(`${BOT_API}/poll`, attrs("old"))).json()).toMatchObject({ cmd: "sleep" });
    await control(true);
    expect(await (await post(`${BOT_API}/poll`, attrs("old"))).json()).toEqual({ cmd: "update", version: v });
  });

  it("tells a bot on another version to update, then hands out queued commands; runs wait while quarantined", async () => {
    double = await startSwarmingDouble({ botCode: { zipPath } });
    const v = double.currentVersion() as string;
    expect(await (await post(`${BOT_API}/poll`, attrs("old"))).json()).toEqual({ cmd: "update", version: v });
    double.enqueue({ cmd: "run", taskId: "t1" }, "bot-a");
    double.enqueue({ cmd: "sleep", duration: 7 }, "bot-b");
    const sick = await post(`${BOT_API}/poll`, attrs(v, { state: { quarantined: "device missing" } }));
    expect(await sick.json()).toEqual({ cmd: "sleep", duration: 1, quarantined: true });
    const run = (await (await post(`${BOT_API}/poll`, attrs(v))).json()) as {
      cmd: string;
      manifest: { task_id: string };
    };
    expect(run).toMatchObject({
      cmd: "run",
      manifest: {
        task_id: "t1",
        bot_id: "bot-a",
        command: ["python3", "-c", expect.any(String)],
        // Every key the real task runner requires.
        bot_dimensions: { id: ["bot-a"], pool: ["p"] },
        hard_timeout: 3600,
        io_timeout: 1200,
        grace_period: 30,
      },
    });
    const upd = await post(`${BOT_API}/task_update/t1`, {
      id: "bot-a",
      task_id: "t1",
      output: Buffer.from("hi\n").toString("base64"),
      exit_code: 0,
      duration: 0.5,
    });
    expect(await upd.json()).toEqual({ must_stop: false, ok: true });
    expect(double.tasks()).toMatchObject([{ id: "t1", status: "completed", output: "hi\n", exitCode: 0 }]);
    expect(double.state().queue).toMatchObject([{ botId: "bot-b", command: { cmd: "sleep", duration: 7 } }]);
  });

  it("quarantines (server side) a bot whose dimensions break Swarming's rules", async () => {
    double = await startSwarmingDouble({});
    const r = await post(`${BOT_API}/poll`, {
      ...attrs("v"),
      dimensions: { id: ["bot-a"], pool: ["p"], "bad key": ["x"] },
    });
    expect(await r.json()).toMatchObject({ cmd: "sleep", quarantined: true });
    expect(double.bot("bot-a")?.serverQuarantine).toMatch(/dimension key "bad key" must match/);
  });

  it("records events and task errors, and says must_stop after cancelTask", async () => {
    double = await startSwarmingDouble({});
    double.enqueue({ cmd: "run", taskId: "t2" });
    await post(`${BOT_API}/poll`, attrs("v"));
    expect(double.cancelTask("t2")).toBe(true);
    expect(await (await post(`${BOT_API}/task_update/t2`, { output: "" })).json()).toMatchObject({ must_stop: true });
    await post(`${BOT_API}/event`, { ...attrs("v"), event: "bot_error", message: "boom" });
    expect(await (await post(`${BOT_API}/task_error/t3`, { message: "cannot start" })).json()).toEqual({ resp: 1 });
    expect(double.bot("bot-a")?.events).toMatchObject([{ event: "bot_error", message: "boom" }]);
    expect(double.tasks().find((t) => t.id === "t3")).toMatchObject({ status: "error", error: "cannot start" });
  });
});

describe("swarming double /bot_code", () => {
  it("redirects /bot_code to the digest and serves the zip; 404 for an unknown digest or no code", async () => {
    double = await startSwarmingDouble({});
    expect((await fetch(`${double.url}/bot_code`, { redirect: "manual" })).status).toBe(404);
    const code = await double.publishBotCode({ zipPath });
    expect(code.digest).toBe(await botCodeDigest(zipPath));
    const redirect = await fetch(`${double.url}/bot_code`, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe(`${double.url}${BOT_API}/bot_code/${code.digest}`);
    const zip = await fetch(`${double.url}/bot_code`);
    expect(zip.headers.get("content-type")).toBe("application/octet-stream");
    expect(Buffer.from(await zip.arrayBuffer()).equals(await readFile(zipPath))).toBe(true);
    expect((await fetch(`${double.url}${BOT_API}/bot_code/${"0".repeat(64)}`)).status).toBe(404);
    expect(double.state().botCodeDownloads).toBe(1);
  });

  it("checks the bearer token on the bot API and /bot_code but not server_ping", async () => {
    double = await startSwarmingDouble({ token: "s3cret", botCode: { zipPath } });
    expect((await fetch(`${double.url}${BOT_API}/server_ping`)).status).toBe(200);
    expect((await fetch(`${double.url}/bot_code`, { redirect: "manual" })).status).toBe(401);
    const wrong = { Authorization: "Bearer nope" };
    expect((await fetch(`${double.url}/bot_code`, { redirect: "manual", headers: wrong })).status).toBe(401);
    expect((await post(`${BOT_API}/poll`, attrs("v"))).status).toBe(401);
    const right = { Authorization: "Bearer s3cret" };
    expect((await fetch(`${double.url}/bot_code`, { redirect: "manual", headers: right })).status).toBe(302);
    expect((await post(`${BOT_API}/poll`, attrs("v"), botHeaders(right))).status).toBe(200);
    double.setToken(undefined);
    expect((await post(`${BOT_API}/poll`, attrs("v"))).status).toBe(200);
  });

  it("injects status faults, counted with `times`, on the redirect or the download", async () => {
    double = await startSwarmingDouble({ botCode: { zipPath } });
    double.setFault({ mode: "status", status: 500, on: "redirect", times: 2 });
    expect((await fetch(`${double.url}/bot_code`, { redirect: "manual" })).status).toBe(500);
    expect((await fetch(`${double.url}/bot_code`, { redirect: "manual" })).status).toBe(500);
    expect((await fetch(`${double.url}/bot_code`, { redirect: "manual" })).status).toBe(302);
    double.setFault({ mode: "status", status: 404, on: "download" });
    expect((await fetch(`${double.url}/bot_code`, { redirect: "manual" })).status).toBe(302);
    expect((await fetch(`${double.url}/bot_code`)).status).toBe(404);
    double.setFault(null);
    expect((await fetch(`${double.url}/bot_code`)).status).toBe(200);
  });

  it("truncates the body mid-way, serves a non-zip, and hangs until close", async () => {
    double = await startSwarmingDouble({ botCode: { zipPath } });
    double.setFault({ mode: "truncate", afterBytes: 100 });
    await expect(fetch(`${double.url}/bot_code`).then((r) => r.arrayBuffer())).rejects.toThrow();
    const cut = double.requests().at(-1);
    expect(cut).toMatchObject({ status: 200, bytesSent: 100 });

    double.setFault({ mode: "not-zip" });
    const body = Buffer.from(await (await fetch(`${double.url}/bot_code`)).arrayBuffer());
    const notZip = join(tmp, "not.zip");
    await writeFile(notZip, body);
    await expect(botCodeDigest(notZip)).rejects.toBeInstanceOf(CorruptZipError);

    double.setFault({ mode: "hang", on: "redirect" });
    const hanging = fetch(`${double.url}/bot_code`, { redirect: "manual" });
    const raced = await Promise.race([
      hanging.then(() => "answered"),
      new Promise((r) => setTimeout(() => r("hung"), 300)),
    ]);
    expect(raced).toBe("hung");
    await double.close();
    await expect(hanging).rejects.toThrow();
  });

  it("serves slowly at the requested rate", async () => {
    double = await startSwarmingDouble({ botCode: { zipPath } });
    const size = (await readFile(zipPath)).length;
    double.setFault({ mode: "slow", bytesPerSecond: size * 2 });
    const started = Date.now();
    const got = Buffer.from(await (await fetch(`${double.url}/bot_code`)).arrayBuffer());
    expect(got.length).toBe(size);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });
});

describe("swarming double control API", () => {
  it("publishes, enqueues, sets faults and token over HTTP with clear errors for bad input", async () => {
    double = await startSwarmingDouble({});
    const ctl = (path: string, body: unknown) =>
      fetch(`${double.url}/_double/${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const pub = (await (await ctl("publish", { zipPath })).json()) as { digest: string };
    expect(pub.digest).toBe(await botCodeDigest(zipPath));
    const upload = await fetch(`${double.url}/_double/publish`, {
      method: "POST",
      headers: { "Content-Type": "application/zip" },
      body: await readFile(zipPath),
    });
    expect(((await upload.json()) as { digest: string }).digest).toBe(pub.digest);
    expect((await ctl("enqueue", { cmd: "run", botId: "bot-a", command: ["true"] })).status).toBe(200);
    const badCmd = await ctl("enqueue", { cmd: "explode" });
    expect(badCmd.status).toBe(400);
    expect(((await badCmd.json()) as { message: string }).message).toMatch(/enqueue body/);
    expect((await ctl("faults", { mode: "status", status: 200 })).status).toBe(400);
    expect((await ctl("faults", { mode: "status", status: 503 })).status).toBe(200);
    expect((await ctl("token", { token: "t" })).status).toBe(200);
    const state = (await (await fetch(`${double.url}/_double/state`)).json()) as Record<string, unknown>;
    expect(state).toMatchObject({
      currentVersion: pub.digest,
      authRequired: true,
      fault: { mode: "status", status: 503 },
      queue: [{ botId: "bot-a", command: { cmd: "run", command: ["true"] } }],
    });
    expect((await ctl("publish", { zipPath: join(tmp, "missing.zip") })).status).toBe(400);
  });
});
