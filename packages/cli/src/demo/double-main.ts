/**
 * The Swarming double as its own process for the local pod (`rpi-swarming
 * demo` starts it): serves a stand-in bot zip built around the given hook
 * script until SIGTERM or SIGINT. Not part of production: the double is a
 * development and test tool.
 *
 *   node packages/cli/dist/demo/double-main.js --port=N --hook-script=PATH
 *        [--host=127.0.0.1] [--work-dir=DIR] [--sleep-seconds=1] [--log-level=info]
 */
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { createLogger, type LogLevel } from "@rpi-swarming/core";
import { startSwarmingDouble } from "@rpi-swarming/swarming-double";
import { z } from "zod";

const argsSchema = z.object({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.coerce.number().int().min(0).max(65_535),
  "hook-script": z.string().min(1),
  "work-dir": z.string().min(1).optional(),
  "sleep-seconds": z.coerce.number().positive().default(1),
  "log-level": z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"),
});

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      host: { type: "string" },
      port: { type: "string" },
      "hook-script": { type: "string" },
      "work-dir": { type: "string" },
      "sleep-seconds": { type: "string" },
      "log-level": { type: "string" },
    },
    strict: true,
  });
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; ");
    process.stderr.write(`swarming double: ${detail}\n`);
    return 2;
  }
  const args = parsed.data;
  const log = createLogger({ name: "swarming-double", level: args["log-level"] as LogLevel });
  if (args["work-dir"]) mkdirSync(args["work-dir"], { recursive: true });
  const double = await startSwarmingDouble({
    host: args.host,
    port: args.port,
    workDir: args["work-dir"],
    defaultSleepSeconds: args["sleep-seconds"],
    botCode: { standIn: { hookScript: args["hook-script"] } },
    log,
  });
  log.info({ url: double.url, version: double.currentVersion() }, "swarming double (stand-in) serving");
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve(sig));
  });
  log.info({ signal }, "stopping");
  await double.close();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`swarming double failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
