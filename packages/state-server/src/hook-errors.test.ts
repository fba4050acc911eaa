import { request } from "node:http";
import { connect } from "node:net";
import { MAX_JSON_DEPTH } from "@rpi-swarming/core";
import { capturingLogger, waitFor } from "@rpi-swarming/core/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scratchDir, testConfig } from "./__fixtures__/helpers.js";
import { type StateServer, startStateServer } from "./server.js";

// Issue 11 item 6: replies that are not server errors are neither counted nor logged as such,
// and the status in the metrics is the status the client got.
let server: StateServer | undefined;
let scratch: ReturnType<typeof scratchDir>;
let lines: Record<string, unknown>[];

beforeEach(async () => {
  scratch = scratchDir();
  const captured = capturingLogger();
  lines = captured.lines;
  const log = captured.log;
  server = await startStateServer(testConfig({ device: "simulated", probeIntervalSeconds: "3600" }, scratch.dir), {
    log,
  });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  scratch.cleanup();
});

/** One raw request through node:http (fetch refuses TRACE). */
function raw(
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const url = new URL(`${server?.hookUrl}${path}`);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The hook_requests_total series as "hook code" -> count. Read fresh each time (no earlier scrape in the test). */
async function hookCounts(): Promise<Record<string, number>> {
  const text = await (await fetch(`${server?.metricsUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^rpi_swarming_hook_requests_total\{hook="([^"]*)",code="([^"]*)"[^}]*\} (\d+)/gm))
    out[`${m[1]} ${m[2]}`] = Number(m[3]);
  return out;
}

const errorsLogged = () => lines.filter((l) => (l.level as number) >= 50);

describe("hook API replies that are not server errors", () => {
  it("counts a client that disconnects mid-body as a client abort, logged at info without a stack", async () => {
    const url = new URL(server?.hookUrl ?? "");
    const socket = connect(Number(url.port), url.hostname);
    await new Promise((r) => socket.once("connect", r));
    let received = "";
    socket.on("data", (c: Buffer) => {
      received += c.toString();
    });
    // Expect: 100-continue makes the server say when it has the headers and is reading the body.
    socket.write(
      "POST /get_state HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n",
    );
    await waitFor("100 Continue", () => received.includes("100 Continue"));
    socket.write('{"cwd": "/b');
    // The bot was killed mid-request.
    socket.destroy();
    await waitFor("the abort to be logged", () => lines.some((l) => l.msg === "client closed the request"));
    const abort = lines.find((l) => l.msg === "client closed the request");
    expect(abort).toMatchObject({ level: 30, method: "POST", path: "/get_state" });
    expect(abort).not.toHaveProperty("err");
    expect(String(abort?.reason)).toMatch(/closed the connection after \d+ of 1000 body bytes/);
    expect(errorsLogged()).toEqual([]);
    const counts = await hookCounts();
    expect(counts["get_state client_abort"]).toBe(1);
    expect(Object.keys(counts).filter((k) => / 5\d\d$/.test(k))).toEqual([]);
  });

  it("rejects a body nested deeper than the limit with a 400 that is logged and counted as 400", async () => {
    const deep = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
    const res = await raw("POST", "/get_state", deep);
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toContain("application/json");
    expect(JSON.parse(res.text)).toEqual({
      error: "InvalidInputError",
      message: `request body is nested 10000 levels deep; at most ${MAX_JSON_DEPTH} levels of arrays and objects are accepted`,
    });
    // At the limit it is still served (the bot's own state keys are echoed back).
    const ok = await raw("POST", "/get_state", `${'{"a":'.repeat(MAX_JSON_DEPTH)}1${"}".repeat(MAX_JSON_DEPTH)}`);
    expect(ok.status).toBe(200);
    expect(lines.some((l) => l.msg === "request rejected" && l.status === 400 && l.path === "/get_state")).toBe(true);
    const counts = await hookCounts();
    expect(counts).toMatchObject({ "get_state 400": 1, "get_state 200": 1 });
    expect(errorsLogged()).toEqual([]);
  });

  it("answers TRACE and unknown methods with JSON 501/405 at info level, counted with that status", async () => {
    const trace = await raw("TRACE", "/get_state");
    expect(trace.status).toBe(501);
    expect(JSON.parse(trace.text)).toEqual({
      error: "NotImplementedError",
      message: "TRACE is not a method this server implements; /get_state takes POST",
    });
    const propfind = await raw("PROPFIND", "/status");
    expect(propfind.status).toBe(501);
    const put = await raw("PUT", "/get_dimensions", "{}");
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe("POST");
    expect(JSON.parse(put.text)).toEqual({
      error: "MethodNotAllowedError",
      message: "PUT is not allowed on /get_dimensions; use POST",
    });
    const del = await raw("DELETE", "/on_after_task");
    expect(del.status).toBe(405);
    expect(del.headers.allow).toBe("GET, POST");
    expect(errorsLogged()).toEqual([]);
    const rejected = lines.filter((l) => l.msg === "request rejected" && [405, 501].includes(l.status as number));
    expect(rejected.map((l) => [l.level, l.method, l.status])).toEqual([
      [30, "TRACE", 501],
      [30, "PROPFIND", 501],
      [30, "PUT", 405],
      [30, "DELETE", 405],
    ]);
    expect(await hookCounts()).toMatchObject({
      "get_state 501": 1,
      "status 501": 1,
      "get_dimensions 405": 1,
      "on_after_task 405": 1,
    });
  });

  it("counts /STATUS and /status/, which the router answers as /status, as hook status", async () => {
    for (const path of ["/STATUS", "/status/", "/Get_State"]) {
      const res = path === "/Get_State" ? await raw("POST", path, "{}") : await raw("GET", path);
      expect([path, res.status, res.text.slice(0, 200)]).toEqual([path, 200, expect.any(String)]);
    }
    expect((await raw("GET", "/no/such/hook")).status).toBe(404);
    const counts = await hookCounts();
    expect(counts).toMatchObject({ "status 200": 2, "get_state 200": 1, "unknown 404": 1 });
    expect(Object.keys(counts).filter((k) => k.startsWith("unknown ") && k !== "unknown 404")).toEqual([]);
  });
});
