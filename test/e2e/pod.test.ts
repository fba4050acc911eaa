/**
 * The whole pod for real: `rpi-swarming demo` starts the Swarming double, the
 * state server (simulated phone) and the supervisor as separate processes;
 * the supervisor downloads the stand-in bot from the double; the bot's hooks
 * (packages/swarming-hooks/bot_config.py) reach the state server. The tests
 * then break things and watch what the double (i.e. Swarming) sees.
 * Intervals are shortened through settings so the file runs in seconds.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOOK_SCRIPT } from "../../packages/cli/src/demo/pod.js";
import { getJson, type Json, pidsMentioning, postJson, type RunningDemo, startDemo, waitFor } from "./harness.js";

const BOT = "skia-rpi2-e2e";

describe("the pod on one machine", () => {
  let demo: RunningDemo;

  const bot = async () => getJson(`${demo.double}/bots/${BOT}`);
  const status = async () => getJson(`${demo.hooks}/status`);
  const doubleState = async () => getJson(`${demo.double}/_double/state`);
  const inService = (b: Json) => !b.quarantined && !b.maintenance;
  /** Swarming's view after at least one poll newer than `since`. */
  const botAfter = async (since: number) => {
    const b = await bot();
    return Date.parse(b.lastSeen as string) > since ? b : undefined;
  };

  beforeAll(async () => {
    demo = await startDemo({
      botId: BOT,
      extraArgs: [
        "--poll-seconds=0.5",
        "--probe-interval-seconds=0.3",
        "--restart-delay-seconds=3",
        "--state-server-arg=--reboot-after-task",
        "--state-server-arg=--simulated=rebootSeconds=2",
        "--supervisor-arg=--update-schedule=*/2 * * * * *",
        "--supervisor-arg=--update-jitter-seconds=0",
        "--supervisor-arg=--shutdown-grace-seconds=10",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    if (!demo) return;
    if (demo.child.exitCode === null && demo.child.signalCode === null) {
      demo.child.kill("SIGTERM");
      await Promise.race([demo.exited, new Promise((r) => setTimeout(r, 30_000))]);
    }
    demo.killAll();
    rmSync(demo.workDir, { recursive: true, force: true });
  }, 60_000);

  it("downloads the stand-in bot, whose hooks bring the device's dimensions and state to Swarming", async () => {
    const seen = await waitFor(
      "a handshake and polls at the double",
      async () => {
        const b = await bot();
        return (b.handshakes as number) >= 1 && (b.polls as number) >= 2 ? b : undefined;
      },
      40_000,
    );
    const dims = seen.dimensions as Record<string, string[]>;
    expect(dims.id).toEqual([BOT]);
    expect(dims.device_type).toEqual(["sargo"]);
    expect(dims.android_devices).toEqual(["1"]);
    expect(dims.device_os).toContain("QQ2A.200305.002");
    const state = seen.state as Json;
    expect((state.battery as Json).ratio).toBeGreaterThan(0.5);
    expect(JSON.stringify(state)).toContain("SIMULATED0001");
    expect(inService(seen)).toBe(true);

    const double = await doubleState();
    expect(double.botCodeDownloads).toBeGreaterThanOrEqual(1);
    const s = await status();
    expect(s.bot_version).toBe(double.currentVersion);
    expect(seen.version).toBe(double.currentVersion);
    expect((await getJson(demo.supervisorHealth)).bot_running).toBe(true);
    // The demo's summary says the same.
    await waitFor("the summary", () => /bot {11}running, version/.test(demo.output()));
    expect(demo.output()).toContain("health        ok");
    expect(demo.output()).toContain(`double /bots           ${demo.double}/bots`);
  });

  it("quarantines the bot while the device is missing", async () => {
    await postJson(demo.control, { unplugged: true });
    const gone = await waitFor("quarantine at the double", async () => {
      const b = await bot();
      return b.quarantined ? b : undefined;
    });
    expect(String(gone.quarantined)).toMatch(/SIMULATED0001|missing/i);
    await postJson(demo.control, { unplugged: false });
    await waitFor("the device back in service", async () => inService(await bot()));
  });

  it("puts the bot into maintenance while the battery is low, and back when it recovers", async () => {
    await postJson(demo.control, { batteryRatio: 0.1 });
    const low = await waitFor("maintenance at the double", async () => {
      const b = await bot();
      return b.maintenance ? b : undefined;
    });
    expect(String(low.maintenance)).toMatch(/battery/i);
    expect(low.quarantined).toBeFalsy();
    await postJson(demo.control, { batteryRatio: 0.9 });
    await waitFor("recovery from low battery", async () => inService(await bot()));
  });

  it("keeps the bot out of service while the state server is down, and recovers after its restart", async () => {
    const [pid, ...others] = pidsMentioning(`${demo.workDir}/maintenance`);
    expect(pid).toBeDefined();
    expect(others).toEqual([]);
    const killedAt = Date.now();
    process.kill(pid as number, "SIGKILL");
    const out = await waitFor("quarantine while the state server is down", async () => {
      const b = await botAfter(killedAt);
      return b?.quarantined ? b : undefined;
    });
    expect(String(out.quarantined)).toContain("state server");
    // The pod restarts the container after 3 s; the bot comes back by itself.
    const back = await waitFor("recovery after the restart", async () => {
      const b = await botAfter(Date.now() - 400);
      return b && inService(b) ? b : undefined;
    });
    expect((back.dimensions as Record<string, string[]>).device_type).toEqual(["sargo"]);
    expect((await status()).ready).toBe(true);
  });

  it("runs a task, then reboots the device", async () => {
    const before = (await getJson(demo.control)).reboots as number;
    await postJson(`${demo.double}/_double/enqueue`, {
      cmd: "run",
      taskId: "e2e-task-1",
      command: ["python3", "-c", "print('hello from the task')"],
      botId: BOT,
    });
    const task = await waitFor("the task to complete", async () => {
      const { tasks } = (await getJson(`${demo.double}/_double/tasks`)) as { tasks: Json[] };
      const t = tasks.find((x) => x.id === "e2e-task-1");
      return t && t.status !== "pending" && t.status !== "running" ? t : undefined;
    });
    expect(task.status).toBe("completed");
    expect(task.exitCode).toBe(0);
    expect(task.output).toContain("hello from the task");
    await waitFor(
      "a device reboot after the task",
      async () => ((await getJson(demo.control)).reboots as number) > before,
    );
    await waitFor("the device back after its reboot", async () => {
      const c = await getJson(demo.control);
      return !c.rebooting && inService(await bot());
    });
    expect((await status()).task_running).toBe(false);
  });

  it("updates the bot to newly published code without cutting the running task", async () => {
    const old = (await doubleState()).currentVersion as string;
    await postJson(`${demo.double}/_double/enqueue`, {
      cmd: "run",
      taskId: "e2e-task-2",
      command: ["python3", "-c", "import time; time.sleep(4); print('task survived')"],
      botId: BOT,
    });
    await waitFor("the task to run", async () => (await status()).task_running === true);
    const published = await postJson(`${demo.double}/_double/publish`, {
      standIn: { hookScript: HOOK_SCRIPT, extraFiles: { "e2e-marker.txt": "new code" } },
    });
    const digest = published.digest as string;
    expect(digest).not.toBe(old);
    const task = await waitFor("the task to end", async () => {
      const { tasks } = (await getJson(`${demo.double}/_double/tasks`)) as { tasks: Json[] };
      const t = tasks.find((x) => x.id === "e2e-task-2");
      return t && t.status !== "pending" && t.status !== "running" ? t : undefined;
    });
    expect(task.status).toBe("completed");
    expect(task.exitCode).toBe(0);
    expect(task.output).toContain("task survived");
    const updated = await waitFor(
      "the bot on the new version",
      async () => {
        const b = await bot();
        return b.version === digest && inService(b) ? b : undefined;
      },
      40_000,
    );
    expect(updated.versions).toContain(old);
    expect((await status()).bot_version).toBe(digest);
  }, 90_000);

  it("stops every process of the pod on SIGTERM", async () => {
    const workDir = demo.workDir;
    expect(pidsMentioning(workDir).length).toBeGreaterThanOrEqual(4);
    demo.child.kill("SIGTERM");
    const exit = await Promise.race([
      demo.exited,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 45_000)),
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(pidsMentioning(workDir)).toEqual([]);
    expect(demo.output()).toContain("no pod process is left");
    // Each part ended by itself on SIGTERM (none needed SIGKILL), and the bot had its shutdown.
    for (const name of ["supervisor", "state-server", "swarming-double"]) {
      expect(demo.output()).toMatch(new RegExp(`"process":"${name}","code":0,"signal":null`));
    }
    const supervisorLog = readFileSync(join(workDir, "logs", "supervisor.log"), "utf8");
    expect(supervisorLog).toContain("Signal was received");
  }, 60_000);
});
