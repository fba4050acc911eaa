import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { createLogger, NotFoundError, UpstreamError } from "@rpi-swarming/core";
import { waitFor } from "@rpi-swarming/core/test-support";
import { afterEach, describe, expect, it } from "vitest";
import { DEVICE_FIXTURES_DIR, FAKE_ADB_PATH, FakeAdbScenario } from "../exec/fake-tools.js";
import { livingProcessesInGroup } from "../exec/process-groups.js";
import { AndroidDriver, type AndroidDriverOptions } from "./android-driver.js";

const scenarios: FakeAdbScenario[] = [];
const drivers: AndroidDriver[] = [];

afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
  for (const s of scenarios.splice(0)) s.remove();
});

function setup(options: Partial<AndroidDriverOptions> = {}): { fake: FakeAdbScenario; driver: AndroidDriver } {
  const fake = new FakeAdbScenario();
  scenarios.push(fake);
  const driver = new AndroidDriver({
    adbPath: FAKE_ADB_PATH,
    commandTimeoutSeconds: 5,
    log: createLogger({ name: "test", level: "fatal", stream: new PassThrough() }),
    env: fake.env,
    reconnectSettleMs: 10,
    ...options,
  });
  drivers.push(driver);
  return { fake, driver };
}

describe("AndroidDriver with the fake adb", () => {
  it("reads a healthy Pixel 3a with exactly two adb invocations", async () => {
    const { fake, driver } = setup();
    fake.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    const result = await driver.probe();
    expect(result.problem).toBeUndefined();
    expect(result.kind).toBe("android");
    expect(result.spawns).toBe(2);
    expect(fake.calls()).toHaveLength(2);
    expect(fake.calls()[0]).toBe("devices -l");
    expect(fake.calls()[1]).toMatch(/^-s 8A2Y0B3C shell echo @@rpi-swarming:[0-9a-f]+:getprop@@; getprop; /);
    expect(result.device).toMatchObject({
      serial: "8A2Y0B3C",
      connection: "device",
      dimensions: {
        android_devices: ["1"],
        os: ["Android"],
        device_type: ["sargo"],
        device_os: ["Q", "QQ2A.200305.002", "QQ2A.200305.002_6124905"],
        device_os_flavor: ["google"],
        device_os_type: ["user"],
      },
      battery: { ratio: 0.94, temperatureCelsius: 28.1, health: "good", status: "charging", charging: true },
      uptimeSeconds: 12345.67,
      extra: { model: "Pixel 3a", sdk: "29", usb: "1-1.2", thermal_service: true },
    });
    expect(result.device?.temperaturesCelsius["cpu0-gold-usr"]).toBe(36.1);
    expect(result.device?.temperaturesCelsius["usbc-therm-adc"]).toBeUndefined();
    expect(result.durationSeconds).toBeGreaterThan(0);
  });

  it("reads an older Android without the thermal service from the battery alone", async () => {
    const { fake, driver } = setup();
    fake.devices([["00bd4a5c8d3f1e2a", "device", "nexus5x-bullhead-o"]]);
    const { device, problem } = await driver.probe();
    expect(problem).toBeUndefined();
    expect(device?.temperaturesCelsius).toEqual({});
    expect(device?.extra?.thermal_service).toBe(false);
    expect(device?.battery?.temperatureCelsius).toBe(41.2);
    expect(device?.dimensions.device_os).toEqual(["O", "OPM7.181205.001", "OPM7.181205.001_5080180"]);
  });

  it("reports no device attached with one spawn", async () => {
    const { driver } = setup();
    const result = await driver.probe();
    expect(result.device).toBeUndefined();
    expect(result.problem).toMatchObject({ code: "device_missing" });
    expect(result.problem?.message).toMatch(/No Android device is attached/);
    expect(result.spawns).toBe(1);
  });

  it("uses none of several devices without a serial and lists them", async () => {
    const { fake, driver } = setup();
    fake.devices([
      ["8A2Y0B3C", "device", "pixel3a-sargo-q"],
      ["R58N12ABCDE", "device", "samsung-s20-x1s"],
      ["9B021FFAZ004W1", "unauthorized"],
    ]);
    const result = await driver.probe();
    expect(result.device).toBeUndefined();
    expect(result.problem?.code).toBe("several_devices");
    expect(result.problem?.message).toBe(
      "3 Android devices are attached (8A2Y0B3C (device), R58N12ABCDE (device), 9B021FFAZ004W1 (unauthorized)) and no serial is set, so none is used: set --serial or ANDROID_SERIAL to the one this bot serves",
    );
    expect(fake.calls()).toEqual(["devices -l"]);
  });

  it("uses the configured serial among several", async () => {
    const { fake, driver } = setup({ serial: "R58N12ABCDE" });
    fake.devices([
      ["8A2Y0B3C", "device", "pixel3a-sargo-q"],
      ["R58N12ABCDE", "device", "samsung-s20-x1s"],
    ]);
    const { device, problem, spawns } = await driver.probe();
    expect(problem).toBeUndefined();
    expect(spawns).toBe(2);
    expect(device?.serial).toBe("R58N12ABCDE");
    expect(device?.dimensions.device_type).toEqual(["x1s", "exynos990"]);
    expect(device?.temperaturesCelsius.BIG).toBe(41.2);
  });

  it("names a configured serial that is not attached", async () => {
    const { fake, driver } = setup({ serial: "R58N12ABCDE" });
    fake.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    const { problem } = await driver.probe();
    expect(problem).toMatchObject({ code: "device_missing", serial: "R58N12ABCDE" });
    expect(problem?.message).toMatch(
      /^Android device R58N12ABCDE is not attached \(adb devices lists 8A2Y0B3C \(device\)\)/,
    );
  });

  it("says how to authorize an unauthorized device", async () => {
    const { fake, driver } = setup();
    fake.devices([["8A2Y0B3C", "unauthorized"]]);
    const { problem, spawns } = await driver.probe();
    expect(problem).toMatchObject({ code: "unauthorized", serial: "8A2Y0B3C" });
    expect(problem?.message).toMatch(/Allow USB debugging/);
    expect(problem?.message).toMatch(/~\/\.android\/adbkey/);
    expect(spawns).toBe(1);
  });

  it("gives the udev hint for no permissions", async () => {
    const { fake, driver } = setup();
    fake.devices([
      [
        "8A2Y0B3C",
        "no permissions (user in plugdev group; are your udev rules wrong?); see [http://developer.android.com/tools/device.html]",
      ],
    ]);
    const { problem } = await driver.probe();
    expect(problem?.code).toBe("no_permissions");
    expect(problem?.message).toMatch(/user in plugdev group; are your udev rules wrong\?/);
    expect(problem?.message).toMatch(/privileged|udev rules/);
  });

  it("tries adb reconnect offline once per probe when the device stays offline", async () => {
    const { fake, driver } = setup();
    fake.devices([["8A2Y0B3C", "offline", "pixel3a-sargo-q"]]);
    const result = await driver.probe();
    expect(result.problem?.code).toBe("offline");
    expect(result.problem?.message).toMatch(/did not revive it/);
    expect(fake.calls()).toEqual(["devices -l", "reconnect offline", "devices -l"]);
    expect(result.spawns).toBe(3);
    await driver.probe();
    expect(fake.calls().filter((c) => c === "reconnect offline")).toHaveLength(2);
  });

  it("reads the device when adb reconnect offline revives it, and says it was offline", async () => {
    const { fake, driver } = setup();
    fake.devices([["8A2Y0B3C", "offline", "pixel3a-sargo-q"]]).set("revive-on-reconnect", "");
    const result = await driver.probe();
    expect(result.device?.dimensions.device_type).toEqual(["sargo"]);
    expect(result.problem).toMatchObject({ code: "offline", serial: "8A2Y0B3C" });
    expect(result.problem?.message).toMatch(/revived it/);
    expect(result.spawns).toBe(4);
    const next = await driver.probe();
    expect(next.problem).toBeUndefined();
    expect(next.spawns).toBe(2);
  });

  it("reports recovery mode as offline with a reboot hint", async () => {
    const { fake, driver } = setup();
    fake.devices([["8A2Y0B3C", "recovery"]]);
    const { problem } = await driver.probe();
    expect(problem?.code).toBe("offline");
    expect(problem?.message).toMatch(/recovery mode.*adb -s 8A2Y0B3C reboot/);
  });

  it("reports adb missing", async () => {
    const { driver } = setup({ adbPath: "/nonexistent/bin/adb" });
    const { problem } = await driver.probe();
    expect(problem?.code).toBe("tool_missing");
    expect(problem?.message).toMatch(/adb was not found \(adbPath "\/nonexistent\/bin\/adb"\)/);
  });

  it("kills a hung adb shell with its whole process group at the timeout", async () => {
    const { fake, driver } = setup({ commandTimeoutSeconds: 1.5 });
    fake.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]).set("hang", "shell");
    const result = await driver.probe();
    expect(result.problem).toMatchObject({ code: "probe_failed", timedOut: true, serial: "8A2Y0B3C" });
    expect(result.problem?.message).toMatch(/did not finish within 1.5 s; its process group was killed/);
    expect(result.durationSeconds).toBeLessThan(5);
    const [shellPid, sleepPid] = fake.hangPids();
    expect(sleepPid).toBeGreaterThan(0);
    expect(livingProcessesInGroup(shellPid as number)).toEqual([]);
    // The device answers again once adb stops hanging.
    fake.set("hang", undefined);
    expect((await driver.probe()).device?.serial).toBe("8A2Y0B3C");
  });

  it("kills a hung adb devices too", async () => {
    const { fake, driver } = setup({ commandTimeoutSeconds: 1.5 });
    fake.set("hang", "devices");
    const result = await driver.probe();
    expect(result.problem).toMatchObject({ code: "probe_failed", timedOut: true });
    expect(result.problem?.message).toMatch(/^`.*adb devices -l` did not finish/);
    const [group] = fake.hangPids();
    expect(livingProcessesInGroup(group as number)).toEqual([]);
  });

  it("close() kills a probe in flight", async () => {
    const { fake, driver } = setup({ commandTimeoutSeconds: 60 });
    fake.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]).set("hang", "shell");
    const pending = driver.probe();
    await waitFor("adb shell to hang", () => fake.hangPids().length > 0, 5000);
    await driver.close();
    const result = await pending;
    expect(result.problem?.code).toBe("probe_failed");
    expect(livingProcessesInGroup(fake.hangPids()[0] as number)).toEqual([]);
  });

  it("rejects output cut short by a device that went away mid-probe", async () => {
    const { fake, driver } = setup();
    fake.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]).set("shell-bytes", "3000");
    const { problem, device } = await driver.probe();
    expect(device).toBeUndefined();
    expect(problem?.code).toBe("probe_failed");
    expect(problem?.message).toMatch(/cut its probe output short/);
  });

  it("rejects a device whose getprop prints garbage", async () => {
    const { fake, driver } = setup();
    fake.devices([["8A2Y0B3C", "device"]]).customDevice("8A2Y0B3C", "android/pixel3a-sargo-q", {
      "getprop.txt": "\u0000\u0001 not properties\n[broken\n",
    });
    const { problem } = await driver.probe();
    expect(problem?.code).toBe("probe_failed");
    expect(problem?.message).toMatch(/no system properties/);
  });

  it("reports a device that adb lists before it finished booting", async () => {
    const { fake, driver } = setup();
    const getprop = readFileSync(join(DEVICE_FIXTURES_DIR, "android/pixel3a-sargo-q/getprop.txt"), "utf8");
    fake.devices([["8A2Y0B3C", "device"]]).customDevice("8A2Y0B3C", "android/pixel3a-sargo-q", {
      "getprop.txt": getprop.replace("[sys.boot_completed]: [1]\n", "").replace("[dev.bootcomplete]: [1]\n", ""),
      "battery.txt": undefined,
    });
    const { problem, device } = await driver.probe();
    expect(device).toBeUndefined();
    expect(problem).toMatchObject({ code: "offline", serial: "8A2Y0B3C" });
    expect(problem?.message).toMatch(/still booting/);
  });

  it("shares one probe between concurrent callers", async () => {
    const { fake, driver } = setup();
    fake.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    const [a, b] = await Promise.all([driver.probe(), driver.probe()]);
    expect(a).toBe(b);
    expect(fake.calls()).toHaveLength(2);
  });
});

