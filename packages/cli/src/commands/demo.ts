import { NotReadyError, setting } from "@rpi-swarming/core";
import { z } from "zod";
import { defineCommand } from "../command.js";
import { type Pod, startPod } from "../demo/pod.js";
import { podProcessesLeft } from "../demo/stragglers.js";
import { renderSummary, snapshot } from "../demo/summary.js";

const port = (help: string) =>
  setting("number", z.number().int().min(0).max(65_535).default(0), `${help} (0 = a free port)`);

export const demoSettings = {
  device: setting(
    "string",
    z.enum(["android", "ios", "simulated", "none"]).default("simulated"),
    "device the state server serves: simulated (a virtual phone), android, ios or none",
  ),
  swarmingServer: setting(
    "string",
    z
      .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
      .transform((u) => u.replace(/\/+$/, ""))
      .optional(),
    "a real Swarming server to connect the bot to; the local double is not started then",
    { env: "SWARMING_SERVER" },
  ),
  workDir: setting(
    "string",
    z.string().min(1).optional(),
    "directory used as the pod's emptyDir (bot dir s/, shared/, logs/); default a fresh temporary one",
  ),
  tokenConfig: setting(
    "string",
    z.string().min(1).optional(),
    "OAuth token config ({url, headers}) for a real --swarming-server (default: the image's path; none with the double)",
  ),
  keepWorkDir: setting("boolean", z.boolean().default(false), "keep the work directory (logs) after stopping"),
  python: setting("string", z.string().min(1).default("python3"), "Python 3 interpreter that runs the bot"),
  doublePort: port("port of the local Swarming double"),
  hookPort: port("port of the state server's hook API"),
  stateMetricsPort: port("port of the state server's /metrics"),
  supervisorMetricsPort: port("port of the supervisor's /metrics"),
  simulatedControlPort: port("port of the simulated device's control interface"),
  pollSeconds: setting(
    "number",
    z.number().positive().max(3600).default(2),
    "seconds the double tells the bot to sleep between polls",
  ),
  probeIntervalSeconds: setting(
    "number",
    z.number().positive().max(3600).default(5),
    "seconds between two probes of the device",
  ),
  restartDelaySeconds: setting(
    "number",
    z.number().min(0).max(600).default(2),
    "delay before a pod process that exited by itself is started again",
  ),
  summaryIntervalSeconds: setting(
    "number",
    z.number().positive().max(600).default(1),
    "seconds between two refreshes of the summary",
  ),
  stateServerArg: setting(
    "list",
    z.array(z.string().regex(/^--/, "each must be a flag starting with --")).default([]),
    "extra flag for the state server, e.g. --state-server-arg=--battery-min-ratio=0.5",
  ),
  supervisorArg: setting(
    "list",
    z.array(z.string().regex(/^--/, "each must be a flag starting with --")).default([]),
    "extra flag for the supervisor, e.g. --supervisor-arg=--update-schedule='*/1 * * * *'",
  ),
};

export const demoCommand = defineCommand({
  name: "demo",
  summary:
    "run the whole pod locally: a Swarming double (or --swarming-server), the state server and the supervisor on loopback",
  settings: demoSettings,
  async run(config, { log, stopSignal }) {
    const demoLog = log.child({ component: "demo" });
    let pod: Pod;
    try {
      pod = await startPod({
        botId: config.botId,
        device: config.device,
        swarmingServer: config.swarmingServer,
        workDir: config.workDir,
        keepWorkDir: config.keepWorkDir,
        python: config.python,
        tokenConfig: config.tokenConfig,
        logLevel: config.logLevel,
        pollSeconds: config.pollSeconds,
        probeIntervalSeconds: config.probeIntervalSeconds,
        restartDelayMs: config.restartDelaySeconds * 1000,
        stateServerArgs: config.stateServerArg,
        supervisorArgs: config.supervisorArg,
        ports: {
          double: config.doublePort,
          hook: config.hookPort,
          stateMetrics: config.stateMetricsPort,
          supervisorMetrics: config.supervisorMetricsPort,
          simulatedControl: config.simulatedControlPort,
        },
      });
    } catch (err) {
      // A part that cannot start says why in its own words (its log tail); no JSON dump for people.
      if (!(err instanceof NotReadyError)) throw err;
      process.stderr.write(`rpi-swarming demo: the pod did not start: ${err.message}\n`);
      return 1;
    }
    let stopping = false;
    for (const proc of [pod.double, pod.stateServer, pod.supervisor]) {
      proc?.on("exit", (e: { code: number | null; signal: string | null }) => {
        const fields = { process: proc.spec.name, code: e.code, signal: e.signal };
        if (stopping) demoLog.info(fields, "pod process exited");
        else demoLog.warn({ ...fields, restartInSeconds: config.restartDelaySeconds }, "pod process exited by itself");
      });
    }

    const tty = process.stdout.isTTY === true;
    let lastStable = "";
    const refresh = async () => {
      const snap = await snapshot(pod, config.botId);
      if (stopping) return;
      if (tty) {
        // Redraw in place: home, clear screen.
        process.stdout.write(`\x1b[H\x1b[2J${renderSummary(pod, config.botId, snap, true)}\n`);
        return;
      }
      // Not a terminal (log file, CI): print again only when something other than ages changed.
      const stable = renderSummary(pod, config.botId, snap, false);
      if (stable !== lastStable) {
        process.stdout.write(`\n${stable}\n`);
        lastStable = stable;
      }
    };
    await refresh();
    const timer = setInterval(() => void refresh(), config.summaryIntervalSeconds * 1000);
    // A closed terminal (SIGHUP) must not leave the pod's processes behind either.
    const hangup = new Promise<NodeJS.Signals>((resolve) => process.once("SIGHUP", () => resolve("SIGHUP")));
    const signal = await Promise.race([stopSignal, hangup]);
    stopping = true;
    clearInterval(timer);
    process.stdout.write(`\n${signal}: stopping the pod (the bot gets its shutdown first; again to kill it now)...\n`);
    const hurry = (again: NodeJS.Signals) => {
      demoLog.warn({ signal: again }, "second signal: killing every pod process now");
      pod.kill();
    };
    process.on("SIGINT", hurry);
    process.on("SIGTERM", hurry);
    const late = await pod.stop();
    process.off("SIGINT", hurry);
    process.off("SIGTERM", hurry);
    if (late.length > 0) demoLog.warn({ pids: late }, "killed pod processes that outlived their parents");
    const left = await podProcessesLeft(pod.id);
    if (left.length > 0) {
      demoLog.error({ pids: left }, "pod processes still alive after stopping");
      return 1;
    }
    const kept = config.keepWorkDir || config.workDir ? `; logs kept in ${pod.logDir}` : "";
    process.stdout.write(`stopped${kept}; no pod process is left\n`);
    return 0;
  },
});
