/**
 * State server hook latency and throughput over loopback, with a responsive
 * device and with the device hung, and the server's RSS after 10,000+
 * requests. The server runs compiled in its own process (what
 * `rpi-swarming state-server --device simulated` starts); this process is the
 * client, like the bot's hook script.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { FAKE_ADB_PATH, FakeAdbScenario } from "@rpi-swarming/devices";
import { percentile, printBenchReport } from "./report.js";

const LATENCY_REQUESTS = 3000;
const WARMUP_REQUESTS = 2000;
const THROUGHPUT_SECONDS = 3;
const CONCURRENCY = 4;
const P99_TARGET_MS = 5;
const RSS_TARGET_MB = 64;

// What a Linux bot's own dimensions and state look like (os_utilities), so bodies are realistic.
const BOT_DIMENSIONS = JSON.stringify({
  cpu: ["arm", "arm-32", "armv7l", "armv7l-32"],
  gpu: ["none"],
  id: ["skia-rpi2-001"],
  os: ["Linux", "Debian", "Debian-13", "Debian-13.1"],
  pool: ["default"],
  python: ["3", "3.13", "3.13.5"],
  kvm: ["0"],
  inside_docker: ["1"],
  locale: ["C.UTF-8"],
});
const BOT_STATE = JSON.stringify({
  audio: [],
  cost_usd_hour: 0.01,
  cpu_name: "ARMv7 Processor rev 4 (v7l)",
  cwd: "/b/s",
  disks: { "/": { free_mb: 9876.5, size_mb: 29000 }, "/b": { free_mb: 9876.5, size_mb: 29000 } },
  env: { PATH: "/opt/rpi-swarming/sudo-bin:/usr/local/bin:/usr/bin:/bin" },
  hostname: "skia-rpi2-001",
  ip: "10.0.0.42",
  nb_files_in_temp: 3,
  pid: 1234,
  ram: 3906,
  running_time: 12345,
  started_ts: 1795800000,
  uptime: 99999,
  user: "chrome-bot",
});

interface Server {
  child: ChildProcess;
  hookUrl: URL;
  controlUrl: string;
}

/** The Node flags the image's `rpi-swarming` wrapper gives the state server. */
const PRODUCTION_NODE_FLAGS = (
  /^lean_node_flags="([^"]*)"/m.exec(readFileSync(join(process.cwd(), "images", "rpi-swarming"), "utf8"))?.[1] ?? ""
)
  .split(" ")
  .filter((f) => f !== "");
if (PRODUCTION_NODE_FLAGS.length === 0) throw new Error("images/rpi-swarming has no lean_node_flags line");
/** The malloc setting the wrapper gives the same processes (see test/bench/footprint.bench.ts). */
const PRODUCTION_ENV = {
  MALLOC_MMAP_THRESHOLD_:
    /^lean_malloc_mmap_threshold="([^"]*)"/m.exec(
      readFileSync(join(process.cwd(), "images", "rpi-swarming"), "utf8"),
    )?.[1] ?? "",
};
const CLI = join(process.cwd(), "packages", "cli", "bin", "rpi-swarming.js");

/** Starts `rpi-swarming state-server` from the compiled packages, as production runs it. */
async function startServer(
  nodeFlags: readonly string[],
  extraFlags: Readonly<Record<string, string>> = {},
  env: Readonly<Record<string, string>> = {},
): Promise<Server> {
  const flags: Record<string, string> = {
    device: "simulated",
    "bot-id": "bench-bot",
    "hook-port": "0",
    "metrics-host": "127.0.0.1",
    "metrics-port": "0",
    "simulated-control-port": "0",
    // Probes run every second, so a hung device is hit by the timer as in production.
    "probe-interval-seconds": "1",
    "command-timeout-seconds": "600",
    "maintenance-dir": join(tmpdir(), "rpi-bench-no-maintenance"),
    "token-config": join(tmpdir(), "rpi-bench-no-token.json"),
    ...extraFlags,
  };
  const args = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]);
  const simulated = flags.device === "simulated";
  const child = spawn(process.execPath, [...nodeFlags, CLI, "state-server", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...(nodeFlags === PRODUCTION_NODE_FLAGS ? PRODUCTION_ENV : {}), ...env },
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let hookUrl: string | undefined;
  let controlUrl: string | undefined;
  for await (const line of lines) {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof rec.controlUrl === "string") controlUrl = rec.controlUrl;
    if (typeof rec.hookUrl === "string") hookUrl = rec.hookUrl;
    if (hookUrl && (controlUrl || !simulated)) break;
  }
  if (!hookUrl || (simulated && !controlUrl)) throw new Error("state server did not report its addresses");
  // Keep draining the logs so the child never blocks on a full pipe.
  child.stdout?.resume();
  return { child, hookUrl: new URL(hookUrl), controlUrl: controlUrl ?? "" };
}

