// Every PromQL expression of a dashboard (.json) or rule file (.yaml) parses
// (lezer-promql, after substituting Grafana variables) and names only metrics
// that docs/metrics.md lists. Usage: node check-promql.mjs METRICS_MD FILE...
// Prints one line per problem; exits 1 when there is any.
import { readFileSync } from "node:fs";
import { parser } from "@prometheus-io/lezer-promql";
import { parse as parseYaml } from "yaml";

const [metricsDoc, ...files] = process.argv.slice(2);

/** Metric names from the doc's tables, plus families it names as `prefix_*`. */
function allowedMetrics(path) {
  const text = readFileSync(path, "utf8");
  const names = new Set(["up"]); // Prometheus's own per-target series
  for (const m of text.matchAll(/^\|\s*`([a-z_:][a-z0-9_:]*)`\s*\|\s*([a-z]+)/gm)) {
    names.add(m[1]);
    if (m[2] === "histogram" || m[2] === "summary") for (const s of ["_bucket", "_sum", "_count"]) names.add(m[1] + s);
  }
  const families = [...text.matchAll(/`([a-z][a-z0-9_]*_)\*`/g)].map((m) => m[1]);
  return { has: (n) => names.has(n) || families.some((f) => n.startsWith(f)), count: names.size, families };
}

/** Grafana variables replaced by values that keep the query valid PromQL. */
function substitute(expr) {
  return expr
    .replaceAll("$__rate_interval", "5m")
    .replaceAll("$__interval", "1m")
    .replaceAll("$__range", "1h")
    .replace(/\$\{(\w+)(:\w+)?\}/g, "x")
    .replace(/\$(\w+)/g, "x");
}

function check(expr, where, allowed, problems) {
  const q = substitute(expr);
  const tree = parser.parse(q);
  let ok = true;
  tree.iterate({
    enter(node) {
      if (node.type.isError) {
        problems.push(`${where}: PromQL does not parse at ${node.from}: ${q}`);
        ok = false;
        return false;
      }
      if (node.name === "VectorSelector") {
        const id = node.node.getChild("Identifier");
        const name = id ? q.slice(id.from, id.to) : undefined;
        if (name && !allowed.has(name)) problems.push(`${where}: metric ${name} is not in ${metricsDoc}`);
        // {__name__="..."} selectors
        for (const m of q.slice(node.from, node.to).matchAll(/__name__\s*=~?\s*"([^"]+)"/g)) {
          if (!allowed.has(m[1])) problems.push(`${where}: metric ${m[1]} is not in ${metricsDoc}`);
        }
      }
      return true;
    },
  });
  return ok;
}

/** Every query of a dashboard: panel targets (rows included) and query variables. */
function dashboardQueries(dash) {
  const out = [];
  const walk = (panels) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) out.push([`panel "${p.title}" ${t.refId}`, t.expr]);
      walk(p.panels);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    const m = /^label_values\((.+),\s*\w+\)$/.exec(q ?? "");
    if (m) out.push([`variable ${v.name}`, m[1]]);
    else if (q) out.push([`variable ${v.name}`, q]);
  }
  return out;
}

const allowed = allowedMetrics(metricsDoc);
const problems = [];
for (const file of files) {
  const text = readFileSync(file, "utf8");
  const queries = file.endsWith(".json")
    ? dashboardQueries(JSON.parse(text))
    : (parseYaml(text).groups ?? []).flatMap((g) =>
        g.rules.map((r) => [`rule ${r.alert ?? r.record}`, String(r.expr)]),
      );
  if (queries.length === 0) problems.push(`${file}: no PromQL found`);
  let parsed = 0;
  for (const [where, expr] of queries) if (check(expr, `${file}: ${where}`, allowed, problems)) parsed++;
  console.log(`${file}: ${parsed}/${queries.length} expressions parse`);
}
for (const p of problems) console.log(`  ${p}`);
process.exit(problems.length > 0 ? 1 : 0);
