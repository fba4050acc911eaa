/**
 * Supervisor benchmark. The supervisor runs as a real `rpi-swarming
 * supervisor` process (compiled, as production runs it) against the Swarming
 * double:
 *  - time from process start to the bot's first output line with the bot code
 *    cached in the bot directory;
 *  - peak RSS while it downloads and verifies a 200 MB bot code zip, against its
 *    idle RSS just before (target: at most 16 MB more);
 *  - bytes on the wire per update check when nothing changed (through a
 *    counting TCP proxy; target: no zip body, i.e. far below the zip's size).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { botCodeDigest } from "@rpi-swarming/core";
import { buildStandInBotZip, startSwarmingDouble } from "@rpi-swarming/swarming-double";
import { percentile, printBenchReport } from "./report.js";

const ROOT = resolve(import.meta.dirname, "../..");
const SUDO_DIR = join(ROOT, "images/sudo");
const STARTS = 7;
const BIG_ZIP_MB = 200;

let compiled = true;
try {
  execFileSync("npx", ["tsc", "-b", "packages/cli"], { cwd: ROOT, stdio: "inherit" });
} catch {
  compiled = false;
  process.stderr.write("supervisor bench: tsc -b failed; running the supervisor from sources with tsx\n");
}
const entry = compiled
  ? [join(ROOT, "packages/cli/bin/rpi-swarming.js")]
  : ["--conditions=source", "--import", "tsx", join(ROOT, "test/supervisor/cli.ts")];

interface Run {
  child: ChildProcess;
  startedAt: number;
  firstBotLine: Promise<number>;
  waitFor(msg: string): Promise<void>;
  stop(): Promise<void>;
}

function supervisor(flags: Record<string, string | number>): Run {
  const args = [...entry, "supervisor", "--metrics-host", "127.0.0.1", "--metrics-port", "0", "--sudo-dir", SUDO_DIR];
  for (const [k, v] of Object.entries(flags)) args.push(`--${k}`, String(v));
  const startedAt = performance.now();
  const child = spawn(process.execPath, args, {
    env: { ...process.env, SWARMING_BOT_ID: "bench-bot" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const msgs: string[] = [];
  const listeners = new Set<() => void>();
  let firstBot: (t: number) => void = () => undefined;
  const firstBotLine = new Promise<number>((r) => {
    firstBot = r;
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    const rec = JSON.parse(line) as { component?: string; msg: string; err?: { message?: string } };
    if (rec.component === "bot") firstBot(performance.now());
    msgs.push(rec.err?.message ? `${rec.msg}: ${rec.err.message}` : rec.msg);
    for (const l of listeners) l();
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    child,
    startedAt,
    firstBotLine,
    waitFor: (msg) =>
      new Promise<void>((r, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`supervisor did not log "${msg}" in 120 s; last records:\n${msgs.slice(-20).join("\n")}`));
        }, 120_000);
        const check = () => {
          if (msgs.includes(msg)) {
            listeners.delete(check);
            clearTimeout(timer);
            r();
          }
        };
        listeners.add(check);
        check();
      }),
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

/** A zip whose __main__.py prints a line and idles, plus `mb` MiB of random bytes (stored). */
function pythonZip(path: string, mb: number, marker: string): void {
  execFileSync("python3", [
    "-c",
    `
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    z.writestr("__main__.py", "import sys, time\\nprint('bench bot up', flush=True)\\nwhile sys.argv[1:] == ['start_bot']: time.sleep(1)\\n")
    z.writestr("marker.txt", sys.argv[3])
    if int(sys.argv[2]):
        with z.open("blob.bin", "w", force_zip64=True) as f:
            for _ in range(int(sys.argv[2])):
                f.write(os.urandom(1 << 20))
`,
    path,
    String(mb),
    marker,
  ]);
}

const work = mkdtempSync(join(tmpdir(), "supervisor-bench-"));
const big = join(work, "big.zip");
pythonZip(big, BIG_ZIP_MB, "big");

// The everyday code is the stand-in bot (a realistic small zip that talks to the double).
// autoUpdate off: the measured download is the supervisor's, not the bot's own self-update.
const double = await startSwarmingDouble({ autoUpdate: false });
const small = join(work, "small.zip");
await buildStandInBotZip({
  server: double.url,
  hookScript: join(ROOT, "packages/swarming-double/src/__fixtures__/hook_script.py"),
  outPath: small,
});
await double.publishBotCode({ zipPath: small });
const dirs = (name: string) => {
  const botDir = join(work, name, "s");
  const sharedDir = join(work, name, "shared");
  mkdirSync(botDir, { recursive: true });
  mkdirSync(sharedDir, { recursive: true });
  return { "bot-dir": botDir, "shared-dir": sharedDir };
};

