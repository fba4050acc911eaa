import bunyan from "bunyan";

export type Logger = bunyan;
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

/** Keys whose values are never written to a log, wherever they appear. */
const SECRET_KEYS = new Set(["token", "access_token", "accessToken", "authorization", "Authorization", "password"]);

function scrub(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.has(k) ? "<redacted>" : scrub(v, depth + 1);
  return out;
}

/**
 * The one logger of a process. Components take `logger.child({ component })`.
 * Call style: `log.info({ context }, "fixed message")`.
 */
export function createLogger(options: { name?: string; level?: LogLevel; stream?: NodeJS.WritableStream }): Logger {
  return bunyan.createLogger({
    name: options.name ?? "rpi-swarming",
    level: options.level ?? "info",
    stream: options.stream ?? process.stdout,
    serializers: {
      err: bunyan.stdSerializers.err,
      headers: (h: unknown) => scrub(h),
      body: (b: unknown) => scrub(b),
    },
  });
}

export { scrub as scrubSecrets };
