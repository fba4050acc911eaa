import { describe, expect, it } from "vitest";
import cases from "../../devices/src/__fixtures__/dimension-rules/cases.json" with { type: "json" };
import { dimensionProblems } from "./dimension-rules.js";

type Expectation = "valid" | "n/a" | { invalid: string | null };

/** The double plays the server: every rule, pool and id included (the shared cases' "server" column). */
describe("the double's dimension rules against the shared cases", () => {
  for (const c of cases.cases) {
    it(c.name, () => {
      const expected = c.server as Expectation;
      const problems = dimensionProblems(c.dimensions);
      if (expected === "valid") expect(problems).toEqual([]);
      else if (expected !== "n/a") {
        expect(problems).not.toEqual([]);
        if (expected.invalid !== null) expect(problems.join("\n")).toContain(`"${expected.invalid}"`);
      }
    });
  }
});
