import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scratchDir, testConfig, testLogger } from "./__fixtures__/helpers.js";
import { type StateServer, startStateServer } from "./server.js";
import { TASK_MARKER_FILE } from "./task-marker.js";

let servers: StateServer[] = [];
let scratch: ReturnType<typeof scratchDir>;
let sharedDir: string;

beforeEach(() => {
  scratch = scratchDir();
  sharedDir = join(scratch.dir, "shared");
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  scratch.cleanup();
});

async function start(flags: Record<string, unknown> = { sharedDir: join(scratch.dir, "shared") }) {
  const s = await startStateServer(
    testConfig({ device: "simulated", probeIntervalSeconds: "3600", rebootAfterTask: false, ...flags }, scratch.dir),
    { log: testLogger(), maintenancePollMs: 50 },
  );
  servers.push(s);
  return s;
}

async function hook(s: StateServer, path: string, body: unknown = {}, version = "v1"): Promise<unknown> {
  const res = await fetch(`${s.hookUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "X-Swarming-Bot-Version": version },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.json();
}

/** rpi_swarming_task_state_known as the registry has it now. */
async function known(s: StateServer): Promise<number> {
  const text = await s.registry.getSingleMetricAsString("rpi_swarming_task_state_known");
  return Number(/^rpi_swarming_task_state_known\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
}

async function status(s: StateServer): Promise<Record<string, unknown>> {
  return (await (await fetch(`${s.hookUrl}/status`)).json()) as Record<string, unknown>;
}

describe("the running-task marker in the shared dir", () => {
  it("a state server started during a task still knows the task runs; the version is unknown until a hook tells", async () => {
    const first = await start();
    expect(await status(first)).toMatchObject({ task_running: "unknown", bot_version: "unknown" });
    expect(await known(first)).toBe(0);
    await hook(first, "/on_bot_startup");
    expect(await status(first)).toMatchObject({ task_running: false, bot_version: "v1" });
    expect(await known(first)).toBe(1);
    await hook(first, "/on_before_task", { task_id: "t-9" });
    const marker = JSON.parse(readFileSync(join(sharedDir, TASK_MARKER_FILE), "utf8")) as Record<string, unknown>;
    expect(marker.task_id).toBe("t-9");
    // As after a kill -9: the second server starts from the same shared dir.
    await first.close();
    servers = [];
    const second = await start();
    expect(await status(second)).toMatchObject({ task_running: true, task_id: "t-9", bot_version: "unknown" });
    expect(await known(second)).toBe(1);
    // Recovery steps are deferred and device reboots refused while it runs.
    expect(second.monitor.snapshot.taskRunning).toBe(true);
    await hook(second, "/on_after_task", {}, "v2");
    expect(await status(second)).toMatchObject({ task_running: false, task_id: null, bot_version: "v2" });
    expect(existsSync(join(sharedDir, TASK_MARKER_FILE))).toBe(false);
  });

  it("without a marker the task state is unknown (never idle) until a hook proves the bot idle or busy", async () => {
    const s = await start();
    expect((await status(s)).task_running).toBe("unknown");
    // A get_* hook teaches the version but not the task state.
    await hook(s, "/get_state", {}, "v3");
    expect(await status(s)).toMatchObject({ task_running: "unknown", bot_version: "v3" });
    expect(await known(s)).toBe(0);
    await hook(s, "/on_bot_idle", { since_last_action_s: 5 });
    expect((await status(s)).task_running).toBe(false);
    expect(await known(s)).toBe(1);
  });

  it("a marker whose task ended while the server was down is cleared by the next on_bot_idle", async () => {
    mkdirSync(sharedDir, { recursive: true });
    writeFileSync(join(sharedDir, TASK_MARKER_FILE), JSON.stringify({ task_id: "old", since: "x" }));
    const s = await start();
    expect((await status(s)).task_running).toBe(true);
    await hook(s, "/on_bot_idle", { since_last_action_s: 1 });
    expect(await status(s)).toMatchObject({ task_running: false, task_id: null });
    expect(existsSync(join(sharedDir, TASK_MARKER_FILE))).toBe(false);
  });

  it("on_bot_shutdown ends the task and removes the marker", async () => {
    const s = await start();
    await hook(s, "/on_before_task", { task_id: "t-1" });
    expect(existsSync(join(sharedDir, TASK_MARKER_FILE))).toBe(true);
    await hook(s, "/on_bot_shutdown");
    expect((await status(s)).task_running).toBe(false);
    expect(existsSync(join(sharedDir, TASK_MARKER_FILE))).toBe(false);
  });

  it("without --shared-dir the flag lives in memory only, and a restart still says unknown", async () => {
    const first = await start({});
    await hook(first, "/on_before_task", { task_id: "t-1" });
    await first.close();
    servers = [];
    const second = await start({});
    expect((await status(second)).task_running).toBe("unknown");
  });
});
