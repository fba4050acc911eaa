import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { createLogger, createMetricsRegistry } from "@rpi-swarming/core";
import { afterEach, describe, expect, it } from "vitest";
import type { BotExit } from "./bot-process.js";
import { BotStopReport } from "./bot-stop.js";
import { SupervisorMetrics } from "./metrics.js";
import { StateServerClient } from "./state-client.js";

let records: Record<string, unknown>[] = [];
const servers: Server[] = [];
afterEach(async () => {
  records = [];
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

function logger() {
  const stream = new PassThrough();
  stream.on("data", (c: Buffer) => {
    for (const l of c.toString().split("\n")) if (l) records.push(JSON.parse(l) as Record<string, unknown>);
  });
  return createLogger({ level: "debug", stream });
}

async function stateServer(taskRunning: boolean): Promise<string> {
  const s = createServer((_, res) => res.end(JSON.stringify({ task_running: taskRunning, bot_version: null })));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

async function metricValue(m: SupervisorMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name.replace(/_(count|sum)$/, ""));
  const values = (metric?.values ?? []) as { metricName?: string; labels: Record<string, string>; value: number }[];
  const v = values.find(
    (x) => (x.metricName ?? metric?.name) === name && Object.entries(labels).every(([k, l]) => x.labels[k] === l),
  );
  return v?.value ?? Number.NaN;
}

const task = [
  { pid: 11, pgid: 11, comm: "python3", startTime: "5" },
  { pid: 12, pgid: 12, comm: "run_isolated", startTime: "6" },
];

describe("BotStopReport", () => {
  it("grace ran out during a task: counts a cut task, times the stop, and says what it killed", async () => {
    const m = new SupervisorMetrics(createMetricsRegistry("b"));
    const report = new BotStopReport(logger(), m, new StateServerClient(await stateServer(true)));
    const taskRunning = await report.taskRunning();
    expect(taskRunning).toBe(true);
    const exit: BotExit = {
      code: null,
      signal: "SIGKILL",
      swept: task,
      stop: { sigtermAt: 1_000, exitedAt: 13_500, graceExpired: true },
    };
    report.stopped(exit, 12_000, taskRunning, 10);
    expect(await metricValue(m, "rpi_swarming_bot_tasks_cut_total", { reason: "grace_expired" })).toBe(1);
    expect(await metricValue(m, "rpi_swarming_bot_stop_duration_seconds_count", { outcome: "killed" })).toBe(1);
    expect(await metricValue(m, "rpi_swarming_bot_stop_duration_seconds_sum", { outcome: "killed" })).toBe(12.5);
    expect(records.at(-1)).toMatchObject({
      level: 40,
      msg: "shutdown grace ran out: killed the bot and the processes of its session; its task is cut",
      pid: 10,
      graceSeconds: 12,
      sinceSigtermSeconds: 12.5,
      taskRunningAtSigterm: true,
      killed: [
        { pid: 11, comm: "python3" },
        { pid: 12, comm: "run_isolated" },
      ],
    });
  });

  it("a bot that stops in time is timed, nothing is cut; an idle bot that hangs is no cut task", async () => {
    const m = new SupervisorMetrics(createMetricsRegistry("b"));
    const report = new BotStopReport(logger(), m, new StateServerClient("http://127.0.0.1:9"));
    expect(await report.taskRunning()).toBeNull();
    report.stopped(
      { code: 0, signal: null, swept: [], stop: { sigtermAt: 0, exitedAt: 2_000, graceExpired: false } },
      600_000,
      null,
      10,
    );
    expect(records.at(-1)).toMatchObject({ level: 30, msg: "bot stopped", sinceSigtermSeconds: 2 });
    report.stopped(
      { code: null, signal: "SIGKILL", swept: [], stop: { sigtermAt: 0, exitedAt: 1_000, graceExpired: true } },
      1_000,
      false,
      10,
    );
    expect(String(records.at(-1)?.msg)).toContain("had no task process");
    expect(await metricValue(m, "rpi_swarming_bot_stop_duration_seconds_count", { outcome: "exited" })).toBe(1);
    expect(await metricValue(m, "rpi_swarming_bot_stop_duration_seconds_count", { outcome: "killed" })).toBe(1);
    expect(await metricValue(m, "rpi_swarming_bot_tasks_cut_total", { reason: "grace_expired" })).toBe(0);
  });

  it("a bot that died with task processes running counts as a cut task; one that left nothing does not", async () => {
    const m = new SupervisorMetrics(createMetricsRegistry("b"));
    const report = new BotStopReport(logger(), m, new StateServerClient("http://127.0.0.1:9"));
    report.exitedWithOrphans({ code: 5, signal: null, swept: [] }, 10);
    report.exitedWithOrphans({ code: 5, signal: null, swept: task }, 10);
    expect(await metricValue(m, "rpi_swarming_bot_tasks_cut_total", { reason: "bot_exit" })).toBe(1);
    report.leftover({ found: false, killed: false, swept: task });
    report.leftover({ found: true, killed: false, swept: [], stopMs: 700 });
    expect(await metricValue(m, "rpi_swarming_bot_tasks_cut_total", { reason: "leftover" })).toBe(1);
    expect(await metricValue(m, "rpi_swarming_bot_stop_duration_seconds_count", { outcome: "exited" })).toBe(1);
  });
});
