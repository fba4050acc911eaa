import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAdbDevices } from "./adb-devices.js";

const fixture = (path: string) => readFileSync(new URL(`../__fixtures__/android/${path}`, import.meta.url), "utf8");

describe("parseAdbDevices", () => {
  it("reads an empty list", () => {
    expect(parseAdbDevices(fixture("adb-devices/none.txt"))).toEqual({ devices: [], headerSeen: true });
  });

  it("reads one device in the -l format with its key:value facts", () => {
    const text = `List of devices attached\n${fixture("pixel3a-sargo-q/devices.txt")}\n`;
    expect(parseAdbDevices(text).devices).toEqual([
      {
        serial: "8A2Y0B3C",
        state: "device",
        info: { usb: "1-1.2", product: "sargo", model: "Pixel_3a", device: "sargo", transport_id: "3" },
      },
    ]);
  });

  it("reads several devices in several states", () => {
    const { devices } = parseAdbDevices(fixture("adb-devices/several.txt"));
    expect(devices.map((d) => [d.serial, d.state])).toEqual([
      ["8A2Y0B3C", "device"],
      ["R58N12ABCDE", "unauthorized"],
      ["9B021FFAZ004W1", "offline"],
    ]);
    expect(devices[1]?.info).toEqual({ usb: "1-1.4", transport_id: "6" });
  });

  it("reads 'no permissions' with its udev hint, with or without one", () => {
    const [entry] = parseAdbDevices(fixture("adb-devices/no-permissions.txt")).devices;
    expect(entry).toEqual({
      serial: "8A2Y0B3C",
      state: "no permissions",
      detail: "user in plugdev group; are your udev rules wrong?",
      info: { usb: "1-1.2", transport_id: "9" },
    });
    const [bare] = parseAdbDevices(fixture("adb-devices/no-permissions-bare.txt")).devices;
    expect(bare).toEqual({
      serial: "8A2Y0B3C",
      state: "no permissions",
      info: { usb: "1-1.2", transport_id: "9" },
    });
  });

  it("reads recovery, sideload and emulator entries", () => {
    const { devices } = parseAdbDevices(fixture("adb-devices/states.txt"));
    expect(devices.map((d) => d.state)).toEqual(["recovery", "sideload", "unauthorized", "device"]);
    expect(devices[3]?.serial).toBe("emulator-5554");
    expect(devices[3]?.info.usb).toBeUndefined();
  });

  it("reads the short tab-separated format and skips daemon start lines", () => {
    expect(parseAdbDevices(fixture("adb-devices/short-format.txt")).devices).toEqual([
      { serial: "8A2Y0B3C", state: "device", info: {} },
      { serial: "R58N12ABCDE", state: "offline", info: {} },
    ]);
    expect(parseAdbDevices(fixture("adb-devices/merged-daemon-start.txt")).devices).toHaveLength(1);
  });

  it("says when the output is not a device list", () => {
    expect(parseAdbDevices(fixture("adb-devices/garbage.txt"))).toEqual({ devices: [], headerSeen: false });
    expect(parseAdbDevices("")).toEqual({ devices: [], headerSeen: false });
  });
});
