/**
 * Ctrl-C lets the bot finish its task before the pod stops; a second Ctrl-C
 * kills every process of the pod at once, the task's included.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { getJson, pidsMentioning, postJson, type RunningDemo, startDemo, waitFor } from "./harness.js";

const BOT = "skia-rpi2-hurry";

describe("a second signal", () => {
  let demo: RunningDemo | undefined;

  afterAll(() => {
    demo?.killAll();
    if (demo) rmSync(demo.workDir, { recursive: true, force: true });
  });

  it("kills the whole pod at once while the bot waits for its task", async () => {
    demo = await startDemo({ botId: BOT, extraArgs: ["--poll-seconds=0.5", "--probe-interval-seconds=0.5"] });
    const d = demo;
    await waitFor(
      "the bot's first poll",
      async () => ((await getJson(`${d.double}/bots/${BOT}`)).polls as number) >= 1,
      40_000,
    );
    // The work dir in the task's command line lets the test find the task process.
    await postJson(`${d.double}/_double/enqueue`, {
      cmd: "run",
      taskId: "long-task",
      command: ["python3", "-c", `import time; time.sleep(120)  # ${d.workDir}`],
      botId: BOT,
    });
    await waitFor("the task to run", async () => (await getJson(`${d.hooks}/status`)).task_running === true);
    const before = pidsMentioning(d.workDir);
    expect(before.length).toBeGreaterThanOrEqual(5);

    d.child.kill("SIGINT");
    await waitFor("the demo to start stopping", () => d.output().includes("stopping the pod"));
    // The supervisor has asked the bot to stop; the bot is still finishing its two-minute task.
    await waitFor("the supervisor stopping the bot", () =>
      readFileSync(join(d.workDir, "logs", "supervisor.log"), "utf8").includes('"msg":"stopping the bot"'),
    );
    expect(pidsMentioning(d.workDir).length).toBeGreaterThan(0);
    const hurriedAt = Date.now();
    d.child.kill("SIGINT");
    // The demo's own output says why, should it not exit 0.
    expect(await d.exited, d.output().slice(-3000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - hurriedAt).toBeLessThan(10_000);
    expect(pidsMentioning(d.workDir)).toEqual([]);
    expect(d.output()).toContain("second signal: killing every pod process now");
  }, 90_000);
});
