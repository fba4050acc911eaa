/**
 * A small client for the Prometheus HTTP API (v1) and a polling helper that
 * reports what it last saw when a condition does not come true in time.
 */

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface TargetInfo {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: "up" | "down" | "unknown";
  lastError: string;
  scrapePool: string;
}

export interface AlertInfo {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: "pending" | "firing" | "inactive";
  activeAt?: string;
  value: string;
}

export interface RuleInfo {
  name: string;
  query: string;
  type: "alerting" | "recording";
  health: string;
  lastError?: string;
  state?: "pending" | "firing" | "inactive";
  duration?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  alerts?: AlertInfo[];
}

export interface RuleGroupInfo {
  name: string;
  file: string;
  rules: RuleInfo[];
}

interface ApiReply<T> {
  status: "success" | "error";
  data: T;
  errorType?: string;
  error?: string;
}

export class PromApi {
  constructor(readonly baseUrl: string) {}

  private async get<T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> {
    const url = new URL(`/api/v1/${path}`, this.baseUrl);
    for (const [k, v] of Object.entries(params)) {
      for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one);
    }
    const res = await fetch(url);
    const body = (await res.json()) as ApiReply<T>;
    if (body.status !== "success") {
      throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    }
    return body.data;
  }

  /** Instant query; returns the vector (scalars and strings are wrapped as one sample). */
  async query(expr: string): Promise<Sample[]> {
    const data = await this.get<{ resultType: string; result: unknown }>("query", { query: expr });
    if (data.resultType === "vector") return data.result as Sample[];
    if (data.resultType === "matrix") {
      return (data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((s) => ({
        metric: s.metric,
        value: s.values[s.values.length - 1] ?? [0, "NaN"],
      }));
    }
    return [{ metric: {}, value: data.result as [number, string] }];
  }

  /** Range query over the last `seconds` with `step` seconds resolution. */
  async queryRange(
    expr: string,
    seconds: number,
    step: number,
  ): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
    const end = Date.now() / 1000;
    const data = await this.get<{ resultType: string; result: unknown }>("query_range", {
      query: expr,
      start: String(end - seconds),
      end: String(end),
      step: String(step),
    });
    if (data.resultType !== "matrix") throw new Error(`query_range of ${expr} gave a ${data.resultType}, not a matrix`);
    return data.result as { metric: Record<string, string>; values: [number, string][] }[];
  }

  async series(match: string): Promise<Record<string, string>[]> {
    return this.get("series", { "match[]": match, start: String(Date.now() / 1000 - 3600) });
  }

  async labelValues(label: string, match?: string): Promise<string[]> {
    return this.get(`label/${encodeURIComponent(label)}/values`, match ? { "match[]": match } : {});
  }

  async targets(): Promise<TargetInfo[]> {
    const data = await this.get<{ activeTargets: TargetInfo[] }>("targets", { state: "active" });
    return data.activeTargets;
  }

  async alerts(): Promise<AlertInfo[]> {
    const data = await this.get<{ alerts: AlertInfo[] }>("alerts");
    return data.alerts;
  }

  async alertingRules(): Promise<RuleInfo[]> {
    const data = await this.get<{ groups: RuleGroupInfo[] }>("rules", { type: "alert" });
    return data.groups.flatMap((g) => g.rules);
  }

  /** Alerts of this name in the given state, e.g. firing. */
  async alertsNamed(name: string, state?: AlertInfo["state"]): Promise<AlertInfo[]> {
    return (await this.alerts()).filter((a) => a.labels.alertname === name && (!state || a.state === state));
  }
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** What is being waited for, in the error message. */
  what: string;
}

/**
 * Polls `probe` until it returns `{ ok: true }`; on timeout throws with the
 * description and the last `seen` value so a failure says what was there.
 */
export async function waitFor<T>(
  probe: () => Promise<{ ok: boolean; seen: T }>,
  options: WaitOptions,
): Promise<{ seen: T; elapsedMs: number }> {
  const start = Date.now();
  const deadline = start + options.timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      const r = await probe();
      last = r.seen;
      lastError = undefined;
      if (r.ok) return { seen: r.seen, elapsedMs: Date.now() - start };
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 500));
  }
  const seen = lastError ? `error: ${(lastError as Error).message}` : JSON.stringify(last, null, 1);
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}; last seen: ${seen}`);
}
