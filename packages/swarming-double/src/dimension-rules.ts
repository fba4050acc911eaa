import { dimensionKeyProblem, dimensionValueProblem } from "@rpi-swarming/core";
import type { Dimensions } from "./types.js";

/**
 * The Swarming server's dimension rules (see docs/swarming-bot.md). Returns
 * one message per broken rule; empty when the dimensions are valid. Repeated
 * values are not a rule of the server's and pass.
 */
export function dimensionProblems(dims: unknown): string[] {
  if (dims === null || typeof dims !== "object" || Array.isArray(dims)) return ["dimensions must be an object"];
  const problems: string[] = [];
  for (const [key, values] of Object.entries(dims)) {
    const keyProblem = dimensionKeyProblem(key);
    if (keyProblem) problems.push(keyProblem);
    if (!Array.isArray(values) || values.length === 0) {
      problems.push(`dimension "${key}" must be a non-empty list of strings`);
      continue;
    }
    for (const v of values) {
      const valueProblem =
        typeof v === "string" ? dimensionValueProblem(key, v) : `dimension "${key}" has a value that is not a string`;
      if (valueProblem) problems.push(`${valueProblem}: ${JSON.stringify(v)}`);
    }
  }
  const id = (dims as Dimensions).id;
  if (!Array.isArray(id) || id.length !== 1) problems.push(`dimension "id" must have exactly one value`);
  if (!Array.isArray((dims as Dimensions).pool)) problems.push(`dimension "pool" is required`);
  return problems;
}
