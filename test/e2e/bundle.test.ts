/**
 * The install tree the image ships (tools/bundle): bundles only, no
 * node_modules, run through the image's own wrapper (images/rpi-swarming with
 * RPI_SWARMING_HOME pointing at the tree).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleInstall } from "../../tools/bundle/index.js";

const ROOT = resolve(import.meta.dirname, "../..");
const WRAPPER = join(ROOT, "images/rpi-swarming");
let tree: string;
let metafile: Metafile;
const children: ChildProcess[] = [];

beforeAll(async () => {
  execFileSync("npx", ["tsc", "-b", "packages/cli"], { cwd: ROOT, stdio: "inherit" });
  tree = mkdtempSync(join(tmpdir(), "rpi-bundle-"));
  ({ metafile } = await bundleInstall(tree));
}, 120_000);
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(tree, { recursive: true, force: true });
});

/** `rpi-swarming ARGS` as the image runs it; resolves with the first JSON log record that has `key`. */
function start(args: string[], key: string): { child: ChildProcess; record: Promise<Record<string, string>> } {
  const child = spawn("sh", [WRAPPER, ...args], {
    env: { ...process.env, RPI_SWARMING_HOME: tree },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const record = new Promise<Record<string, string>>((res, rej) => {
    child.once("exit", (code) => rej(new Error(`rpi-swarming ${args[0]} exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      try {
        const rec = JSON.parse(line) as Record<string, string>;
        if (rec[key]) res(rec);
      } catch {
        // not a log record
      }
    });
  });
  return { child, record };
}

describe("the bundled install tree", () => {
  it("holds bundles and no node_modules or compiled packages", () => {
    for (const cmd of ["main", "state-server", "supervisor", "probe", "power-cycle", "demo", "swarming-double"]) {
      expect(existsSync(join(tree, "packages/cli/bundle", `${cmd}.js`)), cmd).toBe(true);
    }
    expect(existsSync(join(tree, "node_modules"))).toBe(false);
    expect(existsSync(join(tree, "packages/cli/dist"))).toBe(false);
    expect(existsSync(join(tree, "sudo-bin/sudo"))).toBe(true);
    expect(existsSync(join(tree, "images/sudo/sudo"))).toBe(true);
  });

  it("gives the state server and the supervisor no zod classic, execa or Intl-making dependency code at start", () => {
    // What each entry may load, lazy imports included (the supervisor loads its package lazily): zod classic, execa, and an unpatched
    // node-cron or @sindresorhus/is would each cost megabytes of RSS (docs/benchmarks.md).
    const outputs = metafile.outputs;
    for (const entry of ["state-server", "supervisor"]) {
      const start = Object.keys(outputs).find((o) => o.endsWith(`/bundle/${entry}.js`)) as string;
      const loaded = new Set<string>();
      const walk = (out: string) => {
        if (loaded.has(out)) return;
        loaded.add(out);
        for (const i of outputs[out]?.imports ?? []) if (outputs[i.path]) walk(i.path);
      };
      walk(start);
      const inputs = [...loaded].flatMap((o) => Object.keys(outputs[o]?.inputs ?? {}));
      expect(
        inputs.filter((f) => /node_modules\/(zod\/v4\/classic|execa)\//.test(f)),
        entry,
      ).toEqual([]);
      // yaml only for a config file: never among what the entry imports up front.
      const upFront = new Set<string>();
      const walkStatic = (out: string) => {
        if (upFront.has(out)) return;
        upFront.add(out);
        for (const i of outputs[out]?.imports ?? [])
          if (i.kind !== "dynamic-import" && outputs[i.path]) walkStatic(i.path);
      };
      walkStatic(start);
      const upFrontInputs = [...upFront].flatMap((o) => Object.keys(outputs[o]?.inputs ?? {}));
      expect(
        upFrontInputs.filter((f) => f.includes("node_modules/yaml/")),
        entry,
      ).toEqual([]);
      const text = [...loaded].map((o) => readFileSync(resolve(ROOT, o), "utf8")).join("\n");
      // Made at load or unconditionally; the patched ones are behind `??=` or a time-zone test.
      expect(text.match(/(?<!\?)=new Intl\.\w+\(/g) ?? [], entry).toEqual([]);
    }
  });

  it("prints the version from the packages' manifests", () => {
    const version = (JSON.parse(readFileSync(join(ROOT, "packages/core/package.json"), "utf8")) as { version: string })
      .version;
    const out = execFileSync("sh", [WRAPPER, "--version"], { env: { ...process.env, RPI_SWARMING_HOME: tree } });
    expect(out.toString().trim()).toBe(version);
  });

  it("runs the state server from its bundle under the lean flags with a YAML config file (as the chart does), answering a hook", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rpi-bundle-ss-"));
    // The chart hands each process its settings as --config <file>.yaml: the lazily loaded yaml must work in the bundle.
    const config = join(dir, "state-server.yaml");
    writeFileSync(
      config,
      [
        "device: simulated",
        "botId: bundle-bot",
        "hookPort: 0",
        "metricsHost: 127.0.0.1",
        "metricsPort: 0",
        "simulatedControlPort: 0",
        `maintenanceDir: ${dir}`,
        `tokenConfig: ${join(dir, "none.json")}`,
        "",
      ].join("\n"),
    );
    const { child, record } = start(["state-server", "--config", config], "hookUrl");
    const { hookUrl } = await record;
    const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0");
    expect(cmdline).toContain("--lite-mode");
    expect(cmdline).toContain(join(tree, "packages/cli/bin/rpi-swarming.js"));
    const res = await fetch(`${hookUrl}/get_dimensions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-swarming-bot-id": "bundle-bot" },
      body: JSON.stringify({ pool: ["p"] }),
    });
    expect(await res.json()).toMatchObject({ id: ["bundle-bot"], pool: ["p"] });
    // The bundled one-shot command reaches it (the simulated device has no power controller).
    const cycle = spawnSync("sh", [WRAPPER, "power-cycle", `--hook-port=${new URL(hookUrl ?? "").port}`], {
      env: { ...process.env, RPI_SWARMING_HOME: tree },
      encoding: "utf8",
    });
    expect(cycle.status).toBe(1);
    expect(cycle.stderr).toMatch(/^rpi-swarming power-cycle: refused \(501\): no power controller is configured/);
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the stand-in bot's sources from the tree (swarming-double bundle)", async () => {
    const work = mkdtempSync(join(tmpdir(), "rpi-bundle-double-"));
    const { child, record } = start(
      [
        "swarming-double",
        "--double-host=127.0.0.1",
        "--double-port=0",
        `--hook-script=${join(tree, "packages/swarming-hooks/bot_config.py")}`,
        `--work-dir=${work}`,
      ],
      "url",
    );
    const { url } = await record;
    const state = (await (await fetch(`${url}/_double/state`)).json()) as Record<string, unknown>;
    expect(state.currentVersion).toMatch(/^[0-9a-f]{64}$/);
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(work, { recursive: true, force: true });
  });
});
