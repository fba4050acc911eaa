// Writes the config files of every rendered `<name>-config` ConfigMap (stdin: chart
// manifests) to OUT_DIR/<configmap>/<file>, and prints one "<process> <path>" line each,
// so the real programs can load them (`rpi-swarming <process> --config <path> --print-config`).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

const outDir = process.argv[2];
for (const doc of parseAllDocuments(readFileSync(0, "utf8"))) {
  const obj = doc.toJS();
  if (obj?.kind !== "ConfigMap" || !obj.metadata.name.endsWith("-config")) continue;
  const dir = join(outDir, obj.metadata.name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(obj.data ?? {})) {
    writeFileSync(join(dir, file), text);
    console.log(`${file.replace(/\.yaml$/, "")} ${join(dir, file)}`);
  }
}
