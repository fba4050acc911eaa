import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { androidDimensions } from "./android-dimensions.js";
import { parseGetprop } from "./getprop.js";

const dimsOf = (model: string) =>
  androidDimensions(
    parseGetprop(readFileSync(new URL(`../__fixtures__/android/${model}/getprop.txt`, import.meta.url), "utf8")),
  );

describe("androidDimensions", () => {
  it("Pixel 3a on Android 10 (docs/devices.md example)", () => {
    expect(dimsOf("pixel3a-sargo-q")).toEqual({
      android_devices: ["1"],
      os: ["Android"],
      device_type: ["sargo"],
      device_os: ["Q", "QQ2A.200305.002", "QQ2A.200305.002_6124905"],
      device_os_flavor: ["google"],
      device_os_type: ["user"],
    });
  });

  it("Pixel 4 on Android 11", () => {
    const dims = dimsOf("pixel4-flame-r");
    expect(dims.device_type).toEqual(["flame"]);
    expect(dims.device_os).toEqual(["R", "RPB2.200611.009", "RPB2.200611.009_6625208"]);
  });

  it("Samsung S20: board added to device_type", () => {
    expect(dimsOf("samsung-s20-x1s")).toEqual({
      android_devices: ["1"],
      os: ["Android"],
      device_type: ["x1s", "exynos990"],
      device_os: ["Q", "QP1A.190711.020", "QP1A.190711.020_G980FXXU1ATB3"],
      device_os_flavor: ["samsung"],
      device_os_type: ["user"],
    });
  });

  it("Huawei: device and build product differ, brand lower-cased", () => {
    const dims = dimsOf("huawei-p30-hwele");
    expect(dims.device_type).toEqual(["HWELE", "ELE"]);
    expect(dims.device_os_flavor).toEqual(["huawei"]);
    expect(dims.device_os).toEqual(["H", "HUAWEIELE-L29", "HUAWEIELE-L29_10.1.0.150C432E2R1P5"]);
  });

  it("hwasan build: android_hwasan_build, aosp system brand as android, userdebug", () => {
    const dims = dimsOf("pixel3-blueline-hwasan");
    expect(dims.android_hwasan_build).toEqual(["1"]);
    expect(dims.device_os_flavor).toEqual(["google", "android"]);
    expect(dims.device_os_type).toEqual(["userdebug"]);
    expect(dimsOf("pixel3a-sargo-q").android_hwasan_build).toBeUndefined();
  });

  it("no first-letter entry when the id does not start with an upper-case letter", () => {
    const dims = androidDimensions({ "ro.build.id": "eng.1234", "ro.build.version.incremental": "5" });
    expect(dims.device_os).toEqual(["eng.1234", "eng.1234_5"]);
    expect(androidDimensions({ "ro.build.id": "OPM7" }).device_os).toEqual(["O", "OPM7"]);
  });

  it("aosp brand alone reads android; empty values are left out, never empty lists", () => {
    const dims = androidDimensions({
      "ro.product.brand": "AOSP",
      "ro.product.device": "",
      "ro.build.product": "generic",
      "ro.product.board": " ",
    });
    expect(dims).toEqual({
      android_devices: ["1"],
      os: ["Android"],
      device_type: ["generic"],
      device_os_flavor: ["android"],
    });
    for (const values of Object.values(androidDimensions({}))) expect(values.length).toBeGreaterThan(0);
  });
});
