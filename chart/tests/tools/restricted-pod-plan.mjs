// Reads rendered chart manifests (stdin) and prints, for the first DaemonSet's pod,
// what restricted-pod.sh needs to run its containers the way a kubelet would: one
// line per fact, fields separated by the unit separator \x1f (fields may be empty).
//   volume <name> <sizeLimit>            an emptyDir of the pod
//   container <name> <uid> <gid> <fsGroup> <restricted|root>
//                                        restricted: runAsNonRoot, runAsUser, readOnlyRootFilesystem;
//                                        root: anything else (privileged), run as root
//   skip <name>                          a container with its own command (usbmuxd): not run
//   mount <container> <volume> <path>    an emptyDir mount, outer paths first
//   dir <container> <path>               the mount point of any other volume (read-only)
//   file <container> <path> <base64>     a file of a mounted ConfigMap that is rendered
//   env <container> <name> <value>       $(NODE_NAME) expanded to the node name
//   arg <container> <arg>                 after the image's entrypoint (`rpi-swarming`)
// Usage: node restricted-pod-plan.mjs NODE_NAME < rendered.yaml
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const nodeName = process.argv[2] ?? "pi1";
const docs = parseAllDocuments(readFileSync(0, "utf8")).map((d) => d.toJS());
const ds = docs.find((d) => d?.kind === "DaemonSet");
if (!ds) {
  console.error("no DaemonSet in the input");
  process.exit(1);
}
const configMaps = new Map(docs.filter((d) => d?.kind === "ConfigMap").map((d) => [d.metadata.name, d.data ?? {}]));
const pod = ds.spec.template.spec;
const out = [];
const line = (...fields) => out.push(fields.map(String).join("\x1f"));

const emptyDirs = new Map();
for (const v of pod.volumes ?? []) {
  if (!v.emptyDir) continue;
  emptyDirs.set(v.name, v);
  line("volume", v.name, v.emptyDir.sizeLimit ?? "");
}
const fsGroup = pod.securityContext?.fsGroup ?? "";
let restricted = 0;
for (const c of pod.containers) {
  const sc = c.securityContext ?? {};
  if (c.command) {
    line("skip", c.name);
    continue;
  }
  if (sc.runAsNonRoot && sc.readOnlyRootFilesystem && sc.runAsUser) {
    restricted++;
    line("container", c.name, sc.runAsUser, sc.runAsGroup ?? sc.runAsUser, fsGroup, "restricted");
  } else {
    line("container", c.name, 0, 0, "", "root");
  }
  const mounts = [...(c.volumeMounts ?? [])].sort((a, b) => a.mountPath.length - b.mountPath.length);
  for (const m of mounts) {
    if (emptyDirs.has(m.name)) line("mount", c.name, m.name, m.mountPath);
    else line("dir", c.name, m.mountPath);
    const cm = (pod.volumes ?? []).find((v) => v.name === m.name)?.configMap;
    if (cm && configMaps.has(cm.name)) {
      for (const [key, text] of Object.entries(configMaps.get(cm.name))) {
        line("file", c.name, `${m.mountPath}/${key}`, Buffer.from(text).toString("base64"));
      }
    }
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) line("env", c.name, e.name, e.value.replaceAll("$(NODE_NAME)", nodeName));
  }
  for (const a of c.args ?? []) line("arg", c.name, a);
}
if (!restricted) {
  console.error(`${ds.metadata.name}: no restricted container (runAsNonRoot, runAsUser, readOnlyRootFilesystem)`);
  process.exit(1);
}
console.log(out.join("\n"));
