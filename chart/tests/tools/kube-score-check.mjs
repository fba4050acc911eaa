// Fails on every kube-score finding of one rendered mode that the allow-list does not name.
// Usage: node kube-score-check.mjs ALLOW_LIST MODE KUBE_SCORE_JSON [USED_FILE]
//   KUBE_SCORE_JSON: the output of `kube-score score --output-format json`;
//   USED_FILE: the indexes of the allow-list entries that matched are appended to it,
//   so the suite can fail on entries that no mode needs any more.
// A finding is one comment of a check graded below OK (warnings count) of one object.
// An entry matches it by check id, object (`Kind/name`, `*` globs), container (glob;
// omitted for findings about the whole pod), summary (exact; one or a list) and, if
// given, modes (the chart/ci/<mode>-values.yaml names it applies to).
import { appendFileSync, readFileSync } from "node:fs";
import { parse } from "yaml";

const [allowFile, mode, scoreFile, usedFile] = process.argv.slice(2);
if (!scoreFile) {
  console.error("usage: node kube-score-check.mjs ALLOW_LIST MODE KUBE_SCORE_JSON [USED_FILE]");
  process.exit(2);
}

const entries = parse(readFileSync(allowFile, "utf8"));
const problems = [];
if (!Array.isArray(entries)) problems.push(`${allowFile}: a list of entries is expected`);
for (const [i, e] of (Array.isArray(entries) ? entries : []).entries()) {
  for (const key of ["check", "object", "reason"]) {
    if (typeof e?.[key] !== "string" || e[key].trim() === "") problems.push(`entry ${i}: ${key} is missing`);
  }
  const summaries = typeof e?.summary === "string" ? [e.summary] : e?.summary;
  if (!(Array.isArray(summaries) && summaries.length && summaries.every((x) => typeof x === "string" && x))) {
    problems.push(`entry ${i}: summary must be a kube-score summary or a list of them`);
  }
  if (e?.container !== undefined && typeof e.container !== "string")
    problems.push(`entry ${i}: container must be a string`);
  if (e?.modes !== undefined && !(Array.isArray(e.modes) && e.modes.every((m) => typeof m === "string"))) {
    problems.push(`entry ${i}: modes must be a list of names`);
  }
  const known = new Set(["check", "object", "container", "summary", "reason", "modes"]);
  for (const key of Object.keys(e ?? {})) if (!known.has(key)) problems.push(`entry ${i}: unknown key ${key}`);
}
if (problems.length) {
  console.log(problems.join("\n"));
  process.exit(1);
}

const glob = (pattern) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`);
const matches = (e, f) =>
  e.check === f.check &&
  glob(e.object).test(f.object) &&
  (e.container === undefined ? f.container === "" : f.container !== "" && glob(e.container).test(f.container)) &&
  [e.summary].flat().includes(f.summary) &&
  (e.modes === undefined || e.modes.includes(mode));

const findings = [];
for (const object of JSON.parse(readFileSync(scoreFile, "utf8"))) {
  const name = `${object.type_meta.kind}/${object.object_meta.name}`;
  for (const c of object.checks ?? []) {
    if (c.skipped || c.grade >= 10) continue;
    const comments = c.comments?.length ? c.comments : [{ path: "", summary: c.check.name }];
    for (const comment of comments) {
      findings.push({ check: c.check.id, object: name, container: comment.path ?? "", summary: comment.summary });
    }
  }
}

const used = new Set();
const refused = [];
for (const f of findings) {
  const i = entries.findIndex((e) => matches(e, f));
  const where = `${f.check} ${f.object}${f.container ? ` (${f.container})` : ""}: ${f.summary}`;
  if (i < 0) refused.push(where);
  else {
    used.add(i);
    console.log(`allowed ${where} -- ${entries[i].reason.split("\n")[0]}`);
  }
}
if (usedFile) appendFileSync(usedFile, [...used].map((i) => `${i}\n`).join(""));
if (refused.length) {
  console.log(`kube-score findings not in ${allowFile} (fix them, or add an entry with a reason):`);
  for (const r of refused) console.log(`  ${r}`);
  process.exit(1);
}
console.log(`${mode}: ${findings.length} findings, all allowed`);
