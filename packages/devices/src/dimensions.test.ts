import { describe, expect, it } from "vitest";
import { dimensionProblems, mergeDimensions, staticDimensionsSchema } from "./dimensions.js";

describe("dimensionProblems", () => {
  it("accepts dimensions that follow the server's rules", () => {
    expect(dimensionProblems({ pool: ["Skia"], "a.b-c_d": ["x"], _x: ["1"], id: ["bot-1"] })).toEqual([]);
  });

  it("names keys that break the pattern or the length", () => {
    const problems = dimensionProblems({ "1abc": ["x"], "a b": ["x"], ["k".repeat(65)]: ["x"] });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain('"1abc"');
    expect(problems[1]).toContain('"a b"');
    expect(problems[2]).toContain("longer than 64");
  });

  it("names empty, too long and padded values and an id with several values", () => {
    const problems = dimensionProblems({ a: [""], b: ["v".repeat(257)], c: [" x"], d: [], id: ["a", "b"] });
    expect(problems).toEqual([
      'dimension "a" has an empty value',
      'dimension "b" has a value longer than 256 characters',
      'dimension "c" value " x" has leading or trailing white space',
      'dimension "d" has no values',
      'dimension "id" must have exactly one value, has 2',
    ]);
  });

  it("allows a 64-character key and a 256-character value", () => {
    expect(dimensionProblems({ ["k".repeat(64)]: ["v".repeat(256)] })).toEqual([]);
  });
});

describe("staticDimensionsSchema", () => {
  it("rejects id and invalid dimensions with a message naming them", () => {
    const r = staticDimensionsSchema.safeParse({ id: ["x"], "bad key": ["y"] });
    expect(r.success).toBe(false);
    const messages = r.error?.issues.map((i) => i.message).join("\n");
    expect(messages).toContain("bot id");
    expect(messages).toContain('"bad key"');
  });

  it("defaults to no dimensions and removes repeated values", () => {
    expect(staticDimensionsSchema.parse(undefined)).toEqual({});
    expect(staticDimensionsSchema.parse({ pool: ["Skia", "Skia", "x"] })).toEqual({ pool: ["Skia", "x"] });
  });
});

describe("mergeDimensions", () => {
  it("lets static override the bot and the device override static; id is the bot id", () => {
    const { dimensions, dropped } = mergeDimensions(
      "rpi-1",
      { os: ["Linux", "Debian"], pool: ["default"], id: ["other"], cpu: ["arm"] },
      { pool: ["Skia"], os: ["ignored"] },
      { os: ["Android"], device_type: ["sargo"] },
    );
    expect(dimensions).toEqual({
      cpu: ["arm"],
      device_type: ["sargo"],
      id: ["rpi-1"],
      os: ["Android"],
      pool: ["Skia"],
    });
    expect(Object.keys(dimensions)).toEqual(["cpu", "device_type", "id", "os", "pool"]);
    expect(dropped).toEqual([]);
  });

  it("drops invalid keys and values so the reply is always acceptable, and says what it dropped", () => {
    const { dimensions, dropped } = mergeDimensions(
      "b",
      { "9x": ["1"], ok: ["", "fine", "fine"], empty: [" "] },
      {},
      { device_type: ["x".repeat(300)] },
    );
    expect(dimensions).toEqual({ id: ["b"], ok: ["fine"] });
    expect(dropped).toHaveLength(4);
    expect(dimensionProblems(dimensions)).toEqual([]);
  });
});
