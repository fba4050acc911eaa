import { readFileSync } from "node:fs";
import * as z from "zod/mini";
import type { $ZodType } from "zod/v4/core";
import { ConfigError } from "../errors.js";
import { redactUrl } from "../redact-url.js";
import { type ConfigOf, envName, flagName, type SettingKind, type SettingSpec, type SettingSpecs } from "./settings.js";
import "./zod-messages.js";

/** Where the raw value of a setting came from; named in error messages. */
type Source = "flag" | "env" | "file";

export interface LoadInput {
  /** Flag values as parsed by the CLI, keyed by setting key. Strings, booleans or string arrays. */
  readonly flags: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Path of an optional YAML file whose top-level keys are setting keys. */
  readonly configFile?: string | undefined;
  /** Parses the config file; required with `configFile` (`await yamlParser()`). */
  readonly parseYaml?: (text: string) => unknown;
}

type YamlParse = (text: string) => unknown;

/**
 * The YAML parser a config file needs, loaded on first use, so a process
 * given no config file does not carry yaml (about 0.5 MB of heap and source).
 * The chart's pods do pass --config, so there it is loaded.
 */
export async function yamlParser(): Promise<YamlParse> {
  const yaml = (await import("yaml")) as { parse?: YamlParse; default?: { parse?: YamlParse } };
  // In the esbuild bundle yaml is a CommonJS chunk whose namespace has only `default`.
  const parse = yaml.parse ?? yaml.default?.parse;
  if (!parse) throw new Error("the yaml module has no parse function");
  return parse;
}

/**
 * Loads settings with precedence flags > env > file > defaults and validates
 * them against their schemas. Throws one ConfigError that lists every wrong
 * setting by key, flag and environment variable.
 */
export function loadConfig<S extends SettingSpecs>(specs: S, input: LoadInput): ConfigOf<S> {
  const file = input.configFile ? readConfigFile(input.configFile, specs, input.parseYaml) : {};
  const raw: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  const problems: string[] = [];

  for (const [key, spec] of Object.entries(specs)) {
    const flagValue = input.flags[key];
    const envValue = input.env[envName(key, spec)];
    try {
      if (flagValue !== undefined) {
        raw[key] = fromCommandLine(spec.kind, flagValue);
        sources[key] = "flag";
      } else if (envValue !== undefined && envValue !== "") {
        raw[key] = fromEnv(spec.kind, envValue);
        sources[key] = "env";
      } else if (key in file) {
        raw[key] = file[key];
        sources[key] = "file";
      }
    } catch (err) {
      problems.push(describe(key, spec, (err as Error).message));
    }
  }

  const shape: Record<string, $ZodType> = {};
  for (const [key, spec] of Object.entries(specs)) shape[key] = spec.schema;
  const result = z.object(shape).safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0]);
      const spec = specs[key];
      const where = sources[key] ? ` (from ${sources[key]})` : "";
      const inner = issue.path.length > 1 ? ` at ${issue.path.slice(1).join(".")}` : "";
      problems.push(spec ? describe(key, spec, `${issue.message}${inner}${where}`) : `${key}: ${issue.message}`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
  return result.data as ConfigOf<S>;
}

function describe(key: string, spec: SettingSpec, message: string): string {
  return `${key} (--${flagName(key, spec)}, ${envName(key, spec)}): ${message}`;
}

function readConfigFile(
  path: string,
  specs: SettingSpecs,
  parseYaml: ((text: string) => unknown) | undefined,
): Record<string, unknown> {
  if (!parseYaml) throw new Error("loadConfig: a configFile needs parseYaml (await yamlParser())");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`config file ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must be a mapping of setting names to values`);
  }
  const unknown = Object.keys(parsed).filter((k) => !(k in specs));
  if (unknown.length > 0) {
    throw new ConfigError(
      `config file ${path} has unknown setting(s) ${unknown.join(", ")}; known settings: ${Object.keys(specs).join(", ")}`,
    );
  }
  return parsed as Record<string, unknown>;
}

function fromCommandLine(kind: SettingKind, value: unknown): unknown {
  if (kind === "list" || kind === "map") {
    const items = Array.isArray(value) ? value.map(String) : [String(value)];
    // Nested settings (e.g. --bot-settings) are given as one JSON flag, as in the environment.
    if (items.length === 1 && items[0]?.trim().startsWith(kind === "map" ? "{" : "[")) return parseJson(items[0]);
    return kind === "list" ? items.flatMap(splitList) : parsePairs(items);
  }
  if (typeof value === "boolean") return value;
  return fromEnv(kind, String(value));
}

function fromEnv(kind: SettingKind, value: string): unknown {
  switch (kind) {
    case "string":
      return value;
    case "number": {
      const n = Number(value);
      if (value.trim() === "" || Number.isNaN(n)) throw new Error(`expected a number, got "${value}"`);
      return n;
    }
    case "boolean": {
      const v = value.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
      throw new Error(`expected true or false, got "${value}"`);
    }
    case "list":
      return value.trim().startsWith("[") ? parseJson(value) : splitList(value);
    case "map":
      return value.trim().startsWith("{") ? parseJson(value) : parsePairs(splitList(value));
  }
}

function splitList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** "pool=Skia" pairs; a key given twice collects several values. */
function parsePairs(items: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new Error(`expected key=value, got "${item}"`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1);
    out[key] = [...(out[key] ?? []), value];
  }
  return out;
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`expected JSON: ${(err as Error).message}`);
  }
}

/** The configuration with every secret setting replaced and credentials cut out of URLs, for --print-config. */
export function redactConfig<S extends SettingSpecs>(specs: S, config: ConfigOf<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(specs)) {
    const value = (config as Record<string, unknown>)[key];
    if (specs[key]?.secret && value !== undefined && value !== "") out[key] = "<redacted>";
    else out[key] = typeof value === "string" ? redactUrl(value) : value;
  }
  return out;
}
