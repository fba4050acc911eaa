import { collectDefaultMetrics, Registry } from "prom-client";

/** Every metric this project exports starts with this prefix. */
export const METRIC_PREFIX = "rpi_swarming_";

/**
 * One registry per process with Node's default process metrics, and a
 * `bot_id` label on every series so dashboards can group by bot without joins.
 */
export function createMetricsRegistry(botId: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ bot_id: botId });
  collectDefaultMetrics({ register: registry });
  return registry;
}
