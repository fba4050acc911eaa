// Reads rendered chart manifests (stdin) and writes the PrometheusRule groups as a
// Prometheus rule file (stdout), for promtool check/test rules and Prometheus itself.
import { readFileSync } from "node:fs";
import { parseAllDocuments, stringify } from "yaml";

const groups = [];
for (const doc of parseAllDocuments(readFileSync(0, "utf8"))) {
  const obj = doc.toJS();
  if (obj?.kind === "PrometheusRule") groups.push(...(obj.spec?.groups ?? []));
}
if (groups.length === 0) {
  console.error("no PrometheusRule in the input (render with prometheusRule.enabled=true)");
  process.exit(1);
}
process.stdout.write(stringify({ groups }, { lineWidth: 0 }));
