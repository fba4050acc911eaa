/**
 * The local pod for the monitoring test: `rpi-swarming demo` with the
 * simulated device, run as a user runs it (the built CLI), on ports chosen
 * here so the scrape configuration can point at them. Gives the test handles
 * on the pod's processes (found through /proc under the demo's pid) to inject
 * crashes, and the double's and the simulated device's fault controls.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, type Spawned, spawnLogged } from "./processes.js";

export interface DemoPodOptions {
  root: string;
  workDir: string;
  botId: string;
  /** Seconds before the demo restarts a pod process that died (kubelet's restart). */
  restartDelaySeconds: number;
  probeIntervalSeconds: number;
  supervisorArgs: string[];
  stateServerArgs: string[];
}

export interface DemoPod {
  readonly botId: string;
  readonly process: Spawned;
  readonly ports: { double: number; hook: number; stateMetrics: number; supervisorMetrics: number; control: number };
  readonly urls: { double: string; status: string; control: string };
  /** Pid of the pod process whose command line contains `name` (state-server, supervisor). */
  podProcessPid(name: "state-server" | "supervisor"): number | undefined;
  /** Pid of the Swarming bot (the supervisor's Python child running swarming_bot.zip). */
  botPid(): number | undefined;
  /** POST a JSON body; throws with the reply on a non-2xx status. */
  post(url: string, body: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/** Direct children of a pid, from /proc/<pid>/stat (field 4 is the parent pid). */
function children(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name (field 2) may hold spaces and parentheses: parse after its last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === ppid) out.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

function descendants(pid: number): number[] {
  const all: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = children(queue.shift() as number);
    all.push(...next);
    queue.push(...next);
  }
  return all;
}

export async function startDemoPod(options: DemoPodOptions): Promise<DemoPod> {
  const bin = join(options.root, "packages", "cli", "bin", "rpi-swarming.js");
  const dist = join(options.root, "packages", "cli", "dist", "main.js");
  if (!existsSync(dist)) {
    throw new Error(`${dist} is missing: run 'npm run build' (ci/install-tools.sh does) before this test`);
  }
  const ports = {
    double: await freePort(),
    hook: await freePort(),
    stateMetrics: await freePort(),
    supervisorMetrics: await freePort(),
    control: await freePort(),
  };
  const args = [
    bin,
    "demo",
    `--bot-id=${options.botId}`,
    "--device=simulated",
    `--work-dir=${join(options.workDir, "pod")}`,
    `--double-port=${ports.double}`,
    `--hook-port=${ports.hook}`,
    `--state-metrics-port=${ports.stateMetrics}`,
    `--supervisor-metrics-port=${ports.supervisorMetrics}`,
    `--simulated-control-port=${ports.control}`,
    `--probe-interval-seconds=${options.probeIntervalSeconds}`,
    `--restart-delay-seconds=${options.restartDelaySeconds}`,
    "--poll-seconds=1",
    "--summary-interval-seconds=5",
    ...options.supervisorArgs.map((a) => `--supervisor-arg=${a}`),
    ...options.stateServerArgs.map((a) => `--state-server-arg=${a}`),
  ];
  const env = { ...process.env };
  delete env.RPI_SWARMING_CONFIG;
  delete env.SWARMING_SERVER;
  const proc = spawnLogged("rpi-swarming demo", process.execPath, args, {
    logFile: join(options.workDir, "demo.log"),
    env,
    cwd: options.root,
  });
  const local = "http://127.0.0.1";
  const pod: DemoPod = {
    botId: options.botId,
    process: proc,
    ports,
    urls: {
      double: `${local}:${ports.double}`,
      status: `${local}:${ports.hook}/status`,
      control: `${local}:${ports.control}/control`,
    },
    podProcessPid(name) {
      const pid = proc.child.pid;
      if (pid === undefined) return undefined;
      return children(pid).find((p) => cmdline(p).includes(` ${name} `));
    },
    botPid() {
      const sup = pod.podProcessPid("supervisor");
      if (sup === undefined) return undefined;
      return descendants(sup).find((p) => /swarming_bot[^ ]*\.zip/.test(cmdline(p)));
    },
    async post(url, body) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`POST ${url} ${JSON.stringify(body)}: HTTP ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
    async stop() {
      // The demo's processes run in their own process groups: remember them in case the demo dies first.
      const pid = proc.child.pid;
      const known = pid === undefined ? [] : descendants(pid).map((p) => ({ pid: p, cmd: cmdline(p) }));
      // SIGTERM lets the demo stop its processes, the bot first.
      await proc.stop(90_000);
      for (const k of known) {
        if (k.cmd && cmdline(k.pid) === k.cmd) {
          try {
            process.kill(k.pid, "SIGKILL");
          } catch {
            // Gone meanwhile.
          }
        }
      }
    },
  };
  // The demo is up when both metrics endpoints and the device control answer.
  const deadline = Date.now() + 60_000;
  const wanted = [
    `${local}:${ports.stateMetrics}/metrics`,
    `${local}:${ports.supervisorMetrics}/metrics`,
    pod.urls.control,
  ];
  for (const url of wanted) {
    for (;;) {
      if (!proc.isRunning()) {
        throw new Error(`rpi-swarming demo exited during start-up:\n${proc.logTail()}`);
      }
      const ok = await fetch(url)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) {
        await proc.stop();
        throw new Error(`rpi-swarming demo: ${url} did not answer within 60 s:\n${proc.logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return pod;
}
