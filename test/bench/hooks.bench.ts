/**
 * Cost of the hook script (packages/swarming-hooks/bot_config.py) per bot
 * poll: the bot calls get_dimensions, get_state and get_settings before every
 * poll. Measured in python3 against the real state server (built CLI,
 * simulated device), and compared with the bare HTTP cost of the same three
 * requests made with urllib from the same process (the baseline). Also the
 * cost of a poll while the state server is down (the fallback path).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI_BIN, freePort, HOOK_SCRIPT } from "../../packages/cli/src/demo/pod.js";
import { percentile, printBenchReport } from "./report.js";

const CYCLES = 400;
const P95_TARGET_MS = 30;
const RATIO_TARGET = 2;
const DOWN_P95_TARGET_MS = 10;

// Runs in python3: prints {"hooks": [ms...], "baseline": [ms...], "down": [ms...]}.
const PYTHON = `
import importlib.util, json, os, sys, time, urllib.request
url, dead, script, cycles = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
class Bot:
    id = "skia-rpi2-bench"; dimensions = {}; state = {}; server = "http://127.0.0.1:1"
    base_dir = "/b/s"; config_dir = "/etc/swarming_config"; swarming_bot_zip = ""; bot_version = "v" * 64
spec = importlib.util.spec_from_file_location("bot_config", script)
hooks = importlib.util.module_from_spec(spec); spec.loader.exec_module(hooks)
def timed(fn):
    out = []
    for _ in range(cycles):
        t = time.perf_counter(); fn(); out.append((time.perf_counter() - t) * 1000)
    return out
bot = Bot()
def cycle():
    dims = hooks.get_dimensions(bot); state = hooks.get_state(bot); hooks.get_settings(bot)
    return dims, state
dims = json.dumps(hooks._base_dimensions(bot)).encode(); state = json.dumps(hooks._base_state(bot)).encode()
headers = {"Content-Type": "application/json", "X-Swarming-Bot-Id": bot.id, "X-Swarming-Bot-Version": bot.bot_version}
def bare():
    for path, body in (("/get_dimensions", dims), ("/get_state", state), ("/get_settings", None)):
        req = urllib.request.Request(url + path, data=body, headers=headers, method="POST" if body else "GET")
        with urllib.request.urlopen(req, timeout=3) as r: json.loads(r.read())
os.environ["RPI_SWARMING_STATE_SERVER_URL"] = url
d, s = cycle()
# Fails loudly if the measured path is not the working one.
assert d["device_type"] == ["sargo"] and "quarantined" not in s, (d, s)
for _ in range(20): cycle(); bare()
ok = timed(cycle); base = timed(bare)
os.environ["RPI_SWARMING_STATE_SERVER_URL"] = dead
d, s = cycle()
assert "state server" in s["quarantined"], s
print(json.dumps({"hooks": ok, "baseline": base, "down": timed(cycle)}))
`;

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`state server exited ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`state server not ready at ${url}`);
}

const dir = mkdtempSync(join(tmpdir(), "hooks-bench-"));
const [hookPort, metricsPort, controlPort, deadPort] = [
  await freePort(),
  await freePort(),
  await freePort(),
  await freePort(),
];
const server = spawn(
  process.execPath,
  [
    CLI_BIN,
    "state-server",
    "--device=simulated",
    "--bot-id=skia-rpi2-bench",
    "--hook-host=127.0.0.1",
    `--hook-port=${hookPort}`,
    "--metrics-host=127.0.0.1",
    `--metrics-port=${metricsPort}`,
    `--simulated-control-port=${controlPort}`,
    `--maintenance-dir=${dir}`,
    `--token-config=${join(dir, "none.json")}`,
    "--log-level=warn",
  ],
  { stdio: "ignore" },
);
try {
  await waitReady(`http://127.0.0.1:${metricsPort}/readyz`, server);
  const out = execFileSync(
    "python3",
    ["-c", PYTHON, `http://127.0.0.1:${hookPort}`, `http://127.0.0.1:${deadPort}`, HOOK_SCRIPT, String(CYCLES)],
    { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 },
  );
  const r = JSON.parse(out) as { hooks: number[]; baseline: number[]; down: number[] };
  const p = (xs: number[], q: number) => percentile(xs, q);
  const ratio = p(r.hooks, 50) / p(r.baseline, 50);
  const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
  printBenchReport({
    title: "Hook script per poll",
    description:
      `bot_config.py's get_dimensions + get_state + get_settings (what the bot calls before each poll), ${CYCLES} cycles ` +
      "in python3 against the real state server (simulated device) over loopback; baseline: the same three requests " +
      "with bare urllib from the same process; down: the same cycle with nothing listening (fallback path).",
    rows: [
      { name: "per-poll hooks p50", value: fmt(p(r.hooks, 50)) },
      {
        name: "per-poll hooks p95",
        value: fmt(p(r.hooks, 95)),
        target: `< ${P95_TARGET_MS} ms`,
        pass: p(r.hooks, 95) < P95_TARGET_MS,
      },
      { name: "baseline (bare urllib) p50", value: fmt(p(r.baseline, 50)) },
      {
        name: "hooks / baseline (p50)",
        value: `${ratio.toFixed(2)}x baseline`,
        target: `<= ${RATIO_TARGET}x`,
        pass: ratio <= RATIO_TARGET,
      },
      {
        name: "per-poll hooks, state server down, p95",
        value: fmt(p(r.down, 95)),
        target: `< ${DOWN_P95_TARGET_MS} ms`,
        pass: p(r.down, 95) < DOWN_P95_TARGET_MS,
      },
    ],
  });
} finally {
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
