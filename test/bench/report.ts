/** The shape each benchmark prints, one `BENCH_RESULT <json>` line per report. */
export interface BenchRow {
  readonly name: string;
  /** Human-readable value with unit, e.g. "1.8 ms" or "0.42x baseline". */
  readonly value: string;
  readonly target?: string;
  readonly pass?: boolean;
}

export interface BenchReport {
  readonly title: string;
  readonly description: string;
  readonly rows: readonly BenchRow[];
}

const MARK = "BENCH_RESULT ";

export function printBenchReport(report: BenchReport): void {
  process.stdout.write(`${MARK}${JSON.stringify(report)}\n`);
}

export function parseBenchOutput(out: string): BenchReport[] {
  return out
    .split("\n")
    .filter((l) => l.startsWith(MARK))
    .map((l) => JSON.parse(l.slice(MARK.length)) as BenchReport);
}

/** Percentile of a sorted-or-not sample (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
