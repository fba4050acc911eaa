// Specs are written with zod/mini (see docs/contributing.md): the pod's processes never load zod classic.
import type * as z from "zod/v4/core";

/** How a setting's value is written on the command line and in environment variables. */
export type SettingKind = "string" | "number" | "boolean" | "list" | "map";

export interface SettingSpec<S extends z.$ZodType = z.$ZodType> {
  /** The schema, with its default. */
  readonly schema: S;
  readonly kind: SettingKind;
  /** One line of help shown by --help. */
  readonly help: string;
  /** Environment variable; default RPI_SWARMING_<KEY_IN_SNAKE_CASE>. */
  readonly env?: string;
  /** Long flag without dashes; default the key in kebab-case. */
  readonly flag?: string;
  /** Printed as "<redacted>" by --print-config and never logged. */
  readonly secret?: boolean;
  /** How the configuration reference shows a default that depends on the machine (e.g. the host name). */
  readonly docDefault?: string;
  /** The configuration reference's meaning (Markdown) when it says more than the --help line. */
  readonly doc?: string;
}

export type SettingSpecs = Record<string, SettingSpec>;

/** The typed configuration described by a set of specs. */
export type ConfigOf<S extends SettingSpecs> = { [K in keyof S]: z.output<S[K]["schema"]> };

/** Declares one setting; keeps the schema's type for ConfigOf. */
export function setting<S extends z.$ZodType>(
  kind: SettingKind,
  schema: S,
  help: string,
  extra: Omit<SettingSpec<S>, "schema" | "kind" | "help"> = {},
): SettingSpec<S> {
  return { kind, schema, help, ...extra };
}

export function kebabCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function envName(key: string, spec: SettingSpec): string {
  return spec.env ?? `RPI_SWARMING_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export function flagName(key: string, spec: SettingSpec): string {
  return spec.flag ?? kebabCase(key);
}
