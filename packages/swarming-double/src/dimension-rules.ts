import type { Dimensions } from "./types.js";

const KEY = /^[a-zA-Z\-_.][0-9a-zA-Z\-_.]*$/;

/**
 * The Swarming server's dimension rules (see docs/swarming-bot.md). Returns
 * one message per broken rule; empty when the dimensions are valid.
 */
export function dimensionProblems(dims: unknown): string[] {
  if (dims === null || typeof dims !== "object" || Array.isArray(dims)) return ["dimensions must be an object"];
  const problems: string[] = [];
  for (const [key, values] of Object.entries(dims)) {
    if (!KEY.test(key) || key.length > 64) problems.push(`dimension key "${key}" is invalid`);
    if (!Array.isArray(values) || values.length === 0) {
      problems.push(`dimension "${key}" must be a non-empty list of strings`);
      continue;
    }
    for (const v of values) {
      if (typeof v !== "string" || v === "" || v.length > 256 || v.trim() !== v) {
        problems.push(`dimension "${key}" has an invalid value ${JSON.stringify(v)}`);
      }
    }
    if (new Set(values).size !== values.length) problems.push(`dimension "${key}" repeats a value`);
  }
  const id = (dims as Dimensions).id;
  if (!Array.isArray(id) || id.length !== 1) problems.push(`dimension "id" must have exactly one value`);
  if (!Array.isArray((dims as Dimensions).pool)) problems.push(`dimension "pool" is required`);
  return problems;
}
