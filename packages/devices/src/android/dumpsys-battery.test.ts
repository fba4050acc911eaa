import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseDumpsysBattery } from "./dumpsys-battery.js";

const fixture = (path: string) => readFileSync(new URL(`../__fixtures__/android/${path}`, import.meta.url), "utf8");

describe("parseDumpsysBattery", () => {
  it("reads a Pixel 3a charging over USB", () => {
    expect(parseDumpsysBattery(fixture("pixel3a-sargo-q/battery.txt"))).toEqual({
      ratio: 0.94,
      temperatureCelsius: 28.1,
      health: "good",
      status: "charging",
      charging: true,
    });
  });

  it("reads a full battery as not charging", () => {
    expect(parseDumpsysBattery(fixture("pixel4-flame-r/battery.txt"))).toMatchObject({
      ratio: 1,
      status: "full",
      charging: false,
      temperatureCelsius: 30.2,
    });
  });

  it("ignores Samsung's extra lines", () => {
    expect(parseDumpsysBattery(fixture("samsung-s20-x1s/battery.txt"))).toEqual({
      ratio: 0.12,
      temperatureCelsius: 33.6,
      health: "good",
      status: "charging",
      charging: true,
    });
  });

  it("reads an overheating battery that is not charging despite USB power", () => {
    expect(parseDumpsysBattery(fixture("nexus5x-bullhead-o/battery.txt"))).toEqual({
      ratio: 0.45,
      temperatureCelsius: 41.2,
      health: "overheat",
      status: "not_charging",
      charging: false,
    });
  });

  it("leaves the ratio unknown without scale, or with scale 0", () => {
    const truncated = parseDumpsysBattery(fixture("broken/battery-truncated.txt"));
    expect(truncated).toEqual({ health: "good", status: "charging", charging: true });
    const zero = parseDumpsysBattery(fixture("broken/battery-zero-scale.txt"));
    expect(zero?.ratio).toBeUndefined();
    expect(zero?.temperatureCelsius).toBeUndefined();
    expect(zero?.charging).toBe(false);
  });

  it("names unknown codes 'unknown' and falls back to power sources for charging", () => {
    expect(parseDumpsysBattery("  status: 9\n  health: 42\n  AC powered: true\n  level: 5\n  scale: 10\n")).toEqual({
      ratio: 0.5,
      status: "unknown",
      health: "unknown",
      charging: true,
    });
  });

  it("is undefined when the service is missing or the output is garbage", () => {
    expect(parseDumpsysBattery(fixture("broken/battery-missing.txt"))).toBeUndefined();
    expect(parseDumpsysBattery("")).toBeUndefined();
    expect(parseDumpsysBattery("\u0000\u0001 ???")).toBeUndefined();
  });
});
