/**
 * esbuild plugins that keep ICU out of the pod's processes. A process's first
 * Intl object loads ICU's locale data: about 8 MB more RSS under the image's
 * lean flags (docs/benchmarks.md, footprint), paid by the supervisor for two
 * dependencies that never needed it on its paths:
 * - node-cron formats every tick's local time with Intl.DateTimeFormat even
 *   when the job has no time zone: those formatters come from ./local-time.ts
 *   (Date's local getters); a job with a time zone keeps Intl.
 * - @sindresorhus/is (got's) makes two Intl.ListFormat at load for assertion
 *   messages: made on first use instead, so only an error message pays.
 * Each rewrite must match exactly: a changed dependency fails the bundle
 * with a message naming what to look at, instead of silently loading ICU.
 */
import { readFileSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "esbuild";

const LOCAL_TIME = join(fileURLToPath(new URL(".", import.meta.url)), "local-time.ts");

interface Rewrite {
  readonly find: RegExp;
  readonly replace: string;
}

/** Rewrites in a file of a package, each required to match exactly once. */
const REWRITES: readonly { readonly file: string; readonly prelude?: string; readonly rewrites: readonly Rewrite[] }[] =
  [
    {
      file: join("node-cron", "dist", "_shared.js"),
      prelude: `import { localPartsFormatter as __localParts, localOffsetFormatter as __localOffset } from ${JSON.stringify(LOCAL_TIME)};\n`,
      rewrites: [
        {
          find: /formatter = new Intl\.DateTimeFormat\('en-US', dftOptions\);/g,
          replace: "formatter = timezone ? new Intl.DateTimeFormat('en-US', dftOptions) : __localParts;",
        },
        {
          find: /formatter = new Intl\.DateTimeFormat\('en-US', \{\s*timeZone: timezone,\s*timeZoneName: 'shortOffset'\s*\}\);/g,
          replace:
            "formatter = timezone ? new Intl.DateTimeFormat('en-US', { timeZone: timezone, timeZoneName: 'shortOffset' }) : __localOffset;",
        },
      ],
    },
    {
      file: join("@sindresorhus", "is", "distribution", "index.js"),
      rewrites: ["and", "or"].map((word) => {
        const type = word === "and" ? "conjunction" : "disjunction";
        return {
          find: new RegExp(
            `const ${word}Formatter = new Intl\\.ListFormat\\('en', \\{ style: 'long', type: '${type}' \\}\\);`,
            "g",
          ),
          replace: `let ${word}Intl; const ${word}Formatter = { format: (list) => (${word}Intl ??= new Intl.ListFormat('en', { style: 'long', type: '${type}' })).format(list) };`,
        };
      }),
    },
  ];

/** Applies the rewrites to `text` of `file` (a path inside node_modules); throws when one does not match once. */
export function rewriteForNoIcu(file: string, text: string): string | undefined {
  const entry = REWRITES.find((r) => file.endsWith(`${sep}node_modules${sep}${r.file}`));
  if (!entry) return undefined;
  let out = text;
  for (const { find, replace } of entry.rewrites) {
    const matches = out.match(find)?.length ?? 0;
    if (matches !== 1) {
      throw new Error(
        `bundle: ${file} no longer holds ${find} once (found ${matches}); the dependency changed: update tools/bundle/no-icu.ts so it still makes no Intl object at load or per tick`,
      );
    }
    out = out.replace(find, replace);
  }
  return `${entry.prelude ?? ""}${out}`;
}

export function noIcu(): Plugin {
  return {
    name: "no-icu",
    setup(b) {
      b.onLoad({ filter: /[\\/]node_modules[\\/](node-cron|@sindresorhus[\\/]is)[\\/].*\.js$/ }, (args) => {
        const contents = rewriteForNoIcu(args.path, readFileSync(args.path, "utf8"));
        return contents === undefined ? undefined : { contents, loader: "js" };
      });
    },
  };
}
