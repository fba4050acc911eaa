import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TimeoutError, ToolMissingError, UpstreamError } from "@rpi-swarming/core";
import { waitFor } from "@rpi-swarming/core/test-support";
import { afterEach, describe, expect, it } from "vitest";
import { CommandRunner } from "./command-runner.js";
import { isLiving, livingProcessesInGroup } from "./process-groups.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("CommandRunner", () => {
  it("returns stdout, stderr and the exit code, and counts spawns", async () => {
    const runner = new CommandRunner({ timeoutSeconds: 5 });
    const ok = await runner.run("sh", ["-c", "echo out; echo err >&2"]);
    expect(ok).toMatchObject({ stdout: "out\n", stderr: "err\n", exitCode: 0 });
    const failed = await runner.run("sh", ["-c", "echo nope >&2; exit 3"]);
    expect(failed).toMatchObject({ stderr: "nope\n", exitCode: 3 });
    expect(runner.spawns).toBe(2);
    expect(runner.runningGroups).toEqual([]);
  });

  it("passes extra environment", async () => {
    const runner = new CommandRunner({ timeoutSeconds: 5, env: { RPI_TEST_VALUE: "42" } });
    expect((await runner.run("sh", ["-c", "echo $RPI_TEST_VALUE"])).stdout).toBe("42\n");
  });

  it("maps a missing binary to ToolMissingError and still counts the attempt", async () => {
    const runner = new CommandRunner({ timeoutSeconds: 5 });
    const err = await runner.run("/nonexistent/adb", ["devices"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolMissingError);
    expect((err as ToolMissingError).tool).toBe("/nonexistent/adb");
    expect(runner.spawns).toBe(1);
  });

  it("kills the whole process group on timeout, children included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runner-"));
    dirs.push(dir);
    const pidFile = join(dir, "pids");
    const runner = new CommandRunner({ timeoutSeconds: 1.5 });
    const started = performance.now();
    // The shell and its two sleeping children share one group; a background child holds stdout open too.
    const script = `sleep 100 & a=$!; sleep 100 & echo "$$ $a $!" > ${pidFile}; wait`;
    const err = await runner.run("sh", ["-c", script]).catch((e: unknown) => e);
    const elapsed = (performance.now() - started) / 1000;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/did not finish within 1.5 s; its process group was killed/);
    expect(elapsed).toBeLessThan(5);
    const [shell = 0, ...children] = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    expect(children).toHaveLength(2);
    expect(livingProcessesInGroup(shell)).toEqual([]);
    for (const pid of [shell, ...children]) expect(livingProcessesInGroup(pid)).toEqual([]);
    expect(runner.runningGroups).toEqual([]);
  });

  it("killAll stops running commands; they fail with UpstreamError", async () => {
    const runner = new CommandRunner({ timeoutSeconds: 30 });
    const dir = mkdtempSync(join(tmpdir(), "runner-"));
    dirs.push(dir);
    const started = join(dir, "started");
    const pending = runner.run("sh", ["-c", `sleep 100 & echo $! > ${started}; wait`]).catch((e: unknown) => e);
    // Killed once the shell has started its child, so the whole group is at stake.
    const child = Number(await waitFor("the command's child", () => readFileSync(started, "utf8").trim()));
    const [group] = runner.runningGroups;
    expect(group).toBeGreaterThan(0);
    runner.killAll();
    const err = await pending;
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(/killed by SIGKILL/);
    expect(livingProcessesInGroup(group as number)).toEqual([]);
    expect(isLiving(child)).toBe(false);
  });

  it("refuses the output of a command that prints more than maxBufferBytes", async () => {
    const runner = new CommandRunner({ timeoutSeconds: 10, maxBufferBytes: 1000 });
    const err = await runner.run("sh", ["-c", "yes | head -c 100000"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(/printed more than 1000 bytes on one stream/);
    expect(runner.runningGroups).toEqual([]);
  });

  it("ends what a command leaves running in its group when it exits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runner-"));
    dirs.push(dir);
    const runner = new CommandRunner({ timeoutSeconds: 10 });
    const started = performance.now();
    const out = await runner.run("sh", ["-c", `sleep 100 & echo $! > ${join(dir, "pid")}; echo done`]);
    expect(out).toMatchObject({ stdout: "done\n", exitCode: 0 });
    expect(performance.now() - started).toBeLessThan(3000);
    const leftover = Number(readFileSync(join(dir, "pid"), "utf8"));
    await waitFor("the left-over sleep to end", () => !isLiving(leftover), 5000);
  });

  it("decodes UTF-8 that arrives split across reads", async () => {
    const runner = new CommandRunner({ timeoutSeconds: 5 });
    // "é" is two bytes; the pause makes the pipe deliver them in separate chunks.
    const out = await runner.run("sh", ["-c", "printf '\\303'; sleep 0.2; printf '\\251\\n'"]);
    expect(out.stdout).toBe("\u00e9\n");
  });

  it("maps a file that cannot be executed to UpstreamError naming the reason", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runner-"));
    dirs.push(dir);
    const notExecutable = join(dir, "adb");
    writeFileSync(notExecutable, "#!/bin/sh\n", { mode: 0o644 });
    const err = await new CommandRunner({ timeoutSeconds: 5 }).run(notExecutable, []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(/could not run \(EACCES\)/);
  });

  it("rejects a non-positive timeout", () => {
    expect(() => new CommandRunner({ timeoutSeconds: 0 })).toThrow(RangeError);
  });
});
