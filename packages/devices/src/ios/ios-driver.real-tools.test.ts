/**
 * The no-device paths against Debian's real libimobiledevice-utils (installed
 * by ci/install-tools.sh). USBMUXD_SOCKET_ADDRESS points libusbmuxd at a
 * socket that does not exist, so "usbmuxd not running" holds on any host.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { createLogger, UpstreamError } from "@rpi-swarming/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandRunner } from "../exec/command-runner.js";
import { IosDriver } from "./ios-driver.js";
import { problemFromIdeviceError } from "./ios-problems.js";

const log = createLogger({ name: "test", level: "fatal", stream: new PassThrough() });
let dir: string;
let env: Record<string, string>;

beforeAll(() => {
  for (const tool of ["idevice_id", "ideviceinfo", "idevicediagnostics"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      throw new Error(
        `the real ${tool} is needed: run bash ci/install-tools.sh (Debian package libimobiledevice-utils)`,
      );
    }
  }
  dir = mkdtempSync(join(tmpdir(), "no-usbmuxd-"));
  env = { USBMUXD_SOCKET_ADDRESS: `UNIX:${join(dir, "usbmuxd")}` };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("IosDriver with the real libimobiledevice tools and no usbmuxd", () => {
  it("says usbmuxd is not running when the real idevice_id -l fails", async () => {
    const driver = new IosDriver({ commandTimeoutSeconds: 10, log, env });
    const result = await driver.probe();
    await driver.close();
    expect(result.device).toBeUndefined();
    expect(result.problem?.code).toBe("probe_failed");
    expect(result.problem?.message).toMatch(/^usbmuxd is not running/);
    expect(result.spawns).toBe(1);
  });

  it("prints its errors where docs/devices.md says, and they classify as device_missing", async () => {
    const runner = new CommandRunner({ timeoutSeconds: 10, env });
    const list = await runner.run("idevice_id", ["-l"]);
    expect(list).toMatchObject({ exitCode: 255, stdout: "", stderr: "ERROR: Unable to retrieve device list!\n" });

    const any = await runner.run("ideviceinfo", []);
    expect(any).toMatchObject({ exitCode: 255, stdout: "ERROR: No device found!\n" });
    expect(problemFromIdeviceError("?", "ideviceinfo", any.stdout, any.exitCode).code).toBe("device_missing");

    const one = await runner.run("ideviceinfo", ["-u", "00008030-001A", "-k", "ProductType"]);
    expect(one).toMatchObject({ exitCode: 255, stdout: "ERROR: Device 00008030-001A not found!\n" });
    const problem = problemFromIdeviceError("00008030-001A", "ideviceinfo", one.stdout, one.exitCode);
    expect(problem).toMatchObject({ code: "device_missing", serial: "00008030-001A" });
  });

  it("fails a reboot with the real idevicediagnostics' words", async () => {
    const driver = new IosDriver({ serial: "00008030-001A", commandTimeoutSeconds: 10, log, env });
    const err = await driver.recover("reboot").catch((e: unknown) => e);
    await driver.close();
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(/exited 1: No device found with udid 00008030-001A\./);
  });
});