async function stopServer(server: Server): Promise<void> {
  server.child.kill("SIGTERM");
  await new Promise((r) => server.child.once("exit", r));
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function call(base: URL, path: string, body: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        path,
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/json", "x-swarming-bot-id": "bench-bot" },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve(res.statusCode) : reject(new Error(`${path}: ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The three hooks the bot calls every loop, in turn. */
const LOOP: [string, string | undefined][] = [
  ["/get_dimensions", BOT_DIMENSIONS],
  ["/get_state", BOT_STATE],
  ["/get_settings", undefined],
];

let sent = 0;
async function latency(base: URL): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < LATENCY_REQUESTS; i++) {
    const [path, body] = LOOP[i % LOOP.length] as [string, string | undefined];
    const t = performance.now();
    await call(base, path, body);
    ms.push(performance.now() - t);
    sent++;
  }
  return ms;
}

async function throughput(base: URL): Promise<number> {
  const until = performance.now() + THROUGHPUT_SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = w; performance.now() < until; i++) {
        const [path, body] = LOOP[i % LOOP.length] as [string, string | undefined];
        await call(base, path, body);
        done++;
      }
    }),
  );
  sent += done;
  return done / THROUGHPUT_SECONDS;
}

async function post(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.json();
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kb / 1024;
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  ok: number[];
  okRps: number;
  hung: number[];
  hungRps: number;
  rssStart: number;
  /** After exactly 10,000 sequential requests. */
  rss10k: number;
  /** After every phase, throughput runs included. */
  rss: number;
  requests: number;
}

async function measure(nodeFlags: readonly string[]): Promise<Run> {
  sent = 0;
  const server = await startServer(nodeFlags);
  try {
    const base = server.hookUrl;
    await sleep(1500);
    const rssStart = rssMb(server.child.pid as number);
    // Warm up until V8 has optimised the request path.
    for (let i = 0; i < WARMUP_REQUESTS; i++) await call(base, LOOP[i % 3]?.[0] as string, LOOP[i % 3]?.[1]);
    sent += WARMUP_REQUESTS;
    const ok = await latency(base);
    while (sent < 10_000) {
      await call(base, LOOP[sent % 3]?.[0] as string, LOOP[sent % 3]?.[1]);
      sent++;
    }
    await sleep(200);
    const rss10k = rssMb(server.child.pid as number);
    const okRps = await throughput(base);

    // The next timer probe (every second) sticks in the 600 s command timeout of the hung device.
    await post(server.controlUrl, { hung: true });
    await sleep(1500);
    const hung = await latency(base);
    const hungRps = await throughput(base);
    const status = (await (await fetch(new URL("/status", base))).json()) as { last_probe: { time: string } };
    if (Date.now() - Date.parse(status.last_probe.time) < 1000)
      throw new Error("the device was meant to hang, but a probe finished during the hung phase");
    await sleep(200);
    return { ok, okRps, hung, hungRps, rssStart, rss10k, rss: rssMb(server.child.pid as number), requests: sent };
  } finally {
    await stopServer(server);
  }
}

/**
 * The android driver over the scripted fake adb whose `adb shell` hangs: a
 * real process group sits in the 600 s command timeout while hooks are timed.
 */
