/**
 * The no-device paths against Debian's real adb (installed by
 * ci/install-tools.sh). A private adb server port keeps the tests off the
 * default 5037; the server they start is killed afterwards.
 */
import { execFileSync } from "node:child_process";
import { connect } from "node:net";
import { PassThrough } from "node:stream";
import { createLogger, UpstreamError } from "@rpi-swarming/core";
import { freePort, waitFor } from "@rpi-swarming/core/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandRunner } from "../exec/command-runner.js";
import { problemFromAdbError } from "./adb-problems.js";
import { AndroidDriver } from "./android-driver.js";

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

let env: Record<string, string>;
const log = createLogger({ name: "test", level: "fatal", stream: new PassThrough() });

beforeAll(async () => {
  try {
    execFileSync("adb", ["version"], { stdio: "ignore" });
  } catch {
    throw new Error("the real adb is needed for these tests: run bash ci/install-tools.sh (Debian package adb)");
  }
  env = { ANDROID_ADB_SERVER_PORT: String(await freePort()) };
});

afterAll(async () => {
  if (!env) return;
  execFileSync("adb", ["kill-server"], { env: { ...process.env, ...env }, stdio: "ignore" });
  // kill-server returns before the server has closed its socket.
  const port = Number(env.ANDROID_ADB_SERVER_PORT);
  await waitFor(`the private adb server on port ${port} gone`, async () => !(await portOpen(port)), 10_000);
});

describe("AndroidDriver with the real adb and no device", () => {
  it("reports device_missing from a real `adb devices -l` (starting a private server)", async () => {
    const driver = new AndroidDriver({ adbPath: "adb", commandTimeoutSeconds: 20, log, env });
    const result = await driver.probe();
    await driver.close();
    expect(result.device).toBeUndefined();
    expect(result.problem?.code).toBe("device_missing");
    expect(result.problem?.message).toMatch(/No Android device is attached/);
    expect(result.spawns).toBe(1);
    expect(await portOpen(Number(env.ANDROID_ADB_SERVER_PORT))).toBe(true);
  });

  it("names a configured serial that the real adb does not list", async () => {
    const driver = new AndroidDriver({ adbPath: "adb", serial: "ABC123", commandTimeoutSeconds: 20, log, env });
    const { problem } = await driver.probe();
    await driver.close();
    expect(problem).toMatchObject({ code: "device_missing", serial: "ABC123" });
    expect(problem?.message).toMatch(/ABC123 is not attached \(adb devices lists none\)/);
  });

  it("classifies the real `adb -s ABC123 shell true` failure as device_missing", async () => {
    const runner = new CommandRunner({ timeoutSeconds: 20, env });
    const out = await runner.run("adb", ["-s", "ABC123", "shell", "true"]);
    expect(out.exitCode).toBe(1);
    expect(out.stderr).toMatch(/error: device 'ABC123' not found/);
    const problem = problemFromAdbError("ABC123", "shell", `${out.stderr}\n${out.stdout}`, out.exitCode);
    expect(problem.code).toBe("device_missing");
    expect(problem.message).toBe(`Android device ABC123 disappeared: adb says "error: device 'ABC123' not found"`);
  });

  it("fails reboot and reconnect of an absent device with adb's own words", async () => {
    const driver = new AndroidDriver({ adbPath: "adb", serial: "ABC123", commandTimeoutSeconds: 20, log, env });
    const reboot = await driver.recover("reboot").catch((e: unknown) => e);
    expect(reboot).toBeInstanceOf(UpstreamError);
    expect((reboot as Error).message).toMatch(/`adb -s ABC123 reboot` exited 1: error: device 'ABC123' not found/);
    // Real adb reports this one on stdout with exit 0.
    const reconnect = await driver.recover("reconnect").catch((e: unknown) => e);
    expect(reconnect).toBeInstanceOf(UpstreamError);
    expect((reconnect as Error).message).toMatch(/`adb -s ABC123 reconnect` exited 0: device 'ABC123' not found/);
    await driver.close();
  });

  it("restarts the private adb server", async () => {
    const driver = new AndroidDriver({ adbPath: "adb", commandTimeoutSeconds: 20, log, env });
    await driver.recover("restart_server");
    await driver.close();
    expect(await portOpen(Number(env.ANDROID_ADB_SERVER_PORT))).toBe(true);
  });
});
