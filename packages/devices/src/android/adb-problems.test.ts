import { describe, expect, it } from "vitest";
import { problemForState, problemFromAdbError } from "./adb-problems.js";

describe("problemFromAdbError", () => {
  const classify = (output: string, exitCode = 1) => problemFromAdbError("S1", "shell", output, exitCode);

  it("reads adb's error texts", () => {
    expect(classify("error: device 'S1' not found\n").code).toBe("device_missing");
    expect(classify("error: no devices/emulators found\n").code).toBe("device_missing");
    expect(classify("error: device offline\n").code).toBe("offline");
    expect(
      classify("error: device unauthorized.\nThis adb server's $ADB_VENDOR_KEYS is not set\nTry 'adb kill-server'")
        .code,
    ).toBe("unauthorized");
    expect(
      classify("error: insufficient permissions for device: user in plugdev group; are your udev rules wrong?").code,
    ).toBe("no_permissions");
  });

  it("quotes the first line past adb's daemon chatter for anything else", () => {
    expect(
      classify("* daemon not running; starting now at tcp:5037\n* daemon started successfully\nerror: closed\n", 1),
    ).toEqual({ code: "probe_failed", serial: "S1", message: "`adb -s S1 shell` failed (exit 1): error: closed" });
    expect(classify("", 255).message).toBe("`adb -s S1 shell` failed (exit 255) without a message");
  });
});

describe("problemForState", () => {
  const entry = (state: string, detail?: string) => ({ serial: "S1", state, info: {}, ...(detail ? { detail } : {}) });

  it("has no problem for device and a code for every other state", () => {
    expect(problemForState(entry("device"))).toBeUndefined();
    expect(problemForState(entry("unauthorized"))?.code).toBe("unauthorized");
    expect(
      problemForState(entry("no permissions", "missing udev rules? user is in the plugdev group"))?.message,
    ).toMatch(/\(missing udev rules\? user is in the plugdev group\)/);
    expect(problemForState(entry("offline"))?.code).toBe("offline");
    expect(problemForState(entry("bootloader"))?.message).toMatch(/bootloader mode/);
    expect(problemForState(entry("authorizing"))?.message).toMatch(/still authorizing/);
    expect(problemForState(entry("weird"))).toEqual({
      code: "probe_failed",
      serial: "S1",
      message: 'adb reports Android device S1 in unexpected state "weird"',
    });
  });
});
