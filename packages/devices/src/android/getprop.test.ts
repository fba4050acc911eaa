import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseGetprop } from "./getprop.js";

const fixture = (path: string) => readFileSync(new URL(`../__fixtures__/android/${path}`, import.meta.url), "utf8");

describe("parseGetprop", () => {
  it("reads every property of a real-looking dump", () => {
    const props = parseGetprop(fixture("pixel3a-sargo-q/getprop.txt"));
    expect(props["ro.build.id"]).toBe("QQ2A.200305.002");
    expect(props["ro.product.model"]).toBe("Pixel 3a");
    expect(props["gsm.operator.alpha"]).toBe("");
    expect(Object.keys(props).length).toBeGreaterThan(50);
  });

  it("joins a value that spans several lines", () => {
    const props = parseGetprop(fixture("pixel3a-sargo-q/getprop.txt"));
    expect(props["persist.sys.boot.reason.history"]).toBe(
      "reboot,adb,1583920000\nreboot,shell,1583800000\nreboot,1583700000",
    );
    expect(props["persist.sys.timezone"]).toBe("Europe/Berlin");
  });

  it("keeps the complete lines of a truncated dump and drops the cut one", () => {
    const props = parseGetprop(fixture("broken/getprop-truncated.txt"));
    expect(props["ro.hardware"]).toBe("sargo");
    expect(Object.keys(props).some((k) => k.startsWith("ro.opengle"))).toBe(false);
    expect(props["ro.product.device"]).toBeUndefined();
  });

  it("drops a value cut off at the end instead of inventing one", () => {
    const props = parseGetprop(fixture("broken/getprop-cut-value.txt"));
    expect(props).toEqual({ "ro.build.id": "QQ2A.200305.002" });
  });

  it("does not let an unterminated value swallow the next property", () => {
    const props = parseGetprop("[a]: [one\n[b]: [two]\n");
    expect(props).toEqual({ b: "two" });
  });

  it("returns nothing for garbage and CRLF line ends are handled", () => {
    expect(parseGetprop(fixture("broken/getprop-garbage.txt"))).toEqual({});
    expect(parseGetprop("")).toEqual({});
    expect(parseGetprop("[ro.build.type]: [user]\r\n[x]: [a]b]\r\n")).toEqual({ "ro.build.type": "user", x: "a]b" });
  });
});
