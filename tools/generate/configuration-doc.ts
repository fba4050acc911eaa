// Writes the settings tables of docs/configuration.md (between the BEGIN/END
// markers) from the zod setting specs: key, flag, environment variable, default,
// help text and the limits the schema enforces.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { envName, flagName, type SettingSpec, type SettingSpecs } from "@rpi-swarming/core";
import { z } from "zod";
import { settingGroups } from "./catalog.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const docPath = "docs/configuration.md";
const begin =
  "<!-- BEGIN GENERATED settings tables: written by tools/generate/configuration-doc.ts (npm run generate) from the zod setting specs; do not edit by hand -->";
const end = "<!-- END GENERATED settings tables -->";

type Json = Record<string, unknown>;

const code = (s: string) => `\`${s.replaceAll("|", "\\|")}\``;
// Help texts are plain text: an asterisk of a glob must not start emphasis.
const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("*", "\\*").replaceAll("\n", " ");

function defaultText(spec: SettingSpec): string {
  if (spec.docDefault) return spec.docDefault;
  const parsed = z.safeParse(spec.schema, undefined);
  if (!parsed.success) return "required";
  const v = parsed.data;
  if (v === undefined) return "";
  if (typeof v === "string") return code(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return code(v.join(","));
  if (v !== null && typeof v === "object" && Object.keys(v).length === 0) return code("{}");
  return "see the limits";
}

/** The limits the JSON form of a schema states, in words. */
function limits(schema: Json): string[] {
  const out: string[] = [];
  const enumValues = schema.enum as unknown[] | undefined;
  if (enumValues) out.push(`one of ${enumValues.map((v) => code(String(v))).join(", ")}`);
  if (schema.type === "integer") out.push("an integer");
  const lower =
    schema.exclusiveMinimum !== undefined
      ? `above ${schema.exclusiveMinimum}`
      : schema.minimum !== undefined
        ? `at least ${schema.minimum}`
        : "";
  const upper = schema.maximum !== undefined ? `at most ${schema.maximum}` : "";
  if (schema.minimum !== undefined && schema.maximum !== undefined) out.push(`${schema.minimum} to ${schema.maximum}`);
  else if (lower || upper) out.push([lower, upper].filter(Boolean).join(", "));
  if (schema.format === "uri") out.push("a URL");
  if (typeof schema.maxLength === "number") out.push(`at most ${schema.maxLength} characters`);
  if (schema.type === "array") {
    if (typeof schema.minItems === "number" && schema.minItems > 0) out.push(`at least ${schema.minItems}`);
    const items = schema.items as Json | undefined;
    if (items?.maxLength !== undefined) out.push(`each at most ${items.maxLength} characters`);
  }
  if (schema.type === "object" && schema.additionalProperties === false) out.push("unknown keys are refused");
  return out;
}

function row(key: string, spec: SettingSpec): string {
  const flag = `--${flagName(key, spec)}`;
  const env = envName(key, spec);
  const where = [code(flag), code(env)].join(", ");
  const json = z.toJSONSchema(spec.schema, { target: "draft-7", io: "input" }) as Json;
  const rules = limits(json);
  const meaning =
    // doc is Markdown already; help is plain text.
    (spec.doc ? spec.doc.replaceAll("\n", " ") : cell(spec.help)) +
    (rules.length > 0 ? ` (${rules.join("; ")})` : "") +
    (spec.secret ? "; secret" : "");
  return `| ${code(key)} | ${where} | ${defaultText(spec)} | ${meaning} |`;
}

function table(specs: SettingSpecs): string {
  const lines = ["| setting | flag, environment variable | default | meaning |", "|---|---|---|---|"];
  for (const [key, spec] of Object.entries(specs)) lines.push(row(key, spec));
  return lines.join("\n");
}

/** The generated part: one table per group of settings. */
function generatedPart(): string {
  const parts: string[] = [];
  for (const group of settingGroups) {
    parts.push(group.heading);
    if (group.intro) parts.push(group.intro);
    if (Object.keys(group.specs).length > 0)
      parts.push(`${table(group.specs)}\n\nDeclared in ${group.source.replace(/(\S+\.ts)/g, "`$1`")}.`);
  }
  return parts.join("\n\n");
}

/** docs/configuration.md with its generated part rewritten. */
export function configurationDoc(): string {
  const text = readFileSync(join(root, docPath), "utf8");
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${docPath} lacks the markers of its generated part:\n${begin}\n${end}`);
  return `${text.slice(0, a + begin.length)}\n\n${generatedPart()}\n\n${text.slice(b)}`;
}
