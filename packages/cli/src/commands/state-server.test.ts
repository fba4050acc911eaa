import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { waitFor } from "@rpi-swarming/core/test-support";
import { afterEach, describe, expect, it } from "vitest";
import { spawnCli } from "../__fixtures__/spawn-cli.js";

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function httpJson(method: string, url: string, body?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => {
        text += c.toString();
      });
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: text });
        }
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("rpi-swarming state-server", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`serves until ${signal}, then stops everything and exits 0`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "rpi-cli-ss-"));
      dirs.push(dir);
      const child = spawnCli([
        "state-server",
        "--device=simulated",
        "--bot-id=cli-bot",
        "--hook-port=0",
        "--metrics-host=127.0.0.1",
        "--metrics-port=0",
        "--simulated-control-port=0",
        `--maintenance-dir=${dir}`,
        `--token-config=${join(dir, "none.json")}`,
      ]);
      children.push(child);
      const messages: string[] = [];
      const records: { msg: string; hookUrl?: string; metricsUrl?: string }[] = [];
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        const rec = JSON.parse(line) as { msg: string; hookUrl?: string; metricsUrl?: string };
        records.push(rec);
        messages.push(rec.msg);
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      await waitFor("the hook URL in the log", () => records.some((r) => r.hookUrl));
      const { hookUrl, metricsUrl } = records.find((r) => r.hookUrl) ?? {};
      const status = (await (await fetch(`${hookUrl}/status`)).json()) as Record<string, unknown>;
      expect(status).toMatchObject({ bot_id: "cli-bot", device_kind: "simulated", simulated: true });
      expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(200);
      child.kill(signal);
      expect(await exited).toBe(0);
      expect(messages).toContain("SIMULATED device in use: no real phone is attached");
      expect(messages.slice(-2), messages.join(" | ")).toEqual(["stopping state server", "state server stopped"]);
      await expect(fetch(`${hookUrl}/status`)).rejects.toThrow();
    });
  }

  it("answers hooks under the Node flags the image runs it with", async () => {
    const wrapper = readFileSync(join(import.meta.dirname, "../../../../images/rpi-swarming"), "utf8");
    const flags = /^lean_node_flags="([^"]*)"/m.exec(wrapper)?.[1]?.split(" ") ?? [];
    expect(flags).toContain("--lite-mode");
    const dir = mkdtempSync(join(tmpdir(), "rpi-cli-ss-"));
    dirs.push(dir);
    const child = spawnCli(
      [
        "state-server",
        "--device=simulated",
        "--hook-port=0",
        "--metrics-host=127.0.0.1",
        "--metrics-port=0",
        "--simulated-control-port=0",
        `--maintenance-dir=${dir}`,
        `--token-config=${join(dir, "none.json")}`,
      ],
      {},
      flags,
    );
    children.push(child);
    const records: { hookUrl?: string; metricsUrl?: string }[] = [];
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      records.push(JSON.parse(line) as { hookUrl?: string });
    });
    await waitFor("the hook URL in the log", () => records.some((r) => r.hookUrl));
    const { hookUrl, metricsUrl } = records.find((r) => r.hookUrl) ?? {};
    // Node's own http client: the test process has fetch, but these requests must not depend on it.
    const dims = await httpJson("POST", `${hookUrl}/get_dimensions`, '{"pool":["lab"]}');
    expect(dims).toMatchObject({ status: 200, body: { os: ["Android"], pool: ["lab"] } });
    expect(await httpJson("GET", `${hookUrl}/status`)).toMatchObject({ status: 200 });
    expect(await httpJson("GET", `${metricsUrl}/healthz`)).toMatchObject({ status: 200 });
    expect(await httpJson("POST", `${hookUrl}/get_state`, "{not json")).toMatchObject({ status: 400 });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("reads settings from a YAML config file (its parser is loaded only then) and names a file that is not YAML", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-config-"));
    dirs.push(dir);
    writeFileSync(join(dir, "good.yaml"), "probeIntervalSeconds: 7\nstaticDimensions:\n  pool: [lab]\n");
    writeFileSync(join(dir, "bad.yaml"), "probeIntervalSeconds: [\n");
    const run = async (file: string) => {
      const child = spawnCli(["state-server", `--config=${join(dir, file)}`, "--print-config"]);
      children.push(child);
      let stdout = "";
      let stderr = "";
      child.stdout?.on("data", (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const code = await new Promise((resolve) => child.once("exit", resolve));
      return { code, stdout, stderr };
    };
    const good = await run("good.yaml");
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ probeIntervalSeconds: 7, staticDimensions: { pool: ["lab"] } });
    const bad = await run("bad.yaml");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not valid YAML");
  });

  it("stops at start-up with exit 2 naming a wrong setting", async () => {
    const child = spawnCli(["state-server", "--device=blackberry", "--hook-port=0"]);
    children.push(child);
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toContain("device (--device, RPI_SWARMING_DEVICE)");
    expect(stderr).toMatch(/android.*ios.*simulated.*none/);
  });
});