try {
  process.stderr.write("supervisor bench: start time\n");
  // 1. Start to the bot's first line, code cached.
  const startMs: number[] = [];
  const d1 = dirs("start");
  execFileSync("cp", [small, join(d1["bot-dir"], "swarming_bot.zip")]);
  for (let i = 0; i < STARTS; i++) {
    const run = supervisor({ "swarming-server": double.url, ...d1 });
    startMs.push((await run.firstBotLine) - run.startedAt);
    await run.stop();
  }

  process.stderr.write("supervisor bench: RSS while downloading\n");
  // 2. RSS while downloading 200 MB.
  const d2 = dirs("rss");
  execFileSync("cp", [small, join(d2["bot-dir"], "swarming_bot.zip")]);
  const run = supervisor({
    "swarming-server": double.url,
    ...d2,
    "update-schedule": "* * * * * *",
    "update-jitter-seconds": 0,
    "update-grace-seconds": 3600,
  });
  await run.firstBotLine;
  const pid = run.child.pid as number;
  // Let start-up garbage settle, then take the idle figure as the median of 2 s of samples.
  await new Promise((r) => setTimeout(r, 3000));
  const idleSamples: number[] = [];
  for (let i = 0; i < 40; i++) {
    idleSamples.push(rssBytes(pid));
    await new Promise((r) => setTimeout(r, 50));
  }
  const idle = percentile(idleSamples, 50);
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, 20);
  const t0 = performance.now();
  await double.publishBotCode({ zipPath: big });
  await run.waitFor("new bot code in place");
  const downloadSeconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const inPlace = await botCodeDigest(join(d2["bot-dir"], "swarming_bot.zip"));
  if (inPlace !== double.currentVersion()) throw new Error("the 200 MB zip did not arrive intact");
  await run.stop();
  await double.publishBotCode({ zipPath: small });

  process.stderr.write("supervisor bench: update check bytes\n");
  // 3. Bytes per unchanged update check, through a counting proxy.
  let wireBytes = 0;
  const port = Number(new URL(double.url).port);
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.on("data", (c: Buffer) => {
      wireBytes += c.length;
    });
    upstream.on("data", (c: Buffer) => {
      wireBytes += c.length;
    });
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const proxyPort = (proxy.address() as { port: number }).port;
  const d3 = dirs("wire");
  execFileSync("cp", [small, join(d3["bot-dir"], "swarming_bot.zip")]);
  const zipGetsBefore = double.requests().filter((r) => r.path.includes("/bot/bot_code/")).length;
  const checks = supervisor({
    "swarming-server": `http://127.0.0.1:${proxyPort}`,
    ...d3,
    "update-schedule": "* * * * * *",
    "update-jitter-seconds": 0,
  });
  await checks.firstBotLine;
  await new Promise((r) => setTimeout(r, 6000));
  await checks.stop();
  const redirects = double.requests().filter((r) => r.path === "/bot_code").length;
  const zipGets = double.requests().filter((r) => r.path.includes("/bot/bot_code/")).length - zipGetsBefore;
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => proxy.close(() => r()));
  const perCheck = wireBytes / Math.max(1, redirects);
  const bigSize = statSync(big).size;
  const smallSize = statSync(small).size;

  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
  const diff = peak - idle;
  printBenchReport({
    title: "Supervisor",
    description: `The supervisor as a real process (${compiled ? "compiled" : "from sources via tsx"}) against the Swarming double, bot code on local disk. Start time: ${STARTS} starts with the stand-in bot's code cached, spawn to the first bot log record. RSS: /proc VmRSS sampled every 20 ms while a scheduled update check streams a ${BIG_ZIP_MB} MiB zip to disk and verifies its digest; idle = median over 2 s before. Wire bytes: a counting TCP proxy in front of the double, update checks every second with nothing changed.`,
    rows: [
      { name: "start to the bot's first line, median", value: `${percentile(startMs, 50).toFixed(0)} ms` },
      { name: "start to the bot's first line, max", value: `${Math.max(...startMs).toFixed(0)} ms` },
      { name: "RSS idle", value: mb(idle) },
      { name: `peak RSS while downloading ${BIG_ZIP_MB} MiB`, value: mb(peak) },
      {
        name: "peak RSS minus idle RSS",
        value: mb(diff),
        target: "<= 16 MB",
        pass: diff <= 16 * 2 ** 20,
      },
      { name: `download + verify of ${mb(bigSize)}`, value: `${downloadSeconds.toFixed(1)} s` },
      {
        name: "bytes on the wire per unchanged update check",
        value: `${perCheck.toFixed(0)} B (${redirects} checks, zip is ${smallSize} B)`,
        target: "no zip body (< 2 KB, no zip GET)",
        pass: zipGets === 0 && perCheck < 2048,
      },
    ],
  });
} finally {
  await double.close();
  rmSync(work, { recursive: true, force: true });
}
