/**
 * Issue 11, item 2: the state server is kill -9ed during a task and comes
 * back (as kubelet restarts a container). It must still know the task runs
 * (marker in the shared dir) and say "unknown" for what it cannot know; an
 * update check meanwhile must not restart the bot under its task.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import type { Pod } from "../../packages/cli/src/demo/pod.js";
import { eventually, getJson, HOOK_SCRIPT, type Json, postJson, startTestPod, supervisorLog } from "./pod.js";

const BOT = "rpi-state-restart";
let pod: Pod | undefined;
afterEach(async () => {
  await pod?.stop();
  pod = undefined;
});

it("kill -9 of the state server mid-task: the update check does not restart the bot until the task has ended", async () => {
  pod = await startTestPod({
    botId: BOT,
    supervisorArgs: [
      "--update-schedule=* * * * * *",
      "--update-jitter-seconds=0",
      "--update-grace-seconds=1",
      "--idle-wait-max-seconds=600",
    ],
  });
  const p = pod;
  const swarming = p.urls.swarming;
  const status = () => getJson(p.urls.status);
  const v1 = (await getJson(`${swarming}/_double/state`)).currentVersion as string;
  await eventually("the bot idle on v1", async () => {
    const s = await status();
    return s.task_running === false && s.bot_version === v1;
  });
  const done = join(p.workDir, "task-may-end");
  await postJson(`${swarming}/_double/enqueue`, {
    botId: BOT,
    cmd: "run",
    taskId: "long-1",
    command: [
      "python3",
      "-c",
      "import os, sys, time\nwhile not os.path.exists(sys.argv[1]): time.sleep(0.1)\nprint('task done')",
      done,
    ],
    hardTimeoutSeconds: 300,
  });
  await eventually("the task running", async () => (await status()).task_running === true);
  expect(existsSync(join(p.sharedDir, "task-running.json"))).toBe(true);
  const botPid = Number(supervisorLog(p).find((r) => r.msg === "bot started")?.pid);

  // kill -9; the pod restarts the container.
  const startsBefore = p.stateServer.starts;
  p.stateServer.signal("SIGKILL");
  await eventually("the state server back", () => p.stateServer.starts > startsBefore && p.stateServer.running);
  const after = await eventually("the new state server answering", () => status());
  expect(after).toMatchObject({ task_running: true, task_id: "long-1", bot_version: "unknown" });

  // New code while the task runs: downloaded, but the bot is not restarted.
  const v2 = (await postJson(`${swarming}/_double/publish`, {
    standIn: { hookScript: HOOK_SCRIPT, extraFiles: { "v2.txt": "2" } },
  })) as Json;
  await eventually("new code in place", () => supervisorLog(p).some((r) => r.msg === "new bot code in place"));
  await eventually(
    "the supervisor waiting",
    () =>
      supervisorLog(p).some(
        (r) =>
          r.msg === "cannot tell whether a task runs or which version the bot runs: not restarting yet" ||
          r.msg === "bot runs old code; waiting for its task to end",
      ),
    20_000,
  );
  // Several checks later, still the same bot, still the same task.
  await eventually("more update checks", async () => {
    const m = await (await fetch(p.urls.supervisorMetrics)).text();
    const unchanged = /rpi_swarming_bot_code_update_checks_total\{result="unchanged"[^}]*\} (\d+)/.exec(m);
    return Number(unchanged?.[1] ?? 0) >= 5;
  });
  const log = supervisorLog(p);
  expect(log.filter((r) => r.msg === "bot started").map((r) => r.pid)).toEqual([botPid]);
  expect(log.some((r) => r.msg === "bot runs old code and is idle: restarting it")).toBe(false);
  const tasks = (await getJson(`${swarming}/_double/tasks`)).tasks as Json[];
  expect(tasks.find((t) => t.id === "long-1")?.status).toBe("running");

  // The task ends; the state is known again, and only now is the bot updated (by itself or the supervisor).
  writeFileSync(done, "");
  await eventually("the task completed", async () => {
    const t = ((await getJson(`${swarming}/_double/tasks`)).tasks as Json[]).find((x) => x.id === "long-1");
    return t?.status === "completed" && t.exitCode === 0;
  });
  await eventually("the bot on v2", async () => (await status()).bot_version === v2.digest, 60_000);
}, 180_000);
