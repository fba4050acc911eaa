/**
 * Runs Debian's `prometheus` binary on 127.0.0.1 with a given configuration
 * and rule file, TSDB in a temporary directory. Fails loudly when the binary
 * is missing (ci/install-tools.sh installs it) or the config is rejected.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort, type Spawned, spawnLogged } from "./processes.js";

export interface PrometheusServer {
  readonly url: string;
  readonly process: Spawned;
  stop(): Promise<void>;
}

export interface PrometheusStartOptions {
  /** Directory for config, rules, TSDB and log (the caller removes it). */
  workDir: string;
  /** Prometheus configuration (without rule_files, which this adds). */
  config: Record<string, unknown>;
  /** Rule file content: `{ groups: [...] }`. */
  rules: { groups: unknown[] };
}

/** Path of the prometheus binary, or a clear error naming how to install it. */
export function prometheusBinary(): string {
  for (const name of ["prometheus", "promtool"]) {
    try {
      execFileSync(name, ["--version"], { stdio: "ignore" });
    } catch {
      throw new Error(
        `'${name}' is not on PATH: run 'bash ci/install-tools.sh' (installs Debian's prometheus package)`,
      );
    }
  }
  return "prometheus";
}

/** Validates config and rules with promtool so a bad file fails with promtool's own message. */
function check(kind: "config" | "rules", file: string): void {
  try {
    execFileSync("promtool", ["check", kind, file], { encoding: "utf8", stdio: "pipe" });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool check ${kind} ${file} failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

async function waitReady(url: string, proc: Spawned, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.isRunning()) throw new Error(`prometheus exited during start-up:\n${proc.logTail()}`);
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`prometheus not ready at ${url} after ${timeoutMs} ms:\n${proc.logTail()}`);
}

export async function startPrometheus(options: PrometheusStartOptions): Promise<PrometheusServer> {
  const binary = prometheusBinary();
  const rulesFile = join(options.workDir, "rules.yml");
  const configFile = join(options.workDir, "prometheus.yml");
  writeFileSync(rulesFile, stringify(options.rules));
  writeFileSync(configFile, stringify({ ...options.config, rule_files: [rulesFile] }));
  check("rules", rulesFile);
  check("config", configFile);

  // The port is free when asked for but may be taken before prometheus binds it: retry then.
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = spawnLogged(
      "prometheus",
      binary,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(options.workDir, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--web.enable-lifecycle",
        "--log.level=info",
      ],
      { logFile: join(options.workDir, `prometheus-${attempt}.log`) },
    );
    try {
      await waitReady(url, proc, 30_000);
      return { url, process: proc, stop: () => proc.stop() };
    } catch (err) {
      lastError = err;
      await proc.stop();
      if (!/address already in use/.test(proc.logTail(200))) break;
    }
  }
  throw lastError;
}
