/**
 * Memory of the pod's two processes as the image runs them, side by side with
 * a bare node:http server in the same run. All three start through the
 * image's own wrapper settings (images/rpi-swarming: its Node flags and its
 * malloc setting); the state server and the supervisor are started by the
 * wrapper itself over the bundled install tree (tools/bundle), and the bench
 * stops with an error when their command lines or environments differ from
 * the baseline's.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { buildStandInBotZip, startSwarmingDouble } from "@rpi-swarming/swarming-double";
import { bundleInstall } from "../../tools/bundle/index.js";
import { printBenchReport } from "./report.js";

const ROOT = resolve(import.meta.dirname, "../..");
const WRAPPER = join(ROOT, "images/rpi-swarming");
const REQUESTS = 10_000;
const UPDATE_CHECKS = 100;
const STATE_SERVER_RATIO = 1.2;
const SUPERVISOR_RATIO = 1.25;
/** Idle time after the requests before a second reading: V8's memory reducer starts 8 s after allocation slows. */
const SETTLE_MS = 15_000;

const wrapperText = readFileSync(WRAPPER, "utf8");
const setting = (name: string) => {
  const value = new RegExp(`^${name}="([^"]*)"`, "m").exec(wrapperText)?.[1];
  if (value === undefined) throw new Error(`images/rpi-swarming has no ${name} line`);
  return value;
};
const LEAN_FLAGS = setting("lean_node_flags").split(" ").filter(Boolean);
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: setting("lean_malloc_mmap_threshold") };

execFileSync("npx", ["tsc", "-b", "packages/cli"], { cwd: ROOT, stdio: "inherit" });
const work = mkdtempSync(join(tmpdir(), "footprint-bench-"));
const tree = join(work, "install");
const { sizes } = await bundleInstall(tree);

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Node flags (between the node binary and the script) and malloc settings of a running process. */
function runtimeOf(pid: number): string {
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  const flags = argv
    .slice(1)
    .filter((a, i, all) => a.startsWith("--") && all.slice(1, i + 1).every((b) => b.startsWith("--")));
  const env = readFileSync(`/proc/${pid}/environ`, "utf8")
    .split("\0")
    .filter((e) => e.startsWith("MALLOC_") || e.startsWith("UV_") || e.startsWith("NODE_OPTIONS="))
    .sort();
  return `${flags.join(" ")} | ${env.join(" ")}`;
}

interface Proc {
  child: ChildProcess;
  firstRecord: Promise<Record<string, unknown>>;
}

