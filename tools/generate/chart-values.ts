// Which keys of chart/values.yaml's stateServer and supervisor sections are
// settings of the programs, their JSON Schema (from the zod specs) and the
// check that the chart's default means the same as the program's.
import { isDeepStrictEqual } from "node:util";
import type { SettingSpecs } from "@rpi-swarming/core";
import { z } from "zod";

export type JsonSchema = Record<string, unknown>;

/** Keys of a process section that are the chart's own (container plumbing), not settings of the program. */
export const chartOnlyKeys = [
  "settings",
  "extraArgs",
  "extraEnv",
  "resources",
  "securityContext",
  "livenessProbe",
  "readinessProbe",
  "startupProbe",
] as const;

/**
 * Where the chart allows less than the program: a port the chart also uses as a
 * containerPort or in a URL must not be 0 ("a free port"), and a cron refinement
 * has no JSON Schema form, so the schema gets a shape check instead.
 */
const chartNarrowing: Record<string, JsonSchema> = {
  hookPort: { minimum: 1 },
  metricsPort: { minimum: 1 },
  updateSchedule: { pattern: "^\\S+( \\S+){4,5}$" },
};

export interface NamedSetting {
  readonly key: string;
  /** The chart's default is null: the chart then leaves the key out and the program's own default applies. */
  readonly nullable: boolean;
  readonly schema: JsonSchema;
}

/**
 * The settings a values.yaml process section names, in its order. Throws when a key is
 * neither a setting nor one of chartOnlyKeys, or when its default differs from the spec's.
 */
export function namedSettings(section: string, values: Record<string, unknown>, specs: SettingSpecs): NamedSetting[] {
  const out: NamedSetting[] = [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if ((chartOnlyKeys as readonly string[]).includes(key)) continue;
    const spec = specs[key];
    if (!spec) {
      problems.push(
        `${section}.${key} is neither a setting of the program nor one of the chart's own keys (${chartOnlyKeys.join(", ")})`,
      );
      continue;
    }
    const programDefault = z.safeParse(spec.schema, undefined);
    const name = `${section}.${key}`;
    if (value === null) {
      if (!programDefault.success || programDefault.data !== undefined)
        problems.push(
          `${name} is null in values.yaml but the program's default is ${JSON.stringify(programDefault.data)}: write that default`,
        );
    } else {
      const chartValue = z.safeParse(spec.schema, value);
      if (!chartValue.success)
        problems.push(`${name}: values.yaml default ${JSON.stringify(value)} is refused by the program's spec`);
      else if (!programDefault.success || !isDeepStrictEqual(chartValue.data, programDefault.data))
        problems.push(
          `${name}: values.yaml default ${JSON.stringify(value)} differs from the program's default ${
            programDefault.success ? JSON.stringify(programDefault.data) : "(none: required)"
          }`,
        );
    }
    const schema = z.toJSONSchema(spec.schema, { target: "draft-7", io: "input" }) as JsonSchema;
    delete schema.$schema;
    Object.assign(schema, chartNarrowing[key] ?? {});
    if (value === null) {
      if (typeof schema.type === "string") schema.type = [schema.type, "null"];
      else throw new Error(`${name}: cannot make the schema of a setting without one type nullable`);
    }
    out.push({ key, nullable: value === null, schema: { description: spec.help, ...schema } });
  }
  if (problems.length > 0) throw new Error(`chart/values.yaml:\n  ${problems.join("\n  ")}`);
  return out;
}
