import { PassThrough } from "node:stream";
import { createLogger, loadConfig } from "@rpi-swarming/core";
import { afterEach, describe, expect, it } from "vitest";
import { createDriver } from "../drivers.js";
import { FAKE_ADB_PATH, FAKE_TOOLS_BIN_DIR } from "../exec/fake-tools.js";
import { IosDriver } from "../ios/ios-driver.js";
import { deviceSettings } from "../settings.js";
import type { DeviceDriver } from "../types.js";
import { AndroidDriver } from "./android-driver.js";

const log = createLogger({ name: "test", level: "fatal", stream: new PassThrough() });
const drivers: DeviceDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

describe("driver factory for real hardware", () => {
  it("builds the android driver from flags and ANDROID_SERIAL", async () => {
    const config = loadConfig(deviceSettings, {
      flags: { device: "android", adbPath: FAKE_ADB_PATH, commandTimeoutSeconds: "2" },
      env: { ANDROID_SERIAL: "8A2Y0B3C" },
    });
    const driver = await createDriver(config, { log });
    drivers.push(driver);
    expect(driver).toBeInstanceOf(AndroidDriver);
    expect(driver.kind).toBe("android");
    // FAKE_ADB_DIR is unset, so the fake adb fails: the driver reports it instead of throwing.
    const result = await driver.probe();
    expect(result.problem?.code).toBe("probe_failed");
    expect(result.problem?.message).toMatch(/FAKE_ADB_DIR must name/);
  });

  it("builds the ios driver with the tool directory setting", async () => {
    const config = loadConfig(deviceSettings, {
      flags: { device: "ios" },
      env: { RPI_SWARMING_LIBIMOBILEDEVICE_DIR: FAKE_TOOLS_BIN_DIR },
    });
    expect(config.libimobiledeviceDir).toBe(FAKE_TOOLS_BIN_DIR);
    const driver = await createDriver(config, { log });
    drivers.push(driver);
    expect(driver).toBeInstanceOf(IosDriver);
  });

  it("rejects an empty tool directory at start-up, naming the setting", () => {
    expect(() => loadConfig(deviceSettings, { flags: { device: "ios", libimobiledeviceDir: "" }, env: {} })).toThrow(
      /libimobiledeviceDir \(--libimobiledevice-dir, RPI_SWARMING_LIBIMOBILEDEVICE_DIR\)/,
    );
  });
});
