import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseDumpsysBattery } from "./dumpsys-battery.js";
import { parseThermalservice } from "./dumpsys-thermalservice.js";
import { parseGetprop } from "./getprop.js";
import { buildProbeScript, splitProbeOutput } from "./probe-script.js";
import { parseProcUptime } from "./proc-uptime.js";

describe("probe script", () => {
  it("runs every command once between markers that carry the nonce", () => {
    const { command, nonce } = buildProbeScript("abc123");
    expect(nonce).toBe("abc123");
    expect(command).toBe(
      "echo @@rpi-swarming:abc123:getprop@@; getprop; echo @@rpi-swarming:abc123:battery@@; dumpsys battery; " +
        "echo @@rpi-swarming:abc123:thermal@@; dumpsys thermalservice; echo @@rpi-swarming:abc123:uptime@@; " +
        "cat /proc/uptime; echo @@rpi-swarming:abc123:end@@",
    );
    expect(buildProbeScript().nonce).not.toBe(buildProbeScript().nonce);
  });

  it("splits output into sections and sees the end", () => {
    const out = [
      "@@rpi-swarming:n1:getprop@@",
      "[a]: [1]",
      "@@rpi-swarming:n1:battery@@",
      "  level: 5",
      "@@rpi-swarming:n1:thermal@@",
      "@@rpi-swarming:n1:uptime@@",
      "1.0 2.0",
      "@@rpi-swarming:n1:end@@",
      "",
    ].join("\r\n");
    const split = splitProbeOutput(out.replace(/\r\n/g, "\n"), "n1");
    expect(split).toEqual({
      complete: true,
      sections: { getprop: "[a]: [1]", battery: "  level: 5", thermal: "", uptime: "1.0 2.0" },
    });
  });

  it("ignores markers of another nonce and reports cut-off output", () => {
    const out = "@@rpi-swarming:n1:getprop@@\n[a]: [1]\n@@rpi-swarming:zz:end@@\n@@rpi-swarming:n1:battery@@\n  lev";
    const split = splitProbeOutput(out, "n1");
    expect(split.complete).toBe(false);
    expect(split.sections.getprop).toBe("[a]: [1]\n@@rpi-swarming:zz:end@@");
    expect(split.sections.battery).toBe("  lev");
    expect(splitProbeOutput("garbage", "n1")).toEqual({ complete: false, sections: {} });
  });
});

describe("probe output with CRLF line ends (adb before shell protocol v2)", () => {
  it("parses every section as it would with LF", () => {
    const read = (f: string) =>
      readFileSync(new URL(`../__fixtures__/android/pixel3a-sargo-q/${f}`, import.meta.url), "utf8");
    const lf = [
      "@@rpi-swarming:n2:getprop@@",
      read("getprop.txt"),
      "@@rpi-swarming:n2:battery@@",
      read("battery.txt"),
      "@@rpi-swarming:n2:thermal@@",
      read("thermalservice.txt"),
      "@@rpi-swarming:n2:uptime@@",
      read("uptime.txt"),
      "@@rpi-swarming:n2:end@@",
    ].join("\n");
    const parse = (text: string) => {
      const { sections, complete } = splitProbeOutput(text, "n2");
      return {
        complete,
        props: parseGetprop(sections.getprop ?? ""),
        battery: parseDumpsysBattery(sections.battery ?? ""),
        thermal: parseThermalservice(sections.thermal ?? ""),
        uptime: parseProcUptime(sections.uptime ?? ""),
      };
    };
    const fromLf = parse(lf);
    expect(fromLf.complete).toBe(true);
    expect(fromLf.props["ro.product.device"]).toBe("sargo");
    expect(parse(lf.replace(/\n/g, "\r\n"))).toEqual(fromLf);
  });
});
