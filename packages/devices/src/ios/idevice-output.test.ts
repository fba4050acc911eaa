import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { iosDimensions, parseIdeviceIdList, parseIdeviceinfo, parseIosBattery } from "./idevice-output.js";
import { problemFromIdeviceError } from "./ios-problems.js";

const fixture = (path: string) => readFileSync(new URL(`../__fixtures__/ios/${path}`, import.meta.url), "utf8");

describe("parseIdeviceIdList", () => {
  it("reads both UDID formats and skips anything else", () => {
    expect(parseIdeviceIdList(fixture("idevice-id-two.txt"))).toEqual([
      "00008030-001A2B3C4D5E802E",
      "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c",
    ]);
    expect(parseIdeviceIdList("")).toEqual([]);
    expect(parseIdeviceIdList("ERROR: Unable to retrieve device list!\n")).toEqual([]);
  });
});

describe("parseIdeviceinfo and iosDimensions", () => {
  it("iPhone 8 on iOS 13.3.1 (docs/devices.md example)", () => {
    const info = parseIdeviceinfo(fixture("iphone8-13/info.txt"));
    expect(info.ProductType).toBe("iPhone10,1");
    expect(info.DeviceName).toBe("lab-iphone-8");
    expect(iosDimensions(info)).toEqual({ os: ["iOS", "iOS-13.3.1"], device_type: ["iPhone10,1"] });
  });

  it("keeps top-level keys only, so nested members never shadow them", () => {
    const info = parseIdeviceinfo(fixture("iphone11-14/info.txt"));
    expect(info.SKeyStatus).toBeUndefined();
    expect(info.MCC).toBeUndefined();
    expect(info.CarrierBundleInfoArray).toBe("");
    expect(iosDimensions(info)).toEqual({ os: ["iOS", "iOS-14.2"], device_type: ["iPhone12,1"] });
  });

  it("an iPad", () => {
    expect(iosDimensions(parseIdeviceinfo(fixture("ipad-12/info.txt")))).toEqual({
      os: ["iOS", "iOS-12.4.8"],
      device_type: ["iPad7,5"],
    });
  });

  it("truncated or garbage output yields what is whole and no empty dimension", () => {
    const truncated = parseIdeviceinfo(fixture("broken/info-truncated.txt"));
    expect(truncated.ProductType).toBeUndefined();
    expect(truncated.ActivationState).toBe("Activated");
    expect(iosDimensions(truncated)).toEqual({ os: ["iOS"] });
    expect(iosDimensions(parseIdeviceinfo(fixture("broken/info-garbage.txt")))).toEqual({ os: ["iOS"] });
  });
});

describe("parseIosBattery", () => {
  it("reads charge and charging", () => {
    expect(parseIosBattery(fixture("iphone8-13/battery.txt"))).toEqual({
      ratio: 0.87,
      status: "charging",
      charging: true,
    });
    expect(parseIosBattery(fixture("iphone11-14/battery.txt"))).toEqual({
      ratio: 0.23,
      status: "not_charging",
      charging: false,
    });
    expect(parseIosBattery(fixture("ipad-12/battery.txt"))).toEqual({ ratio: 1, status: "full", charging: false });
    expect(parseIosBattery("BatteryCurrentCapacity: 40\nBatteryIsCharging: false\nExternalConnected: false\n")).toEqual(
      {
        ratio: 0.4,
        status: "discharging",
        charging: false,
      },
    );
  });

  it("is undefined for an empty domain", () => {
    expect(parseIosBattery(fixture("broken/battery-empty.txt"))).toBeUndefined();
    expect(parseIosBattery("ERROR: No device found!")).toBeUndefined();
  });
});

describe("problemFromIdeviceError", () => {
  it("classifies what libimobiledevice prints", () => {
    expect(problemFromIdeviceError("U1", "ideviceinfo", "ERROR: No device found!\n", 255).code).toBe("device_missing");
    expect(problemFromIdeviceError("U1", "ideviceinfo", "ERROR: Device U1 not found!\n", 255).code).toBe(
      "device_missing",
    );
    const pending = problemFromIdeviceError("U1", "ideviceinfo", fixture("broken/lockdown-pairing-pending.txt"), 255);
    expect(pending.code).toBe("unauthorized");
    expect(pending.message).toMatch(/Trust This Computer/);
    expect(problemFromIdeviceError("U1", "ideviceinfo", fixture("broken/lockdown-password.txt"), 255).code).toBe(
      "unauthorized",
    );
    expect(
      problemFromIdeviceError("U1", "idevice_id -l", "ERROR: Unable to retrieve device list!", 255).message,
    ).toMatch(/usbmuxd is not running/);
    expect(problemFromIdeviceError("U1", "ideviceinfo", "Segmentation fault", 139)).toEqual({
      code: "probe_failed",
      serial: "U1",
      message: "`ideviceinfo` failed (exit 139): Segmentation fault",
    });
  });
});
