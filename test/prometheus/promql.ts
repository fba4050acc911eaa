/** PromQL inspection with Prometheus's own Lezer grammar: syntax errors and the metrics an expression reads. */
import { parser } from "@prometheus-io/lezer-promql";

type SyntaxNode = ReturnType<typeof parser.parse>["topNode"];

export interface PromqlSelector {
  /** Metric name, from the identifier or an `__name__="..."` matcher; undefined when the selector has neither. */
  metric: string | undefined;
  /** The selector's source text, e.g. `rpi_swarming_device_up{bot_id=~"x"}`. */
  text: string;
}

/** Throws with the position and surrounding text of the first syntax error. */
export function assertParses(expr: string, where: string): void {
  const tree = parser.parse(expr);
  let errorAt = -1;
  tree.iterate({
    enter(node) {
      if (errorAt < 0 && node.type.isError) errorAt = node.from;
    },
  });
  if (errorAt >= 0) {
    throw new Error(`${where}: PromQL syntax error at offset ${errorAt}: ...${expr.slice(errorAt, errorAt + 40)}...`);
  }
}

function nameFromMatchers(node: SyntaxNode, expr: string): string | undefined {
  const matchers = node.getChild("LabelMatchers");
  if (!matchers) return undefined;
  for (let m = matchers.firstChild; m; m = m.nextSibling) {
    const label = m.getChild("LabelName");
    const op = m.getChild("MatchOp");
    const value = m.getChild("StringLiteral");
    if (label && op && value && expr.slice(label.from, label.to) === "__name__" && expr.slice(op.from, op.to) === "=") {
      return JSON.parse(expr.slice(value.from, value.to).replace(/^'(.*)'$/, '"$1"')) as string;
    }
  }
  return undefined;
}

/** Every vector selector in the expression (including those inside range selectors and subqueries). */
export function selectors(expr: string): PromqlSelector[] {
  const found: PromqlSelector[] = [];
  const tree = parser.parse(expr);
  tree.iterate({
    enter(ref) {
      if (ref.name !== "VectorSelector") return;
      const node = ref.node;
      const ident = node.getChild("Identifier");
      const metric = ident ? expr.slice(ident.from, ident.to) : nameFromMatchers(node, expr);
      found.push({ metric, text: expr.slice(node.from, node.to) });
      return false;
    },
  });
  return found;
}

/** Distinct metric names an expression reads. */
export function metricNames(expr: string): string[] {
  return [...new Set(selectors(expr).flatMap((s) => (s.metric ? [s.metric] : [])))];
}
