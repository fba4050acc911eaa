import { describe, expect, it } from "vitest";
import { parseProcUptime } from "./proc-uptime.js";

describe("parseProcUptime", () => {
  it("takes the seconds since boot", () => {
    expect(parseProcUptime("12345.67 54321.00\n")).toBe(12345.67);
    expect(parseProcUptime("95 301")).toBe(95);
  });

  it("is undefined for missing or garbled output", () => {
    expect(parseProcUptime("")).toBeUndefined();
    expect(parseProcUptime("12345.6x\n")).toBeUndefined();
    expect(parseProcUptime("cat: /proc/uptime: Permission denied")).toBeUndefined();
  });
});
