/**
 * Our error classes take their `name` from the class (`new.target.name` in
 * core's RpiSwarmingError), and logs, metrics and HTTP replies carry that
 * name. The bundle keeps identifiers but not esbuild's keepNames (its
 * __name() wrapper costs memory on every request), so a class whose name
 * collides with another in the same chunk would be renamed (ConfigError2)
 * and would report that name. The bundle refuses such output.
 */
const SUBCLASS = /(?:\bclass\s+|\b)([A-Za-z_$][\w$]*?\d+)\s*(?:=\s*class)?\s+extends\s+RpiSwarmingError\d*\b/g;
const BASE = /\bRpiSwarmingError\d+\b/g;

/** Names of error classes in bundled code that esbuild renamed (sorted, each once). */
export function renamedErrorClasses(code: string): string[] {
  const found = new Set<string>();
  for (const m of code.matchAll(SUBCLASS)) found.add(m[1] as string);
  for (const m of code.matchAll(BASE)) found.add(m[0]);
  return [...found].sort();
}
