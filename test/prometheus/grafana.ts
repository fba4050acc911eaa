/**
 * Grafana dashboard JSON as the chart ships it: panels (rows flattened), their
 * PromQL targets, and substitution of template variables with their default
 * values, resolved against Prometheus the way Grafana would.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { K8sObject } from "./chart.js";
import type { PromApi } from "./prom-api.js";

export interface DashboardTarget {
  refId?: string;
  expr?: string;
  hide?: boolean;
}

export interface DashboardPanel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
  fieldConfig?: { defaults?: { unit?: string } };
}

export interface TemplateVariable {
  type: string;
  name: string;
  query?: string | { query?: string };
  current?: { text?: string | string[]; value?: string | string[] };
  includeAll?: boolean;
  multi?: boolean;
  allValue?: string | null;
  options?: { value: string }[];
}

export interface Dashboard {
  file: string;
  title: string;
  uid?: string;
  panels: DashboardPanel[];
  templating?: { list?: TemplateVariable[] };
}

/** The dashboards as the chart ships them: JSON files inside its Grafana sidecar ConfigMaps. */
export function dashboardsFromConfigMaps(objects: K8sObject[], label = "grafana_dashboard"): Dashboard[] {
  const out: Dashboard[] = [];
  for (const cm of objects.filter((o) => o.kind === "ConfigMap" && o.metadata.labels?.[label] !== undefined)) {
    for (const [file, text] of Object.entries(cm.data ?? {})) {
      const raw = JSON.parse(text) as Omit<Dashboard, "file">;
      out.push({ ...raw, file, panels: raw.panels ?? [] });
    }
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

export function loadDashboards(dir: string): Dashboard[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();
  return files.map((f) => {
    const raw = JSON.parse(readFileSync(join(dir, f), "utf8")) as Omit<Dashboard, "file">;
    return { ...raw, file: f, panels: raw.panels ?? [] };
  });
}

/** Every panel, with the panels of collapsed rows included and row headers left out. */
export function flatPanels(dashboard: Dashboard): DashboardPanel[] {
  const out: DashboardPanel[] = [];
  const walk = (panels: DashboardPanel[]) => {
    for (const p of panels) {
      if (p.type === "row") walk(p.panels ?? []);
      else out.push(p);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** What a panel lacks of title, description, unit (only panels with queries need a unit). */
export function panelProblems(panel: DashboardPanel): string[] {
  const problems: string[] = [];
  if (!panel.title?.trim()) problems.push("no title");
  if (!panel.description?.trim()) problems.push("no description");
  const hasQueries = (panel.targets ?? []).some((t) => t.expr?.trim());
  if (hasQueries && !panel.fieldConfig?.defaults?.unit?.trim()) problems.push("no unit");
  if (!hasQueries && panel.type !== "text") problems.push("no PromQL query");
  return problems;
}

export function panelQueries(panel: DashboardPanel): { refId: string; expr: string }[] {
  return (panel.targets ?? [])
    .filter((t) => !t.hide && t.expr?.trim())
    .map((t, i) => ({ refId: t.refId ?? String(i), expr: t.expr as string }));
}

/** Grafana's built-in interval variables, fixed for the test. */
export interface BuiltinIntervals {
  rateInterval: string;
  interval: string;
  /** Seconds covered by the dashboard's time range. */
  rangeSeconds: number;
}

function escapeRegex(v: string): string {
  return v.replace(/[\\^$*+?.()|{}[\]]/g, "\\$&");
}

function variableQuery(v: TemplateVariable): string {
  return (typeof v.query === "string" ? v.query : v.query?.query) ?? "";
}

function asArray(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Replaces `$name`, `${name}`, `${name:fmt}` and `[[name]]` for the given values. */
export function substitute(expr: string, values: Map<string, string>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a, b, c) => {
    const name = (a ?? b ?? c) as string;
    return values.get(name) ?? whole;
  });
}

/** Candidate values of a query variable, asked from Prometheus like Grafana's label_values(). */
async function queryVariableValues(v: TemplateVariable, values: Map<string, string>, prom: PromApi): Promise<string[]> {
  const q = substitute(variableQuery(v), values).trim();
  const withMetric = /^label_values\(\s*(.+)\s*,\s*(\w+)\s*\)$/s.exec(q);
  if (withMetric) return prom.labelValues(withMetric[2] as string, withMetric[1] as string);
  const labelOnly = /^label_values\(\s*(\w+)\s*\)$/.exec(q);
  if (labelOnly) return prom.labelValues(labelOnly[1] as string);
  throw new Error(`variable $${v.name}: query '${q}' is not label_values(...), which this test resolves`);
}

/**
 * Resolves every template variable to the text Grafana would put into a query
 * when the dashboard opens with its defaults.
 */
export async function resolveVariables(
  dashboard: Dashboard,
  prom: PromApi,
  builtins: BuiltinIntervals,
): Promise<Map<string, string>> {
  const values = new Map<string, string>([
    ["__rate_interval", builtins.rateInterval],
    ["__interval", builtins.interval],
    ["__range", `${builtins.rangeSeconds}s`],
    ["__range_s", String(builtins.rangeSeconds)],
    ["__range_ms", String(builtins.rangeSeconds * 1000)],
  ]);
  for (const v of dashboard.templating?.list ?? []) {
    const current = asArray(v.current?.value);
    const isAll = current.includes("$__all") || asArray(v.current?.text).includes("All");
    switch (v.type) {
      case "datasource":
        // Used in the panels' datasource field, not in PromQL.
        values.set(v.name, "prometheus");
        break;
      case "constant":
      case "textbox":
        values.set(v.name, current[0] ?? variableQuery(v));
        break;
      case "interval":
        values.set(v.name, current[0] ?? variableQuery(v).split(",")[0]?.trim() ?? builtins.interval);
        break;
      case "custom":
      case "query": {
        const options =
          v.type === "custom"
            ? variableQuery(v)
                .split(",")
                .map((s) => s.trim())
                .filter(Boolean)
            : await queryVariableValues(v, values, prom);
        let chosen: string[];
        if (isAll || (current.length === 0 && v.includeAll)) {
          if (v.allValue) {
            values.set(v.name, v.allValue);
            continue;
          }
          chosen = options;
        } else if (current.length > 0 && current.every((c) => options.includes(c))) {
          chosen = current;
        } else {
          // A default that does not exist here: Grafana falls back to the first option.
          chosen = options.slice(0, 1);
        }
        if (chosen.length === 0) {
          throw new Error(`variable $${v.name} of ${dashboard.file}: no values (query '${variableQuery(v)}')`);
        }
        values.set(v.name, chosen.length === 1 ? (chosen[0] as string) : `(${chosen.map(escapeRegex).join("|")})`);
        break;
      }
      default:
        throw new Error(`variable $${v.name} of ${dashboard.file}: type '${v.type}' is not handled by this test`);
    }
  }
  return values;
}
