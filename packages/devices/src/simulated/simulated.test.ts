import { Writable } from "node:stream";
import { createLogger } from "@rpi-swarming/core";
import { afterEach, describe, expect, it } from "vitest";
import { androidDimensions } from "../android/android-dimensions.js";
import { parseDumpsysBattery } from "../android/dumpsys-battery.js";
import { parseThermalservice } from "../android/dumpsys-thermalservice.js";
import { parseGetprop } from "../android/getprop.js";
import { parseProcUptime } from "../android/proc-uptime.js";
import { SimulatedDriver } from "./driver.js";
import { simulatedOptionsSchema } from "./options.js";
import { SimulatedPhone } from "./phone.js";

const log = createLogger({
  level: "fatal",
  stream: new Writable({
    write(_c, _e, cb) {
      cb();
    },
  }),
});

function clock(start = 1_800_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const HOUR = 3_600_000;

describe("simulatedOptionsSchema", () => {
  it("has defaults and reads key=value flags (lists of strings)", () => {
    const o = simulatedOptionsSchema.parse({ batteryRatio: ["0.5"], charging: ["true"], serial: ["SIM9"] });
    expect(o.batteryRatio).toBe(0.5);
    expect(o.charging).toBe(true);
    expect(o.serial).toBe("SIM9");
    expect(simulatedOptionsSchema.parse(undefined).rebootSeconds).toBe(45);
  });

  it("rejects unknown keys and out-of-range values", () => {
    expect(simulatedOptionsSchema.safeParse({ batery: 1 }).success).toBe(false);
    expect(simulatedOptionsSchema.safeParse({ batteryRatio: 2 }).success).toBe(false);
    expect(simulatedOptionsSchema.safeParse({ batteryRatio: "x" }).success).toBe(false);
  });
});

describe("SimulatedPhone", () => {
  it("drains and charges at the configured rates, within 0 and 1", () => {
    const c = clock();
    const phone = new SimulatedPhone(simulatedOptionsSchema.parse({ batteryRatio: 0.5, drainPerHour: 0.1 }), c.now);
    c.advance(2 * HOUR);
    expect(phone.condition().batteryRatio).toBeCloseTo(0.3, 6);
    phone.apply({ charging: true });
    c.advance(HOUR);
    expect(phone.condition().batteryRatio).toBeCloseTo(0.8, 6);
    c.advance(10 * HOUR);
    expect(phone.condition().batteryRatio).toBe(1);
  });

  it("runs a charge cycle like a smart plug when chargeBelowRatio is set", () => {
    const c = clock();
    const phone = new SimulatedPhone(
      simulatedOptionsSchema.parse({
        batteryRatio: 0.31,
        drainPerHour: 0.1,
        chargeBelowRatio: 0.3,
        chargeUntilRatio: 0.9,
      }),
      c.now,
    );
    c.advance(HOUR / 5);
    expect(phone.condition().charging).toBe(true);
    c.advance(2 * HOUR);
    expect(phone.condition().charging).toBe(false);
  });

  it("is deterministic: two phones with the same clock agree", () => {
    const c = clock();
    const opts = simulatedOptionsSchema.parse({ timeScale: 60, temperatureSwingCelsius: 3 });
    const a = new SimulatedPhone(opts, c.now);
    const b = new SimulatedPhone(opts, c.now);
    c.advance(123_456);
    expect(a.condition()).toEqual(b.condition());
    expect(a.condition().cpuTemperatureCelsius).not.toBe(opts.cpuTemperatureCelsius);
  });

  it("vanishes for rebootSeconds on reboot, which clears offline and hung", () => {
    const c = clock();
    const phone = new SimulatedPhone(simulatedOptionsSchema.parse({ rebootSeconds: 30 }), c.now);
    c.advance(1000);
    phone.apply({ offline: true, hung: true, reboot: true });
    expect(phone.condition()).toMatchObject({
      rebooting: true,
      offline: false,
      hung: false,
      rebootRemainingSeconds: 30,
    });
    c.advance(30_000);
    expect(phone.condition()).toMatchObject({ rebooting: false, uptimeSeconds: 0, reboots: 1 });
  });

  it("prints its condition in the formats the android parsers read", () => {
    const c = clock();
    const phone = new SimulatedPhone(
      simulatedOptionsSchema.parse({ batteryRatio: 0.42, charging: true, temperatureSwingCelsius: 0, timeScale: 2 }),
      c.now,
    );
    c.advance(1000);
    phone.apply({ batteryTemperatureCelsius: 36.4, cpuTemperatureCelsius: 51.25 });
    const condition = phone.condition();
    const out = phone.probeOutput(condition);
    expect(parseGetprop(out.getprop)).toMatchObject({ "sys.boot_completed": "1", "ro.serialno": "SIMULATED0001" });
    expect(parseDumpsysBattery(out.battery)).toEqual({
      ratio: 0.42,
      temperatureCelsius: 36.4,
      health: "good",
      status: "charging",
      charging: true,
    });
    expect(parseThermalservice(out.thermal)).toEqual({ temperaturesCelsius: { cpu0: 51.25 }, serviceAvailable: true });
    expect(parseProcUptime(out.uptime)).toBe(condition.uptimeSeconds);
  });
});

describe("SimulatedDriver", () => {
  let driver: SimulatedDriver | undefined;
  afterEach(async () => {
    await driver?.close();
    driver = undefined;
  });

  it("probes a healthy phone, labelled simulated", async () => {
    driver = await SimulatedDriver.start({
      options: simulatedOptionsSchema.parse({ batteryRatio: 0.7, charging: true }),
      controlPort: null,
      commandTimeoutSeconds: 1,
      log,
    });
    const r = await driver.probe();
    expect(r).toMatchObject({ kind: "simulated", simulated: true, spawns: 0 });
    expect(r.problem).toBeUndefined();
    expect(r.device?.battery).toMatchObject({ ratio: 0.7, charging: true, status: "charging" });
    expect(Object.keys(r.device?.temperaturesCelsius ?? {})).toEqual(["cpu0"]);
    expect(r.device?.extra).toMatchObject({ simulated: true, model: "sargo (simulated)", thermal_service: true });
  });

  it("derives its dimensions through the android driver's getprop parser and rules", async () => {
    driver = await SimulatedDriver.start({
      options: simulatedOptionsSchema.parse({ brand: "aosp", buildId: "RPB2.200611.009", deviceType: "flame" }),
      controlPort: null,
      commandTimeoutSeconds: 1,
      log,
    });
    const dims = (await driver.probe()).device?.dimensions;
    expect(dims).toEqual({
      android_devices: ["1"],
      device_os: ["R", "RPB2.200611.009", "RPB2.200611.009_6124905"],
      device_os_flavor: ["android"],
      device_os_type: ["userdebug"],
      device_type: ["flame"],
      os: ["Android"],
    });
    expect(dims).toEqual(androidDimensions(parseGetprop(driver.phone.probeOutput().getprop)));
  });

  it("reports each injected fault as the android driver would, and recovers what recovery can cure", async () => {
    driver = await SimulatedDriver.start({
      options: simulatedOptionsSchema.parse({ rebootSeconds: 0 }),
      controlPort: null,
      commandTimeoutSeconds: 0.05,
      log,
    });
    driver.phone.apply({ unplugged: true });
    expect((await driver.probe()).problem).toMatchObject({ code: "device_missing" });
    await expect(driver.recover("reboot")).rejects.toThrow(/not attached/);
    driver.phone.apply({ unplugged: false, unauthorized: true });
    expect((await driver.probe()).problem?.message).toMatch(/unauthorized.*\[simulated\]/);
    driver.phone.apply({ unauthorized: false, offline: true });
    expect((await driver.probe()).problem?.code).toBe("offline");
    await driver.recover("reconnect");
    expect((await driver.probe()).problem).toBeUndefined();
    driver.phone.apply({ hung: true });
    const started = Date.now();
    const hung = await driver.probe();
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(hung.problem).toMatchObject({ code: "probe_failed", timedOut: true });
    await driver.recover("reboot");
    expect((await driver.probe()).problem).toBeUndefined();
  });

  it("changes and shows the condition through the loopback control interface", async () => {
    driver = await SimulatedDriver.start({
      options: simulatedOptionsSchema.parse({}),
      controlPort: 0,
      commandTimeoutSeconds: 1,
      log,
    });
    const url = driver.controlUrl as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/control$/);
    const set = await fetch(url, {
      method: "POST",
      body: JSON.stringify({ batteryRatio: 0.1, cpuTemperatureCelsius: 50 }),
    });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ simulated: true, batteryRatio: 0.1 });
    expect(((await (await fetch(url)).json()) as Record<string, unknown>).batteryRatio).toBe(0.1);
    const bad = await fetch(url, { method: "POST", body: JSON.stringify({ batteryRatio: "low", foo: 1 }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Record<string, unknown>).message).toMatch(/batteryRatio.*foo|foo.*batteryRatio/s);
    expect((await fetch(url, { method: "POST", body: "{" })).status).toBe(400);
    expect((await fetch(url.replace("/control", "/nope"))).status).toBe(404);
    expect((await fetch(url, { method: "DELETE" })).status).toBe(405);
    const probe = await driver.probe();
    expect(probe.device?.battery?.ratio).toBe(0.1);
  });

  it("ends a hung probe early when closed", async () => {
    driver = await SimulatedDriver.start({
      options: simulatedOptionsSchema.parse({}),
      controlPort: null,
      commandTimeoutSeconds: 60,
      log,
    });
    driver.phone.apply({ hung: true });
    const pending = driver.probe();
    await driver.close();
    expect((await pending).problem?.timedOut).toBe(true);
  });
});