function startProc(command: string, args: string[], env: Record<string, string>, key: string): Proc {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  const firstRecord = new Promise<Record<string, unknown>>((res, rej) => {
    child.once("exit", (code) => rej(new Error(`${args.join(" ")} exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        if (rec[key] !== undefined) res(rec);
      } catch {
        // not JSON
      }
    });
  });
  return { child, firstRecord };
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once("exit", r));
  p.child.kill("SIGTERM");
  await exited;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
function call(base: URL, path: string, body: string | undefined): Promise<void> {
  return new Promise((res, rej) => {
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        path,
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/json", "x-swarming-bot-id": "bench-bot" },
      },
      (r) => {
        r.resume();
        r.on("end", () => (r.statusCode === 200 ? res() : rej(new Error(`${path}: ${r.statusCode}`))));
      },
    );
    req.on("error", rej);
    req.end(body);
  });
}
const LOOP: [string, string | undefined][] = [
  ["/get_dimensions", JSON.stringify({ id: ["bench-bot"], pool: ["default"], os: ["Linux"], python: ["3"] })],
  ["/get_state", JSON.stringify({ cwd: "/b/s", ram: 3906, disks: { "/": { free_mb: 9876.5 } } })],
  ["/get_settings", undefined],
];
async function hookLoad(base: URL): Promise<void> {
  for (let i = 0; i < REQUESTS; i++) {
    const [path, body] = LOOP[i % LOOP.length] as [string, string | undefined];
    await call(base, path, body);
  }
  await sleep(200);
}

/** V8 heap used and external memory from the process's own /metrics (prom-client's default metrics). */
async function heapOf(metricsUrl: string): Promise<{ heap: number; external: number }> {
  // The metrics cache renders at most once a second: wait for a fresh render.
  await sleep(1100);
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "m").exec(text)?.[1]) / 2 ** 20;
  return { heap: value("nodejs_heap_size_used_bytes"), external: value("nodejs_external_memory_bytes") };
}

const runtimes: Record<string, string> = {};

/**
 * The chart hands each process its settings as `--config <file>.yaml` (which loads yaml): the same
 * here, from `--kebab-name=value` arguments.
 */
function asConfigFile(name: string, args: string[]): string[] {
  const lines = args.map((arg) => {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`footprint bench: ${arg} is not --name=value`);
    const key = (m[1] as string).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = m[2] as string;
    return `${key}: ${/^-?\d+(\.\d+)?$/.test(value) ? value : JSON.stringify(value)}`;
  });
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return ["--config", file];
}

// 1. Baseline: a bare node:http server answering {}, under the wrapper's flags and malloc setting.
const bareScript = `
  import { createServer } from "node:http";
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => { res.setHeader("content-type", "application/json"); res.end("{}"); });
  });
  server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ url: "http://127.0.0.1:" + server.address().port })));
  process.once("SIGTERM", () => server.close(() => process.exit(0)));`;
const bareFile = join(work, "bare-server.mjs");
writeFileSync(bareFile, bareScript);
const bare = startProc(process.execPath, [...LEAN_FLAGS, bareFile], MALLOC_ENV, "url");
const bareUrl = new URL(String((await bare.firstRecord).url));
await sleep(1500);
runtimes.baseline = runtimeOf(bare.child.pid as number);
const bareStart = rssMb(bare.child.pid as number);
await hookLoad(bareUrl);
const bareRss = rssMb(bare.child.pid as number);
await sleep(SETTLE_MS);
const bareSettled = rssMb(bare.child.pid as number);
await stop(bare);

// 2. The state server, started by the image's wrapper from the bundle.
const ssDir = join(work, "ss");
mkdirSync(ssDir);
const ss = startProc(
  "sh",
  [
    WRAPPER,
    "state-server",
    ...asConfigFile("state-server", [
      "--device=simulated",
      "--bot-id=bench-bot",
      "--hook-port=0",
      "--metrics-host=127.0.0.1",
      "--metrics-port=0",
      "--simulated-control-port=0",
      "--probe-interval-seconds=1",
      `--maintenance-dir=${ssDir}`,
      `--token-config=${join(ssDir, "none.json")}`,
    ]),
  ],
  { RPI_SWARMING_HOME: tree },
  "hookUrl",
);
const ssRecord = await ss.firstRecord;
const ssMetrics = await (async () => {
  // The metrics URL is in its own record; the hook URL's record came first or with it.
  for (let i = 0; i < 50 && !ssRecord.metricsUrl; i++) await sleep(20);
  return String(ssRecord.metricsUrl ?? "");
})();
await sleep(1500);
runtimes["state server"] = runtimeOf(ss.child.pid as number);
const ssStart = rssMb(ss.child.pid as number);
await hookLoad(new URL(String(ssRecord.hookUrl)));
const ssRss = rssMb(ss.child.pid as number);
const ssHeap = ssMetrics ? await heapOf(ssMetrics) : { heap: Number.NaN, external: Number.NaN };
await sleep(SETTLE_MS - 1100);
const ssSettled = rssMb(ss.child.pid as number);
await stop(ss);

// 3. The supervisor, started by the wrapper from the bundle, against the Swarming double.
const double = await startSwarmingDouble({ autoUpdate: false });
const zip = join(work, "bot.zip");
await buildStandInBotZip({
  server: double.url,
  hookScript: join(ROOT, "packages/swarming-double/src/__fixtures__/hook_script.py"),
  outPath: zip,
});
await double.publishBotCode({ zipPath: zip });
const botDir = join(work, "b", "s");
const sharedDir = join(work, "b", "shared");
mkdirSync(botDir, { recursive: true });
mkdirSync(sharedDir, { recursive: true });
const sup = startProc(
  "sh",
  [
    WRAPPER,
    "supervisor",
    ...asConfigFile("supervisor", [
      `--swarming-server=${double.url}`,
      "--bot-id=bench-bot",
      `--bot-dir=${botDir}`,
      `--shared-dir=${sharedDir}`,
      `--sudo-dir=${join(tree, "sudo-bin")}`,
      `--token-config=${join(work, "none.json")}`,
      "--metrics-host=127.0.0.1",
      "--metrics-port=0",
      "--update-schedule=* * * * * *",
      "--update-jitter-seconds=0",
    ]),
  ],
  { RPI_SWARMING_HOME: tree },
  "metrics",
);
let supIdle = 0;
let supAfter = 0;
let supHeap = { heap: Number.NaN, external: Number.NaN };
let checks = 0;
try {
  const supMetrics = String((await sup.firstRecord).metrics).replace(/\/metrics$/, "");
  // Idle: the bot up and its code in place, start-up garbage settled.
  for (let i = 0; i < 600; i++) {
    const health = await (await fetch(`${supMetrics}/healthz`)).text().catch(() => "");
    if (health.includes('"bot_running":true')) break;
    await sleep(100);
  }
  await sleep(3000);
  runtimes.supervisor = runtimeOf(sup.child.pid as number);
  supIdle = rssMb(sup.child.pid as number);
  const before = double.requests().filter((r) => r.path === "/bot_code").length;
  for (;;) {
    checks = double.requests().filter((r) => r.path === "/bot_code").length - before;
    if (checks >= UPDATE_CHECKS) break;
    if (sup.child.exitCode !== null) throw new Error("the supervisor exited during the update checks");
    await sleep(500);
  }
  await sleep(500);
  supAfter = rssMb(sup.child.pid as number);
  supHeap = await heapOf(supMetrics);
} finally {
  await stop(sup);
  await double.close();
  agent.destroy();
  rmSync(work, { recursive: true, force: true });
}

// The comparison only holds when all three ran under the same settings.
const distinct = new Set(Object.values(runtimes));
if (distinct.size !== 1) {
  throw new Error(
    `footprint bench: the processes ran under different Node flags or malloc settings:\n${Object.entries(runtimes)
      .map(([k, v]) => `  ${k}: ${v}`)
      .join("\n")}`,
  );
}

const mb = (x: number) => `${x.toFixed(1)} MB`;
const ratio = (x: number) => `${(x / bareRss).toFixed(2)}x`;
printBenchReport({
  title: "Footprint: memory of the pod's processes",
  description: `Both processes started by the image's wrapper (images/rpi-swarming) from the bundled install tree (tools/bundle: ${Object.keys(sizes).length} files, ${(Object.values(sizes).reduce((a, b) => a + b, 0) / 1024).toFixed(0)} KiB in all), with their settings in a YAML file given as --config (as the chart gives them), beside a bare node:http server answering {} in the same run. All three ran under \`${runtimes.baseline}\` (Node flags | environment), checked from /proc. RSS = VmRSS; heap and external from each process's own /metrics (process.memoryUsage()). Workload: ${REQUESTS} sequential hook requests (get_dimensions, get_state, get_settings in turn) for the servers; for the supervisor, the stand-in bot running and ${UPDATE_CHECKS} unchanged update checks (one a second) against the Swarming double. The servers are read again after ${SETTLE_MS / 1000} s without requests (a hook script polls every few seconds, not 2,000 times a second), when V8's memory reducer has shrunk the heap.`,
  rows: [
    { name: "baseline: bare node:http server RSS at start", value: mb(bareStart) },
    { name: `baseline: bare node:http server RSS after ${REQUESTS} requests`, value: mb(bareRss) },
    { name: "state server RSS at start", value: mb(ssStart) },
    {
      name: `state server RSS after ${REQUESTS} requests`,
      value: `${mb(ssRss)} (${ratio(ssRss)} baseline)`,
      target: `<= ${STATE_SERVER_RATIO}x baseline`,
      pass: ssRss <= STATE_SERVER_RATIO * bareRss,
    },
    {
      name: `state server RSS ${SETTLE_MS / 1000} s after the requests / bare server the same`,
      value: `${mb(ssSettled)} / ${mb(bareSettled)} (${(ssSettled / bareSettled).toFixed(2)}x)`,
    },
    {
      name: "state server V8 heap used / external after the requests",
      value: `${mb(ssHeap.heap)} / ${mb(ssHeap.external)}`,
    },
    {
      name: "supervisor RSS idle (bot running)",
      value: `${mb(supIdle)} (${ratio(supIdle)} baseline)`,
      target: `<= ${SUPERVISOR_RATIO}x baseline`,
      pass: supIdle <= SUPERVISOR_RATIO * bareRss,
    },
    {
      name: `supervisor RSS after ${checks} update checks`,
      value: `${mb(supAfter)} (${ratio(supAfter)} baseline)`,
      target: `<= ${SUPERVISOR_RATIO}x baseline`,
      pass: supAfter <= SUPERVISOR_RATIO * bareRss,
    },
    {
      name: "supervisor V8 heap used / external after the checks",
      value: `${mb(supHeap.heap)} / ${mb(supHeap.external)}`,
    },
  ],
});
