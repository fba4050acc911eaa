/**
 * The whole pod on one machine: the Swarming double (unless a real server is
 * given), the state server and the supervisor as separate processes on
 * loopback, sharing one directory as the pod's emptyDir. Used by
 * `rpi-swarming demo` and by the end-to-end tests.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { NotReadyError } from "@rpi-swarming/core";
import { PodProcess } from "./pod-process.js";
import { killPodProcesses, POD_MARKER_ENV } from "./stragglers.js";

/** packages/cli/{src,dist}/demo/ → the repository (or install) root. */
const ROOT = resolve(fileURLToPath(new URL("../../../../", import.meta.url)));
export const CLI_BIN = join(ROOT, "packages/cli/bin/rpi-swarming.js");
export const HOOK_SCRIPT = join(ROOT, "packages/swarming-hooks/bot_config.py");
export const SUDO_DIR = join(ROOT, "images/sudo");

export interface PodPorts {
  /** 0 = a free port, picked before the process starts. */
  readonly double: number;
  readonly hook: number;
  readonly stateMetrics: number;
  readonly supervisorMetrics: number;
  readonly simulatedControl: number;
}

export interface PodOptions {
  readonly botId: string;
  readonly device: "android" | "ios" | "simulated" | "none";
  /** A real Swarming server; the double is not started then. */
  readonly swarmingServer?: string | undefined;
  /** The pod's emptyDir; default a fresh temporary directory, removed by stop(). */
  readonly workDir?: string | undefined;
  readonly keepWorkDir?: boolean;
  readonly ports: PodPorts;
  readonly python: string;
  /** Token config for every part; default: none with the double, the image's path with a real server. */
  readonly tokenConfig?: string | undefined;
  readonly hookScript?: string;
  readonly logLevel: string;
  /** Duration of the double's sleep command between polls. */
  readonly pollSeconds: number;
  readonly probeIntervalSeconds: number;
  /** Delay before a container that exited by itself is started again (kubelet's restart). */
  readonly restartDelayMs: number;
  /** More flags for `rpi-swarming state-server` / `supervisor` (e.g. thresholds, update schedule). */
  readonly stateServerArgs?: readonly string[];
  readonly supervisorArgs?: readonly string[];
  readonly startTimeoutMs?: number;
}

export interface PodUrls {
  readonly swarming: string;
  /** The double's bot list (undefined with a real server). */
  readonly doubleBots: string | undefined;
  readonly doubleState: string | undefined;
  readonly hooks: string;
  readonly status: string;
  readonly stateMetrics: string;
  readonly supervisorMetrics: string;
  readonly supervisorHealth: string;
  /** The simulated device's fault-injection interface (simulated device only). */
  readonly simulatedControl: string | undefined;
}

export interface Pod {
  /** Marker in every pod process's environment (see stragglers.ts). */
  readonly id: string;
  readonly workDir: string;
  readonly botDir: string;
  readonly sharedDir: string;
  readonly maintenanceDir: string;
  readonly logDir: string;
  readonly urls: PodUrls;
  readonly double: PodProcess | undefined;
  readonly stateServer: PodProcess;
  readonly supervisor: PodProcess;
  /** Stops every process (supervisor first, so the bot gets its shutdown); returns pids that had to be killed late. */
  stop(): Promise<number[]>;
  /** SIGKILLs every process of the pod at once (a second Ctrl-C); stop() then returns quickly. */
  kill(): void;
}

