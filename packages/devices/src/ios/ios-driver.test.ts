import { PassThrough } from "node:stream";
import { createLogger, NotFoundError, NotSupportedError, UpstreamError } from "@rpi-swarming/core";
import { afterEach, describe, expect, it } from "vitest";
import { FAKE_TOOLS_BIN_DIR, FakeIdeviceScenario } from "../exec/fake-tools.js";
import { livingProcessesInGroup } from "../exec/process-groups.js";
import { IosDriver, type IosDriverOptions } from "./ios-driver.js";

const IPHONE8 = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c";
const IPHONE11 = "00008030-001A2B3C4D5E802E";

const scenarios: FakeIdeviceScenario[] = [];
const drivers: IosDriver[] = [];

afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
  for (const s of scenarios.splice(0)) s.remove();
});

function setup(options: Partial<IosDriverOptions> = {}): { fake: FakeIdeviceScenario; driver: IosDriver } {
  const fake = new FakeIdeviceScenario();
  scenarios.push(fake);
  const driver = new IosDriver({
    toolDir: FAKE_TOOLS_BIN_DIR,
    commandTimeoutSeconds: 5,
    log: createLogger({ name: "test", level: "fatal", stream: new PassThrough() }),
    env: fake.env,
    ...options,
  });
  drivers.push(driver);
  return { fake, driver };
}

describe("IosDriver with the fake libimobiledevice tools", () => {
  it("reads a healthy iPhone 8 with three spawns", async () => {
    const { fake, driver } = setup();
    fake.devices([[IPHONE8, "iphone8-13"]]);
    const result = await driver.probe();
    expect(result.problem).toBeUndefined();
    expect(result.spawns).toBe(3);
    expect(fake.calls()).toEqual([
      "idevice_id -l",
      `ideviceinfo -u ${IPHONE8}`,
      `ideviceinfo -u ${IPHONE8} -q com.apple.mobile.battery`,
    ]);
    expect(result.device).toEqual({
      serial: IPHONE8,
      connection: "paired",
      dimensions: { os: ["iOS", "iOS-13.3.1"], device_type: ["iPhone10,1"] },
      battery: { ratio: 0.87, status: "charging", charging: true },
      temperaturesCelsius: {},
      extra: {
        device_name: "lab-iphone-8",
        device_class: "iPhone",
        product_version: "13.3.1",
        build_version: "17D50",
        hardware_model: "D20AP",
      },
    });
  });

  it("says usbmuxd is not running", async () => {
    const { fake, driver } = setup();
    fake.set("usbmuxd-down", "");
    const { problem, spawns } = await driver.probe();
    expect(problem?.code).toBe("probe_failed");
    expect(problem?.message).toMatch(/^usbmuxd is not running/);
    expect(spawns).toBe(1);
  });

  it("reports no device, several devices, and uses the configured UDID", async () => {
    const none = setup();
    expect((await none.driver.probe()).problem?.code).toBe("device_missing");

    const several = setup();
    several.fake.devices([
      [IPHONE8, "iphone8-13"],
      [IPHONE11, "iphone11-14"],
    ]);
    const { problem } = await several.driver.probe();
    expect(problem?.code).toBe("several_devices");
    expect(problem?.message).toContain(`${IPHONE8}, ${IPHONE11}`);

    const chosen = setup({ serial: IPHONE11 });
    chosen.fake.devices([
      [IPHONE8, "iphone8-13"],
      [IPHONE11, "iphone11-14"],
    ]);
    const { device } = await chosen.driver.probe();
    expect(device?.dimensions).toEqual({ os: ["iOS", "iOS-14.2"], device_type: ["iPhone12,1"] });
    expect(device?.battery).toEqual({ ratio: 0.23, status: "not_charging", charging: false });

    const absent = setup({ serial: IPHONE11 });
    absent.fake.devices([[IPHONE8, "iphone8-13"]]);
    expect((await absent.driver.probe()).problem).toMatchObject({ code: "device_missing", serial: IPHONE11 });
  });

  it("asks to trust the host when lockdownd refuses", async () => {
    const { fake, driver } = setup();
    fake.devices([[IPHONE8]]).customDevice(IPHONE8, "ios/iphone8-13", {
      "lockdown-error": "Pairing dialog response pending (-19)",
    });
    const { problem } = await driver.probe();
    expect(problem).toMatchObject({ code: "unauthorized", serial: IPHONE8 });
    expect(problem?.message).toMatch(/Pairing dialog response pending \(-19\).*Trust/);
  });

  it("rejects ideviceinfo output without ProductType", async () => {
    const { fake, driver } = setup();
    fake.devices([[IPHONE8]]).customDevice(IPHONE8, "ios/iphone8-13", { "info.txt": "ActivationState: Activated\n" });
    const { problem } = await driver.probe();
    expect(problem?.code).toBe("probe_failed");
    expect(problem?.message).toMatch(/without ProductType/);
  });

  it("keeps the device without battery reading when the battery domain is empty", async () => {
    const { fake, driver } = setup();
    fake.devices([[IPHONE8]]).customDevice(IPHONE8, "ios/iphone8-13", { "battery.txt": "" });
    const { device, problem } = await driver.probe();
    expect(problem).toBeUndefined();
    expect(device?.battery).toBeUndefined();
  });

  it("reports the tools missing", async () => {
    const { driver } = setup({ toolDir: "/nonexistent" });
    const { problem } = await driver.probe();
    expect(problem?.code).toBe("tool_missing");
    expect(problem?.message).toMatch(
      /\/nonexistent\/idevice_id was not found: install Debian's libimobiledevice-utils/,
    );
  });

  it("kills a hung ideviceinfo with its process group", async () => {
    const { fake, driver } = setup({ commandTimeoutSeconds: 1.5 });
    fake.devices([[IPHONE8, "iphone8-13"]]).set("hang", "ideviceinfo");
    const { problem } = await driver.probe();
    expect(problem).toMatchObject({ code: "probe_failed", timedOut: true, serial: IPHONE8 });
    expect(livingProcessesInGroup(fake.hangPids()[0] as number)).toEqual([]);
  });
});

describe("IosDriver recovery", () => {
  it("reboots with idevicediagnostics restart; the device leaves and comes back", async () => {
    const { fake, driver } = setup();
    fake.devices([[IPHONE8, "iphone8-13"]]).set("reboot-listings", "1");
    await driver.probe();
    await driver.recover("reboot");
    expect(fake.calls().at(-1)).toBe(`idevicediagnostics -u ${IPHONE8} restart`);
    expect((await driver.probe()).problem?.code).toBe("device_missing");
    expect((await driver.probe()).device?.serial).toBe(IPHONE8);
  });

  it("reconnect and restart_server do not apply", async () => {
    const { driver } = setup();
    await expect(driver.recover("reconnect")).rejects.toBeInstanceOf(NotSupportedError);
    await expect(driver.recover("restart_server")).rejects.toThrow(/does not apply to iOS devices/);
  });

  it("reboot without a device is NotFoundError; a failed restart quotes the tool", async () => {
    const { driver } = setup();
    await expect(driver.recover("reboot")).rejects.toBeInstanceOf(NotFoundError);
    const withSerial = setup({ serial: IPHONE11 });
    const err = await withSerial.driver.recover("reboot").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(/exited 1: No device found with udid 00008030-001A2B3C4D5E802E\./);
  });
});
