import {
  DIMENSION_KEY_PATTERN,
  dimensionKeyProblem,
  dimensionValueProblem,
  MAX_DIMENSION_KEY_LENGTH,
  MAX_DIMENSION_VALUE_LENGTH,
} from "@rpi-swarming/core";
import * as z from "zod/mini";
import type { Dimensions } from "./types.js";

// The per-key and per-value rules live in core, shared with the Swarming double.
export {
  DIMENSION_KEY_PATTERN,
  dimensionKeyProblem,
  dimensionValueProblem,
  MAX_DIMENSION_KEY_LENGTH,
  MAX_DIMENSION_VALUE_LENGTH,
};

/** Every rule broken by a set of dimensions; empty when it is valid. */
export function dimensionProblems(dimensions: Dimensions): string[] {
  const problems: string[] = [];
  for (const [key, values] of Object.entries(dimensions)) {
    const keyProblem = dimensionKeyProblem(key);
    if (keyProblem) problems.push(keyProblem);
    if (values.length === 0) problems.push(`dimension "${key}" has no values`);
    for (const v of values) {
      const p = dimensionValueProblem(key, v);
      if (p) problems.push(p);
    }
  }
  const id = dimensions.id;
  if (id !== undefined && id.length !== 1)
    problems.push(`dimension "id" must have exactly one value, has ${id.length}`);
  return problems;
}

/**
 * Static dimensions from the configuration. They must obey the server's rules
 * and may not set `id` (that is the bot id), so a typo stops the state server
 * at start-up instead of quarantining the bot later.
 */
export const staticDimensionsSchema = z.pipe(
  z._default(z.record(z.string(), z.array(z.string())), {}).check(
    z.superRefine((dims, ctx) => {
      if ("id" in dims) ctx.addIssue({ code: "custom", message: 'dimension "id" is the bot id; set botId instead' });
      for (const p of dimensionProblems(dims)) ctx.addIssue({ code: "custom", message: p });
    }),
  ),
  // Duplicates from repeated flags collapse; order is kept.
  z.transform((dims: Record<string, string[]>) =>
    Object.fromEntries(Object.entries(dims).map(([k, v]) => [k, [...new Set(v)]])),
  ),
);

export interface MergedDimensions {
  readonly dimensions: Dimensions;
  /** Keys or values left out because they broke a rule; for logs. */
  readonly dropped: string[];
}

/** Keeps the valid keys and values of one source; a key with no valid value is dropped. */
function sanitize(source: Dimensions, dropped: string[]): Dimensions {
  const out: Dimensions = {};
  for (const [key, values] of Object.entries(source)) {
    const keyProblem = dimensionKeyProblem(key);
    if (keyProblem) {
      dropped.push(keyProblem);
      continue;
    }
    const kept: string[] = [];
    for (const v of values) {
      const p = dimensionValueProblem(key, v);
      if (p) dropped.push(p);
      else if (!kept.includes(v)) kept.push(v);
    }
    if (kept.length > 0) out[key] = kept;
    else if (values.length === 0) dropped.push(`dimension "${key}" has no values`);
  }
  return out;
}

/**
 * The dimensions a bot reports: its own, overridden key by key by the static
 * ones, overridden by the device's; `id` is always exactly the bot id. Values
 * breaking the server's rules are dropped (and named in `dropped`) so the
 * reply is always acceptable to the server.
 */
export function mergeDimensions(
  botId: string,
  bot: Dimensions,
  staticDims: Dimensions,
  device: Dimensions,
): MergedDimensions {
  const dropped: string[] = [];
  // Object.assign, not spreads: see buildState in the state server.
  const merged: Dimensions = Object.assign(
    {},
    sanitize(bot, dropped),
    sanitize(staticDims, dropped),
    sanitize(device, dropped),
  );
  merged.id = [botId];
  // Sorted keys make replies stable for people and for the server's history.
  const sorted: Dimensions = {};
  for (const key of Object.keys(merged).sort()) sorted[key] = merged[key] as string[];
  return { dimensions: sorted, dropped };
}