/** A port the kernel just handed out on 127.0.0.1, released again so a child can bind it. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolvePort(port) : reject(new Error("no port assigned"))));
    });
  });
}

const pick = async (port: number) => (port === 0 ? freePort() : port);

/** Polls `url` until it answers 2xx, the process dies or time runs out. */
export async function waitUntilServing(url: string, proc: PodProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (!proc.running && proc.starts > 0 && proc.exits.length >= proc.starts) {
      throw new NotReadyError(`${proc.spec.name} exited while starting; its log ends:\n${proc.logTail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new NotReadyError(
    `${proc.spec.name} did not answer ${url} within ${timeoutMs} ms (${last}); its log ends:\n${proc.logTail()}`,
  );
}

/**
 * Starts the pod. Free ports are picked before the processes start, so another
 * process may take one in between: then (EADDRINUSE) the pod is started again
 * on fresh ports, up to three times.
 */
export async function startPod(options: PodOptions): Promise<Pod> {
  const autoPorts = Object.values(options.ports).some((p) => p === 0);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPodOnce(options);
    } catch (err) {
      const portTaken = err instanceof NotReadyError && err.message.includes("EADDRINUSE");
      if (!(portTaken && autoPorts && attempt < 3)) throw err;
    }
  }
}

async function startPodOnce(options: PodOptions): Promise<Pod> {
  const id = randomBytes(6).toString("hex");
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), "rpi-swarming-pod-"));
  const botDir = join(workDir, "s");
  const sharedDir = join(workDir, "shared");
  const maintenanceDir = join(workDir, "maintenance");
  const logDir = join(workDir, "logs");
  for (const dir of [botDir, sharedDir, maintenanceDir, logDir]) mkdirSync(dir, { recursive: true });

  const ports = {
    double: options.swarmingServer ? 0 : await pick(options.ports.double),
    hook: await pick(options.ports.hook),
    stateMetrics: await pick(options.ports.stateMetrics),
    supervisorMetrics: await pick(options.ports.supervisorMetrics),
    simulatedControl: await pick(options.ports.simulatedControl),
  };
  const local = "http://127.0.0.1";
  const hooksUrl = `${local}:${ports.hook}`;
  const swarming = options.swarmingServer ?? `${local}:${ports.double}`;
  const urls: PodUrls = {
    swarming,
    doubleBots: options.swarmingServer ? undefined : `${swarming}/bots`,
    doubleState: options.swarmingServer ? undefined : `${swarming}/_double/state`,
    hooks: hooksUrl,
    status: `${hooksUrl}/status`,
    stateMetrics: `${local}:${ports.stateMetrics}/metrics`,
    supervisorMetrics: `${local}:${ports.supervisorMetrics}/metrics`,
    supervisorHealth: `${local}:${ports.supervisorMetrics}/healthz`,
    simulatedControl: options.device === "simulated" ? `${local}:${ports.simulatedControl}/control` : undefined,
  };

  // What every container of the pod sees; the bot inherits the supervisor's.
  const env: NodeJS.ProcessEnv = { ...process.env, [POD_MARKER_ENV]: id, SWARMING_BOT_ID: options.botId };
  delete env.RPI_SWARMING_CONFIG;
  // bot_config.py and the supervisor's stateServerUrl both read this.
  env.RPI_SWARMING_STATE_SERVER_URL = hooksUrl;
  // Default with the double: a file that does not exist, i.e. no auth (state server, supervisor, bot_config.py).
  const tokenConfig =
    options.tokenConfig ??
    (options.swarmingServer
      ? "/etc/swarming_config/oauth2_access_token_config.json"
      : join(workDir, "no-token-config.json"));
  env.RPI_SWARMING_TOKEN_CONFIG = tokenConfig;

  const node = process.execPath;
  const common = { env, stopGraceMs: 15_000, restartDelayMs: options.restartDelayMs };
  const double = options.swarmingServer
    ? undefined
    : new PodProcess({
        ...common,
        name: "swarming-double",
        command: node,
        args: [
          CLI_BIN,
          "swarming-double",
          "--double-host=127.0.0.1",
          `--double-port=${ports.double}`,
          `--hook-script=${options.hookScript ?? HOOK_SCRIPT}`,
          `--work-dir=${join(workDir, "double")}`,
          `--default-sleep-seconds=${options.pollSeconds}`,
          `--log-level=${options.logLevel}`,
        ],
        logFile: join(logDir, "swarming-double.log"),
      });
  const stateServer = new PodProcess({
    ...common,
    name: "state-server",
    command: node,
    args: [
      CLI_BIN,
      "state-server",
      `--bot-id=${options.botId}`,
      `--device=${options.device}`,
      "--hook-host=127.0.0.1",
      `--hook-port=${ports.hook}`,
      "--metrics-host=127.0.0.1",
      `--metrics-port=${ports.stateMetrics}`,
      `--simulated-control-port=${ports.simulatedControl}`,
      `--maintenance-dir=${maintenanceDir}`,
      // The running-task marker outlives a state server restart there (as on the pod's emptyDir).
      `--shared-dir=${sharedDir}`,
      `--token-config=${tokenConfig}`,
      `--probe-interval-seconds=${options.probeIntervalSeconds}`,
      `--log-level=${options.logLevel}`,
      ...(options.stateServerArgs ?? []),
    ],
    logFile: join(logDir, "state-server.log"),
  });
  const supervisor = new PodProcess({
    ...common,
    // The bot gets its shutdownGraceSeconds (30, below) first.
    stopGraceMs: 45_000,
    name: "supervisor",
    command: node,
    args: [
      CLI_BIN,
      "supervisor",
      `--bot-id=${options.botId}`,
      `--swarming-server=${swarming}`,
      `--bot-dir=${botDir}`,
      `--shared-dir=${sharedDir}`,
      `--python=${options.python}`,
      `--token-config=${tokenConfig}`,
      "--metrics-host=127.0.0.1",
      `--metrics-port=${ports.supervisorMetrics}`,
      `--state-server-url=${hooksUrl}`,
      `--sudo-dir=${SUDO_DIR}`,
      "--shutdown-grace-seconds=30",
      `--log-level=${options.logLevel}`,
      // Later flags win, so these can override the ones above.
      ...(options.supervisorArgs ?? []),
    ],
    logFile: join(logDir, "supervisor.log"),
  });

  const kill = (): void => {
    for (const p of [supervisor, stateServer, double]) {
      p?.stopWithoutRestart();
      p?.signal("SIGKILL");
    }
    killPodProcesses(id);
  };
  const stop = async (): Promise<number[]> => {
    await supervisor.stop();
    await Promise.all([stateServer.stop(), double?.stop()]);
    const late = killPodProcesses(id);
    if (ownWorkDir && !options.keepWorkDir) rmSync(workDir, { recursive: true, force: true });
    return late;
  };

  const timeout = options.startTimeoutMs ?? 30_000;
  try {
    if (double && urls.doubleState) {
      double.start();
      await waitUntilServing(urls.doubleState, double, timeout);
    }
    stateServer.start();
    await waitUntilServing(`${local}:${ports.stateMetrics}/healthz`, stateServer, timeout);
    supervisor.start();
    await waitUntilServing(urls.supervisorHealth, supervisor, timeout);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    id,
    workDir,
    botDir,
    sharedDir,
    maintenanceDir,
    logDir,
    urls,
    double,
    stateServer,
    supervisor,
    stop,
    kill,
  };
}
