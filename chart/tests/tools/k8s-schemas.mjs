// Makes standalone copies of kubernetes-validate's strict schemas for kubeconform:
// their `$ref`s point at /api/_definitions.json, which kubeconform cannot load, so
// each wanted schema gets the definitions it reaches inlined under `$defs`.
// Usage: node k8s-schemas.mjs SOURCE_DIR OUT_DIR FILE_NAME...   (e.g. daemonset-apps-v1.json)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [sourceDir, outDir, ...names] = process.argv.slice(2);
const defs = JSON.parse(readFileSync(join(sourceDir, "_definitions.json"), "utf8")).$defs;
const prefixes = ["/api/_definitions.json#/$defs/", "#/$defs/"];
mkdirSync(outDir, { recursive: true });

/** Rewrites refs to local ones and collects the definitions they name. */
function localise(node, wanted) {
  if (Array.isArray(node)) return node.map((n) => localise(n, wanted));
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    const prefix = k === "$ref" && typeof v === "string" && prefixes.find((p) => v.startsWith(p));
    if (prefix) {
      const name = v.slice(prefix.length);
      wanted.add(name);
      out[k] = `#/$defs/${name}`;
    } else {
      out[k] = localise(v, wanted);
    }
  }
  return out;
}

let missing = 0;
for (const name of names) {
  const src = join(sourceDir, name);
  if (!existsSync(src)) {
    console.error(`no schema ${name} in ${sourceDir}`);
    missing++;
    continue;
  }
  const wanted = new Set();
  const schema = localise(JSON.parse(readFileSync(src, "utf8")), wanted);
  const inlined = {};
  const queue = [...wanted];
  while (queue.length > 0) {
    const def = queue.shift();
    if (def in inlined) continue;
    const found = new Set();
    inlined[def] = localise(defs[def], found);
    for (const f of found) if (!(f in inlined)) queue.push(f);
  }
  schema.$defs = { ...(schema.$defs ?? {}), ...inlined };
  // The $id would make a validator resolve refs against kubernetes.io.
  delete schema.$id;
  writeFileSync(join(outDir, name), JSON.stringify(schema));
}
process.exit(missing > 0 ? 1 : 0);
