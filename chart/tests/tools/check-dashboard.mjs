// Grafana dashboard rules: a datasource variable that every panel and query uses,
// a title, description and unit on every panel, $__rate_interval in every range
// function, unique panel ids. Usage: node check-dashboard.mjs FILE...
import { readFileSync } from "node:fs";

const problems = [];
const uids = new Set();
for (const file of process.argv.slice(2)) {
  const d = JSON.parse(readFileSync(file, "utf8"));
  const say = (msg) => problems.push(`${file}: ${msg}`);
  if (!d.uid || uids.has(d.uid)) say(`missing or repeated uid ${d.uid}`);
  uids.add(d.uid);
  if (!d.title || !d.description) say("dashboard needs a title and a description");
  const vars = d.templating?.list ?? [];
  const dsVar = vars.find((v) => v.type === "datasource" && v.query === "prometheus");
  if (!dsVar) say("no Prometheus datasource variable");
  const dsRef = `\${${dsVar?.name ?? "datasource"}}`;
  for (const v of vars)
    if (v.type === "query" && v.datasource?.uid !== dsRef) say(`variable ${v.name} does not use ${dsRef}`);
  const ids = new Set();
  const panels = [];
  const walk = (ps) => {
    for (const p of ps ?? []) {
      if (p.type !== "row") panels.push(p);
      walk(p.panels);
    }
  };
  walk(d.panels);
  if (panels.length === 0) say("no panels");
  for (const p of panels) {
    const name = `panel ${p.id} "${p.title ?? ""}"`;
    if (ids.has(p.id)) say(`${name}: repeated id`);
    ids.add(p.id);
    if (!p.title) say(`${name}: no title`);
    if (!p.description) say(`${name}: no description`);
    if (!p.fieldConfig?.defaults?.unit) say(`${name}: no unit`);
    if (p.datasource?.uid !== dsRef) say(`${name}: datasource is not ${dsRef}`);
    if (!p.gridPos) say(`${name}: no gridPos`);
    if (!p.targets?.length) say(`${name}: no queries`);
    for (const t of p.targets ?? []) {
      if (t.datasource?.uid !== dsRef) say(`${name} ${t.refId}: datasource is not ${dsRef}`);
      for (const m of (t.expr ?? "").matchAll(
        /\b(rate|irate|increase|delta|deriv|[a-z]+_over_time)\s*\([^[]*\[([^\]]+)\]/g,
      )) {
        if (m[2] !== "$__rate_interval")
          say(`${name} ${t.refId}: ${m[1]} over [${m[2]}] instead of [$__rate_interval]`);
      }
    }
  }
  console.log(`${file}: ${panels.length} panels`);
}
for (const p of problems) console.log(`  ${p}`);
process.exit(problems.length > 0 ? 1 : 0);
