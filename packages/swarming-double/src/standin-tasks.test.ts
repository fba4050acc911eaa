import { access, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { procInfo, sessionProcesses } from "./__fixtures__/bots.js";
import { BOT, hookNames, polls, StandInTest } from "./__fixtures__/standin-setup.js";

const t = new StandInTest();
afterEach(() => t.cleanup());

async function waitForFile(path: string, timeoutMs = 20_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await access(path);
      return await readFile(path, "utf8");
    } catch {
      if (Date.now() > end) throw new Error(`timed out waiting for ${path}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A task that writes what it sees to `info`, then waits until `go` exists. */
function waitingTask(info: string, go: string): string[] {
  const code = [
    "import json, os, time",
    `info = ${JSON.stringify(info)}`,
    "keys = ['SWARMING_BOT_ID', 'SWARMING_HEADLESS', 'SWARMING_SERVER', 'SWARMING_TASK_ID', 'FROM_MANIFEST']",
    "json.dump({'pid': os.getpid(), 'cwd': os.getcwd(), 'env': {k: os.environ.get(k) for k in keys}}, open(info + '.tmp', 'w'))",
    "os.rename(info + '.tmp', info)",
    "print('started', flush=True)",
    `while not os.path.exists(${JSON.stringify(go)}): time.sleep(0.05)`,
    "print('done')",
  ].join("\n");
  return ["python3", "-c", code];
}

describe("stand-in bot tasks", () => {
  it("bot -> task_runner -> run_isolated -> command, each in a group of its own, one session; SIGTERM to the bot's group lets the task finish", async () => {
    const { double, harness } = await t.setup();
    const bot = harness.start({ detached: true });
    const botPid = bot.proc.pid ?? 0;
    await double.waitFor((d) => polls(d, 1));
    const info = join(harness.root, "task-info.json");
    const go = join(harness.root, "go");
    double.enqueue({ cmd: "run", taskId: "layout", command: waitingTask(info, go), env: { FROM_MANIFEST: "yes" } });
    const seen = JSON.parse(await waitForFile(info)) as { pid: number; cwd: string; env: Record<string, string> };
    expect(seen.env).toEqual({
      SWARMING_BOT_ID: BOT,
      SWARMING_HEADLESS: "1",
      SWARMING_SERVER: double.url,
      SWARMING_TASK_ID: "layout",
      FROM_MANIFEST: "yes",
    });
    expect(seen.cwd).toBe(join(harness.dir, "w", "ir"));

    const command = await procInfo(seen.pid);
    const runIsolated = await procInfo(command?.ppid ?? 0);
    const taskRunner = await procInfo(runIsolated?.ppid ?? 0);
    const botInfo = await procInfo(botPid);
    expect(taskRunner?.ppid).toBe(botPid);
    expect(runIsolated?.cmdline.slice(1, 5)).toEqual([
      "-u",
      join(harness.dir, "swarming_bot.1.zip"),
      "run_isolated",
      "-a",
    ]);
    expect(taskRunner?.cmdline.slice(1, 3)).toEqual([join(harness.dir, "swarming_bot.1.zip"), "task_runner"]);
    for (const p of [botInfo, taskRunner, runIsolated, command]) {
      expect(p?.pgid).toBe(p?.pid); // setpgid(0, 0)
      expect(p?.sid).toBe(botPid); // all in the bot's session
    }

    // SIGTERM to the bot's process group reaches only the bot: it stops polling, the task runs on.
    const pollsAtSignal = double.bot(BOT)?.polls ?? 0;
    process.kill(-botPid, "SIGTERM");
    const botLog = join(harness.dir, "logs", "swarming_bot.log");
    for (let i = 0; i < 400 && !(await readFile(botLog, "utf8")).includes("got signal 15"); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await readFile(botLog, "utf8")).toContain("got signal 15");
    expect(await procInfo(seen.pid)).toBeDefined();
    expect(double.tasks().find((x) => x.id === "layout")?.status).toBe("running");
    expect(bot.proc.exitCode).toBeNull();

    await writeFile(go, "");
    const released = Date.now();
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - released).toBeLessThan(5000);
    expect(double.tasks().find((x) => x.id === "layout")).toMatchObject({
      status: "completed",
      exitCode: 0,
      output: "started\ndone\n",
    });
    expect(double.bot(BOT)?.polls).toBe(pollsAtSignal);
    expect(double.bot(BOT)?.events.map((e) => [e.event, e.message])).toEqual([["bot_shutdown", "Signal was received"]]);
    const calls = await harness.calls();
    const names = calls.map((c) => c[0]);
    const after = names.indexOf("on_after_task");
    // Arguments as the real bot passes them (seen with luci-py's bot against this double).
    expect(calls[after]).toEqual([
      "on_after_task",
      "False",
      "False",
      JSON.stringify({
        exit_code: 0,
        hard_timeout: false,
        internal_error: null,
        internal_error_reported: false,
        io_timeout: false,
        version: 3,
      }).replace(/[:,]/g, (c) => `${c} `),
    ]);
    expect(names.indexOf("on_before_task")).toBeLessThan(after);
    expect(names.slice(after + 1)).toEqual(["get_settings", "on_bot_shutdown"]); // run_isolated --clean, then exit
    expect(await sessionProcesses(botPid)).toEqual([]);
  });

  it("SIGTERM to every process of the session kills the task at once: task_error 'task_runner received signal 15'", async () => {
    const { double, harness } = await t.setup();
    const bot = harness.start({ detached: true });
    const botPid = bot.proc.pid ?? 0;
    await double.waitFor((d) => polls(d, 1));
    double.enqueue({
      cmd: "run",
      taskId: "cut",
      command: ["python3", "-c", "import time; print('started', flush=True); time.sleep(60)"],
      gracePeriodSeconds: 30,
    });
    await double.waitFor((d) => d.tasks().find((x) => x.id === "cut" && x.output.includes("started")), {
      what: "the task to start",
    });
    const session = await sessionProcesses(botPid);
    expect(session.map((p) => p.cmdline.find((a) => /task_runner|run_isolated|time\.sleep/.test(a)) ?? "bot")).toEqual(
      expect.arrayContaining(["bot", "task_runner", "run_isolated", expect.stringContaining("time.sleep(60)")]),
    );
    const sent = Date.now();
    for (const p of session) process.kill(p.pid, "SIGTERM");
    const task = await double.waitFor((d) => d.tasks().find((x) => x.id === "cut" && x.status === "error"), {
      what: "the task error",
    });
    expect(Date.now() - sent).toBeLessThan(10_000);
    expect(task.error).toBe("task_runner received signal 15");
    expect(task.exitCode).toBeUndefined();
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    const after = (await harness.calls()).find((c) => c[0] === "on_after_task");
    expect(after).toEqual([
      "on_after_task",
      "False",
      "True",
      JSON.stringify({
        exit_code: null,
        hard_timeout: false,
        internal_error: "task_runner received signal 15",
        internal_error_reported: true,
        io_timeout: false,
        version: 3,
      }).replace(/[:,]/g, (c) => `${c} `),
    ]);
    expect(double.bot(BOT)?.events.at(-1)).toMatchObject({ event: "bot_shutdown", message: "Signal was received" });
    expect(await sessionProcesses(botPid)).toEqual([]);
  });

  it("an idle bot exits 0 on SIGTERM to its group: bot_shutdown 'Signal was received', then on_bot_shutdown", async () => {
    const { double, harness } = await t.setup();
    const bot = harness.start({ detached: true });
    await double.waitFor((d) => polls(d, 2));
    const sent = Date.now();
    process.kill(-(bot.proc.pid ?? 0), "SIGTERM");
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - sent).toBeLessThan(3000);
    expect(double.bot(BOT)?.events.map((e) => [e.event, e.message])).toEqual([["bot_shutdown", "Signal was received"]]);
    expect((await hookNames(harness)).at(-1)).toBe("on_bot_shutdown");
  });

  it("a command that does not exist fails the task with exit code 1 (not an internal error); polling goes on", async () => {
    const { double, harness } = await t.setup();
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    double.enqueue({ cmd: "run", taskId: "no-such-binary", command: ["/nonexistent/tool"] });
    const task = await double.waitFor((d) =>
      d.tasks().find((x) => x.id === "no-such-binary" && x.status === "completed"),
    );
    expect(task.exitCode).toBe(1);
    expect(task.output).toMatch(/<The executable does not exist/);
    // The next poll comes after on_after_task.
    const n = double.bot(BOT)?.polls ?? 0;
    await double.waitFor((d) => polls(d, n + 1));
    const after = (await harness.calls()).find((c) => c[0] === "on_after_task");
    expect(after?.slice(0, 3)).toEqual(["on_after_task", "True", "False"]);
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("a task the server cancels gets SIGTERM; a hard timeout too", async () => {
    const { double, harness } = await t.setup();
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    double.enqueue({ cmd: "run", taskId: "long", command: ["python3", "-c", "import time; time.sleep(60)"] });
    await double.waitFor((d) => d.tasks().find((x) => x.id === "long" && x.status === "running"));
    double.cancelTask("long");
    const cancelled = await double.waitFor((d) => d.tasks().find((x) => x.id === "long" && x.status === "killed"), {
      what: "the cancelled task to end",
    });
    expect(cancelled.exitCode).toBe(-15);
    double.enqueue({
      cmd: "run",
      taskId: "slow",
      command: ["python3", "-c", "import time; time.sleep(60)"],
      hardTimeoutSeconds: 1,
    });
    const slow = await double.waitFor((d) => d.tasks().find((x) => x.id === "slow" && x.status === "completed"), {
      what: "the hard timeout",
    });
    expect(slow.exitCode).toBe(-15);
    expect(slow.durationSeconds).toBeLessThan(20);
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("task_runner reports with the bot's auth headers (handed over in w/bot_auth_params.json)", async () => {
    const { double, harness } = await t.setup({ token: "tok-1", control: { auth_token: "tok-1" } });
    const bot = harness.start();
    await double.waitFor((d) => polls(d, 1));
    double.enqueue({ cmd: "run", taskId: "authed", command: ["python3", "-c", "print('hi')"] });
    const task = await double.waitFor((d) => d.tasks().find((x) => x.id === "authed" && x.status === "completed"));
    expect(task).toMatchObject({ exitCode: 0, output: "hi\n" });
    // The next poll comes after the last task_update got its answer.
    const n = double.bot(BOT)?.polls ?? 0;
    await double.waitFor((d) => polls(d, n + 1));
    const updates = double.requests().filter((r) => r.path === "/swarming/api/v1/bot/task_update/authed");
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.every((r) => r.authorized && r.status === 200 && r.botId === BOT)).toBe(true);
    bot.proc.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });
});
