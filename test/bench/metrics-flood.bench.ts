/**
 * Hook latency while the metrics port is flooded (issue 11 item 7). The state
 * server runs compiled in its own process with the production Node flags; a
 * second process requests /metrics at a fixed rate (a noisy scraper) while
 * this one times the bot's hook loop. Quiet and flooded blocks alternate in
 * one run, so the ratio compares like with like on a shared machine.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { percentile, printBenchReport } from "./report.js";

const FLOOD_PER_SECOND = 140;
const BLOCKS = 6;
const BLOCK_REQUESTS = 600;
const WARMUP_REQUESTS = 2000;
const RATIO_TARGET = 1.5;

const PRODUCTION_NODE_FLAGS = (
  /^lean_node_flags="([^"]*)"/m.exec(readFileSync(join(process.cwd(), "images", "rpi-swarming"), "utf8"))?.[1] ?? ""
)
  .split(" ")
  .filter((f) => f !== "");
if (PRODUCTION_NODE_FLAGS.length === 0) throw new Error("images/rpi-swarming has no lean_node_flags line");
const CLI = join(process.cwd(), "packages", "cli", "bin", "rpi-swarming.js");

/** What the bot sends every loop (a Linux bot's own dimensions and state, abridged). */
const LOOP: [string, string | undefined][] = [
  ["/get_dimensions", JSON.stringify({ cpu: ["arm", "arm-32"], id: ["bench-bot"], os: ["Linux", "Debian"] })],
  ["/get_state", JSON.stringify({ cwd: "/b/s", disks: { "/": { free_mb: 9876.5, size_mb: 29000 } }, ram: 3906 })],
  ["/get_settings", undefined],
];

async function firstJsonLine(child: ChildProcess, has: (rec: Record<string, unknown>) => boolean) {
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (has(rec)) {
        child.stdout?.resume();
        return rec;
      }
    } catch {
      // not a log record
    }
  }
  throw new Error("the child exited before reporting its address");
}

async function startServer(): Promise<{ child: ChildProcess; hookUrl: URL; metricsUrl: string }> {
  const flags: Record<string, string> = {
    device: "simulated",
    "bot-id": "bench-bot",
    "hook-port": "0",
    "metrics-host": "127.0.0.1",
    "metrics-port": "0",
    "simulated-control-port": "0",
    "probe-interval-seconds": "1",
    "maintenance-dir": join(tmpdir(), "rpi-bench-no-maintenance"),
    "token-config": join(tmpdir(), "rpi-bench-no-token.json"),
  };
  const args = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]);
  const child = spawn(process.execPath, [...PRODUCTION_NODE_FLAGS, CLI, "state-server", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const rec = await firstJsonLine(child, (r) => typeof r.hookUrl === "string");
  return { child, hookUrl: new URL(rec.hookUrl as string), metricsUrl: rec.metricsUrl as string };
}

/**
 * The scraper: its own process, requesting /metrics FLOOD_PER_SECOND times a
 * second while its stdin says "on" (and never more than 32 at once). Prints
 * how many it got when stdin closes.
 */
function startFlooder(metricsUrl: string): ChildProcess {
  const script = `
    import { Agent, get } from "node:http";
    import { createInterface } from "node:readline";
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    let on = false, inFlight = 0, done = 0, bytes = 0;
    setInterval(() => {
      if (!on || inFlight >= 32) return;
      inFlight++;
      get(${JSON.stringify(`${metricsUrl}/metrics`)}, { agent }, (res) => {
        res.on("data", (c) => { bytes += c.length; });
        res.on("end", () => { inFlight--; done++; });
      }).on("error", () => { inFlight--; });
    }, ${1000 / FLOOD_PER_SECOND});
    const rl = createInterface({ input: process.stdin });
    rl.on("line", (l) => { on = l.trim() === "on"; });
    rl.on("close", () => { console.log(JSON.stringify({ done, bytes })); process.exit(0); });
    console.log(JSON.stringify({ ready: true }));`;
  return spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["pipe", "pipe", "inherit"] });
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function call(base: URL, path: string, body: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        path,
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/json" },
      },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`${path}: ${res.statusCode}`))));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function block(base: URL, n: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const [path, body] = LOOP[i % LOOP.length] as [string, string | undefined];
    const t = performance.now();
    await call(base, path, body);
    ms.push(performance.now() - t);
  }
  return ms;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

execFileSync("npx", ["tsc", "-b", "packages/cli"], { stdio: "inherit" });
const server = await startServer();
const flooder = startFlooder(server.metricsUrl);
const quiet: number[] = [];
const flooded: number[] = [];
let floodSeconds = 0;
let floodResult: { done: number; bytes: number } = { done: 0, bytes: 0 };
try {
  await firstJsonLine(flooder, (r) => r.ready === true);
  await block(server.hookUrl, WARMUP_REQUESTS);
  for (let b = 0; b < BLOCKS; b++) {
    quiet.push(...(await block(server.hookUrl, BLOCK_REQUESTS)));
    flooder.stdin?.write("on\n");
    // Let the flood reach its rate before timing.
    await sleep(300);
    const t = performance.now();
    flooded.push(...(await block(server.hookUrl, BLOCK_REQUESTS)));
    floodSeconds += (performance.now() - t + 300) / 1000;
    flooder.stdin?.write("off\n");
    await sleep(300);
  }
  const exited = new Promise((r) => flooder.once("exit", r));
  const lines = createInterface({ input: flooder.stdout as NodeJS.ReadableStream });
  const last = new Promise<string>((resolve) => lines.on("line", resolve));
  flooder.stdin?.end();
  floodResult = JSON.parse(await last) as { done: number; bytes: number };
  await exited;
} finally {
  flooder.kill("SIGTERM");
  server.child.kill("SIGTERM");
  await new Promise((r) => server.child.once("exit", r));
  agent.destroy();
}

const p = (xs: number[], q: number) => percentile(xs, q);
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
const ratio = p(flooded, 99) / p(quiet, 99);
printBenchReport({
  title: "State server hooks with /metrics flooded",
  description: `The bot's hook loop (get_dimensions, get_state, get_settings; ${BLOCKS} x ${BLOCK_REQUESTS} sequential requests each way) timed from a client process while a second process requests the state server's /metrics about ${FLOOD_PER_SECOND} times a second, in blocks alternating with quiet ones in the same run. The server runs compiled with \`${PRODUCTION_NODE_FLAGS.join(" ")}\` and probes the simulated device every second; it renders /metrics at most once a second and serves the cached text in between.`,
  rows: [
    { name: "p50 / p99 hook latency, quiet", value: `${fmt(p(quiet, 50))} / ${fmt(p(quiet, 99))}` },
    { name: "p50 / p99 hook latency, /metrics flooded", value: `${fmt(p(flooded, 50))} / ${fmt(p(flooded, 99))}` },
    {
      name: "p99 flooded / p99 quiet",
      value: `${ratio.toFixed(2)}x`,
      target: `<= ${RATIO_TARGET}x`,
      pass: ratio <= RATIO_TARGET,
    },
    {
      name: "/metrics requests answered during the flooded blocks",
      value: `${floodResult.done} (${Math.round(floodResult.done / floodSeconds)}/s, ${Math.round(floodResult.bytes / floodResult.done / 1024)} KiB each)`,
    },
  ],
});
