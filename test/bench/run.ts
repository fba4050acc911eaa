/**
 * `npm run bench`: runs every test/bench/*.bench.ts in its own process (so RSS
 * figures are not polluted by other benchmarks), collects the results each one
 * prints as a `BENCH_RESULT <json>` line, and rewrites the generated part of
 * docs/benchmarks.md. Pass names to run only some: `npm run bench -- state-server`
 * (the sections of the others are kept).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchReport, parseBenchOutput } from "./report.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const reports: BenchReport[] = [];
let failed = 0;
for (const file of files) {
  process.stderr.write(`bench: ${file}\n`);
  try {
    const out = execFileSync(process.execPath, ["--conditions=source", "--import", "tsx", join(here, file)], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 64 * 1024 * 1024,
    });
    reports.push(...parseBenchOutput(out));
  } catch (err) {
    failed += 1;
    process.stderr.write(`bench: ${file} failed: ${(err as Error).message}\n`);
  }
}

function render(r: BenchReport): string {
  const out = [`### ${r.title}`, "", r.description, "", "| measure | value | target | verdict |", "|---|---|---|---|"];
  for (const row of r.rows) {
    const verdict = row.pass === undefined ? "" : row.pass ? "met" : "**missed**";
    out.push(`| ${row.name} | ${row.value} | ${row.target ?? ""} | ${verdict} |`);
  }
  return `${out.join("\n")}\n`;
}

/** The `### title` sections of the generated block, by title, in order. */
function sectionsOf(block: string): Map<string, string> {
  const sections = new Map<string, string>();
  for (const part of block.split(/^(?=### )/m)) {
    const title = /^### (.*)$/m.exec(part)?.[1];
    if (part.startsWith("### ") && title) sections.set(title, `${part.trimEnd()}\n`);
  }
  return sections;
}

const docPath = join(root, "docs", "benchmarks.md");
const begin = "<!-- bench:begin -->";
const end = "<!-- bench:end -->";
const doc = readFileSync(docPath, "utf8");
const start = doc.indexOf(begin);
const stop = doc.indexOf(end);
if (start < 0 || stop < 0) throw new Error(`${docPath} lacks the ${begin} / ${end} markers`);
// A partial run (names given) keeps the other benchmarks' sections; a full run rewrites them all.
const sections = only.length > 0 ? sectionsOf(doc.slice(start + begin.length, stop)) : new Map<string, string>();
for (const r of reports) sections.set(r.title, render(r));
const header = `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`;
const body = [header, "", ...sections.values()].join("\n");
writeFileSync(docPath, `${doc.slice(0, start + begin.length)}\n${body}\n${doc.slice(stop)}`);
process.stdout.write(`${reports.map(render).join("\n")}`);
process.exitCode = failed > 0 ? 1 : 0;
