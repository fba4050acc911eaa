/**
 * Renders the Helm chart with `helm template` and picks out what the
 * monitoring test needs: the PrometheusRule groups, the PodMonitor and the
 * pod templates it selects.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

export interface RenderOptions {
  root: string;
  release: string;
  namespace: string;
  /** Files passed as `-f`, in order. */
  valuesFiles: string[];
  /** `--set` pairs. */
  set?: string[];
}

/** The helm binary that ci/install-tools.sh builds, or a clear error. */
export function helmBinary(root: string): string {
  const helm = join(root, ".tools", "bin", "helm");
  if (!existsSync(helm)) {
    throw new Error(`${helm} is missing: run 'bash ci/install-tools.sh' (builds helm into .tools/bin)`);
  }
  return helm;
}

export function renderChart(options: RenderOptions): K8sObject[] {
  const args = [
    "template",
    options.release,
    join(options.root, "chart"),
    "--namespace",
    options.namespace,
    "--kube-version",
    "1.34.0",
    ...options.valuesFiles.flatMap((f) => ["-f", f]),
    ...(options.set ?? []).flatMap((s) => ["--set", s]),
  ];
  let out: string;
  try {
    out = execFileSync(helmBinary(options.root), args, { encoding: "utf8", stdio: "pipe", maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm ${args.join(" ")} failed: ${e.stderr || e.message}`);
  }
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(out)) {
    if (doc.errors.length > 0) throw new Error(`helm template output is not YAML: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value?.kind) objects.push(value);
  }
  return objects;
}

export function objectsOfKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: {
    alert?: string;
    record?: string;
    expr: string;
    for?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  }[];
}

/** All rule groups of all PrometheusRules in the render. */
export function ruleGroups(objects: K8sObject[]): RuleGroup[] {
  const rules = objectsOfKind(objects, "PrometheusRule");
  if (rules.length === 0) throw new Error("the chart rendered no PrometheusRule (is it enabled in the test values?)");
  return rules.flatMap((r) => (r.spec?.groups as RuleGroup[] | undefined) ?? []);
}
