import { describe, expect, it } from "vitest";
import cases from "./__fixtures__/dimension-rules/cases.json" with { type: "json" };
import { dimensionProblems, mergeDimensions } from "./dimensions.js";
import type { Dimensions } from "./types.js";

type Expectation = "valid" | "n/a" | { invalid: string | null };
type Merged = "n/a" | { dimensions: Dimensions; dropped: string[] };

/** The shared cases (also read by the double's test and by pytest for bot_config.py and the stand-in bot). */
describe("dimension rules against the shared cases", () => {
  for (const c of cases.cases) {
    const dims = c.dimensions as Dimensions;
    const config = c.config as Expectation;
    const merged = c.merged as Merged;
    if (config !== "n/a")
      it(`dimensionProblems: ${c.name}`, () => {
        const problems = dimensionProblems(dims);
        if (config === "valid") expect(problems).toEqual([]);
        else {
          expect(problems).not.toEqual([]);
          if (config.invalid !== null) expect(problems.join("\n")).toContain(`"${config.invalid}"`);
        }
      });
    if (merged !== "n/a")
      it(`mergeDimensions: ${c.name}`, () => {
        const out = mergeDimensions("bot-1", {}, {}, dims);
        expect(out.dimensions).toEqual(merged.dimensions);
        expect(out.dropped).toHaveLength(merged.dropped.length);
        merged.dropped.forEach((key, i) => {
          expect(out.dropped[i]).toContain(`"${key}"`);
        });
      });
  }
});
