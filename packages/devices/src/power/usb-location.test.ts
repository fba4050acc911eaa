import { describe, expect, it } from "vitest";
import { hubPortOfUsbPath } from "./usb-location.js";

describe("hubPortOfUsbPath", () => {
  it.each([
    ["1-1.2", { location: "1-1", port: 2 }],
    ["1-1.1.3", { location: "1-1.1", port: 3 }],
    ["2-1.4", { location: "2-1", port: 4 }],
    ["1-2", { location: "1", port: 2 }],
    ["3-11", { location: "3", port: 11 }],
  ])("adb's usb:%s is hub %o", (path, expected) => {
    expect(hubPortOfUsbPath(path)).toEqual(expected);
  });

  it.each(["", "336592896X", "1", "1-", "1-1.", "a-1.2", "1-1.2:1.0"])("%s names no hub port", (path) => {
    expect(hubPortOfUsbPath(path)).toBeUndefined();
  });
});