describe("AndroidDriver recovery with the fake adb", () => {
  it("reconnect uses adb -s SERIAL reconnect for a known device", async () => {
    const { fake, driver } = setup();
    fake.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    await driver.probe();
    await driver.recover("reconnect");
    expect(fake.calls().at(-1)).toBe("-s 8A2Y0B3C reconnect");
  });

  it("reconnect uses adb reconnect offline when no device is known", async () => {
    const { fake, driver } = setup();
    await driver.recover("reconnect");
    expect(fake.calls()).toEqual(["reconnect offline"]);
  });

  it("reconnect fails when adb says the device is not found (on stdout, exit 0)", async () => {
    const { fake, driver } = setup({ serial: "GONE1234" });
    fake.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    const err = await driver.recover("reconnect").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(
      /reconnect failed: `adb -s GONE1234 reconnect` exited 0: device 'GONE1234' not found/,
    );
  });

  it("restart_server kills and starts the adb server", async () => {
    const { fake, driver } = setup();
    await driver.recover("restart_server");
    expect(fake.calls()).toEqual(["kill-server", "start-server"]);
  });

  it("reboot takes the device away, and it comes back", async () => {
    const { fake, driver } = setup();
    fake.devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]).set("reboot-listings", "2");
    expect((await driver.probe()).device).toBeDefined();
    await driver.recover("reboot");
    expect(fake.calls().at(-1)).toBe("-s 8A2Y0B3C reboot");
    expect((await driver.probe()).problem?.code).toBe("device_missing");
    expect((await driver.probe()).problem?.code).toBe("device_missing");
    expect((await driver.probe()).device?.serial).toBe("8A2Y0B3C");
  });

  it("reboot without any known device is a NotFoundError", async () => {
    const { driver } = setup();
    await expect(driver.recover("reboot")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("a failing reboot is an UpstreamError quoting adb", async () => {
    const { fake, driver } = setup({ serial: "8A2Y0B3C" });
    fake.devices([["8A2Y0B3C", "unauthorized"]]);
    await expect(driver.recover("reboot")).rejects.toThrow(
      /reboot failed: `adb -s 8A2Y0B3C reboot` exited 1: error: device unauthorized\./,
    );
  });
});
