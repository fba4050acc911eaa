// Writes every generated file of the repository from its source, or with --check
// writes them into a temporary directory and fails when a committed one differs.
// Run: npm run generate (write) / npm run generate -- --check (CI, ci/suites/10-lint.sh).
//
//   chart/values.schema.json       values-schema.ts (stateServer/supervisor settings from the zod specs;
//                                  every other key, and the chart's own container keys, typed there by hand)
//   chart/templates/_settings.tpl  settings-tpl.ts
//   chart/dashboards/*.json        dashboards.mjs
//   chart/README.md (Parameters)   readme-generator from the @param comments of chart/values.yaml
//   docs/configuration.md (tables) configuration-doc.ts
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Writes every generated file under out (the repository's layout); returns their relative paths. */
async function generate(out: string): Promise<string[]> {
  // Imported here: a generator that refuses its sources throws while loading, and the caller reports it.
  const { configurationDoc, docPath } = await import("./configuration-doc.js");
  const { writeDashboards } = await import("./dashboards.mjs");
  const { settingsTemplate } = await import("./settings-tpl.js");
  const { valuesSchema } = await import("./values-schema.js");
  const written: string[] = [];
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(out, path)), { recursive: true });
    writeFileSync(join(out, path), text);
    written.push(path);
  };
  put("chart/values.schema.json", valuesSchema());
  put("chart/templates/_settings.tpl", settingsTemplate());
  put(docPath, configurationDoc());
  for (const file of writeDashboards(join(out, "chart/dashboards"))) written.push(relative(out, file));
  // readme-generator rewrites the Parameters section of a README in place.
  mkdirSync(join(out, "chart"), { recursive: true });
  if (out !== root) copyFileSync(join(root, "chart/README.md"), join(out, "chart/README.md"));
  execFileSync(
    join(root, "node_modules/.bin/readme-generator"),
    ["-v", join(root, "chart/values.yaml"), "-r", join(out, "chart/README.md")],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  written.push("chart/README.md");
  return written;
}

try {
  if (process.argv.includes("--check")) await check();
  else for (const path of await generate(root)) console.log(`wrote ${path}`);
} catch (err) {
  // A source that cannot be generated from (e.g. a values.yaml default that differs from the spec's).
  console.error(`npm run generate: ${(err as Error).message}`);
  process.exitCode = 1;
}

/** Generates into a temporary directory and reports every committed file that differs. */
async function check(): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), "rpi-swarming-generate-"));
  try {
    const stale = (await generate(out)).filter((path) => {
      let committed: string;
      try {
        committed = readFileSync(join(root, path), "utf8");
      } catch {
        return true;
      }
      return committed !== readFileSync(join(out, path), "utf8");
    });
    // A dashboard in chart/dashboards that no generator writes is stale too.
    for (const f of readdirSync(join(root, "chart/dashboards")))
      if (!readdirSync(join(out, "chart/dashboards")).includes(f)) stale.push(`chart/dashboards/${f}`);
    if (stale.length > 0) {
      for (const path of stale) {
        console.log(`stale: ${path}`);
        try {
          execFileSync("diff", ["-u", join(root, path), join(out, path)], { stdio: ["ignore", "inherit", "ignore"] });
        } catch {
          // diff exits 1 when the files differ; its output is the point.
        }
      }
      console.log("generated files are stale: run npm run generate and commit the result");
      process.exitCode = 1;
    } else {
      console.log("every generated file is current");
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