async function measureAdbHung(nodeFlags: readonly string[]): Promise<{ hung: number[]; hungRps: number }> {
  const adb = new FakeAdbScenario().devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
  const server = await startServer(
    nodeFlags,
    { device: "android", "adb-path": FAKE_ADB_PATH, "max-temperature-celsius": "40" },
    adb.env,
  );
  try {
    const base = server.hookUrl;
    await sleep(1500);
    for (let i = 0; i < 300; i++) await call(base, LOOP[i % 3]?.[0] as string, LOOP[i % 3]?.[1]);
    adb.set("hang", "shell");
    await sleep(1500);
    if (adb.hangPids().length === 0) throw new Error("the fake adb shell was meant to hang, but no call hung");
    const hung = await latency(base);
    const hungRps = await throughput(base);
    return { hung, hungRps };
  } finally {
    await stopServer(server);
    // Whatever the server left of the hung adb (it should be nothing) goes now.
    for (const pid of adb.hangPids()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    adb.remove();
  }
}

/**
 * Baseline in the same run: a bare node:http server answering `{}` in its own
 * process, so the machine's own noise (2 shared cores) can be told apart from
 * the state server's.
 */
async function measureBaseline(): Promise<{ ms: number[]; rss: number }> {
  const script = `
    import { createServer } from "node:http";
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => { res.setHeader("content-type", "application/json"); res.end("{}"); });
    });
    server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ url: "http://127.0.0.1:" + server.address().port })));
    process.once("SIGTERM", () => server.close(() => process.exit(0)));`;
  const child = spawn(process.execPath, [...PRODUCTION_NODE_FLAGS, "--input-type=module", "-e", script], {
    env: { ...process.env, ...PRODUCTION_ENV },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let url: string | undefined;
  for await (const line of lines) {
    url = (JSON.parse(line) as { url: string }).url;
    break;
  }
  child.stdout?.resume();
  try {
    const base = new URL(url as string);
    for (let i = 0; i < 300; i++) await call(base, LOOP[i % 3]?.[0] as string, LOOP[i % 3]?.[1]);
    const ms = await latency(base);
    return { ms, rss: rssMb(child.pid as number) };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

// The bench measures the code as it is now: build what the server runs.
execFileSync("npx", ["tsc", "-b", "packages/cli"], { stdio: "inherit" });
const { ms: baseline, rss: baselineRss } = await measureBaseline();
const lean = await measure(PRODUCTION_NODE_FLAGS);
const adbHung = await measureAdbHung(PRODUCTION_NODE_FLAGS);
const plain = await measure([]);
agent.destroy();

const p = (xs: number[], q: number) => percentile(xs, q);
printBenchReport({
  title: "State server hooks",
  description: `Hook API over loopback from a separate client process (keep-alive, bot-sized bodies for get_dimensions/get_state/get_settings in turn); ${LATENCY_REQUESTS} sequential requests for latency, ${CONCURRENCY} concurrent clients for ${THROUGHPUT_SECONDS} s for throughput. The server runs compiled, in its own process, probing every second; "hung" = the simulated device's probe is stuck in its 600 s command timeout. Latency and throughput with \`${PRODUCTION_NODE_FLAGS.join(" ")}\` and MALLOC_MMAP_THRESHOLD_=${PRODUCTION_ENV.MALLOC_MMAP_THRESHOLD_} (the image's wrapper); the server runs the compiled packages, not the image's bundle (see the footprint section for that); RSS also with Node's default flags. A bare Node 20 process is about 41 MB RSS on this amd64 machine.`,
  rows: [
    {
      name: "p50 / p99 latency, baseline: bare node:http server answering {}",
      value: `${fmt(p(baseline, 50))} / ${fmt(p(baseline, 99))}`,
    },
    { name: "p50 latency, device responsive", value: fmt(p(lean.ok, 50)) },
    {
      name: "p99 latency, device responsive",
      value: fmt(p(lean.ok, 99)),
      target: `< ${P99_TARGET_MS} ms`,
      pass: p(lean.ok, 99) < P99_TARGET_MS,
    },
    {
      name: "p99 latency, device responsive / baseline p99",
      value: `${(p(lean.ok, 99) / p(baseline, 99)).toFixed(2)}x`,
    },
    { name: "throughput, device responsive", value: `${Math.round(lean.okRps)} req/s` },
    { name: "p50 latency, device hung", value: fmt(p(lean.hung, 50)) },
    {
      name: "p99 latency, device hung",
      value: fmt(p(lean.hung, 99)),
      target: `< ${P99_TARGET_MS} ms`,
      pass: p(lean.hung, 99) < P99_TARGET_MS,
    },
    { name: "throughput, device hung", value: `${Math.round(lean.hungRps)} req/s` },
    { name: "p50 latency, android driver with adb shell hung (fake adb)", value: fmt(p(adbHung.hung, 50)) },
    {
      name: "p99 latency, android driver with adb shell hung (fake adb)",
      value: fmt(p(adbHung.hung, 99)),
      target: `< ${P99_TARGET_MS} ms`,
      pass: p(adbHung.hung, 99) < P99_TARGET_MS,
    },
    { name: "throughput, android driver with adb shell hung", value: `${Math.round(adbHung.hungRps)} req/s` },
    { name: `server RSS at start (${PRODUCTION_NODE_FLAGS.join(" ")})`, value: `${lean.rssStart.toFixed(1)} MB` },
    {
      name: `server RSS after 10,000 requests (${PRODUCTION_NODE_FLAGS.join(" ")})`,
      value: `${lean.rss10k.toFixed(1)} MB`,
      target: `<= ${RSS_TARGET_MB} MB`,
      pass: lean.rss10k <= RSS_TARGET_MB,
    },
    {
      name: `baseline: bare node:http server RSS after ${LATENCY_REQUESTS} requests (same flags)`,
      value: `${baselineRss.toFixed(1)} MB`,
    },
    {
      name: "server RSS after 10,000 requests / baseline RSS",
      value: `${(lean.rss10k / baselineRss).toFixed(2)}x`,
    },
    {
      name: "server RSS after 10,000 requests (default Node flags)",
      value: `${plain.rss10k.toFixed(1)} MB`,
      target: `<= ${RSS_TARGET_MB} MB`,
      pass: plain.rss10k <= RSS_TARGET_MB,
    },
    {
      name: `server RSS after ${lean.requests} requests, throughput runs included (${PRODUCTION_NODE_FLAGS.join(" ")})`,
      value: `${lean.rss.toFixed(1)} MB`,
    },
  ],
});
