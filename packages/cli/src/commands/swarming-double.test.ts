import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { waitFor } from "@rpi-swarming/core/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../../..");
const HOOK = join(ROOT, "packages/swarming-double/src/__fixtures__/hook_script.py");
// The CLI from its sources, like a user's `rpi-swarming` without a build step.
const RUN_CLI =
  'const { main } = await import("@rpi-swarming/cli"); await main(["node", "rpi-swarming", ...process.argv.slice(1)]);';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "cli-double-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function cli(args: string[]) {
  const child = spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", "--input-type=module", "-e", RUN_CLI, ...args],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, exited, output: () => out };
}

describe("rpi-swarming swarming-double", () => {
  it("serves the stand-in bot built around --hook-script, with a bearer token, until SIGTERM", async () => {
    const urlFile = join(tmp, "url");
    const run = cli(["swarming-double", "--hook-script", HOOK, "--url-file", urlFile, "--double-token", "tok"]);
    try {
      const url = await waitFor(
        urlFile,
        async () => {
          const text = await readFile(urlFile, "utf8");
          return text.endsWith("\n") && text.trim();
        },
        20_000,
      );
      const state = (await (await fetch(`${url}/_double/state`)).json()) as Record<string, unknown>;
      expect(state).toMatchObject({ url, authRequired: true, currentVersion: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect((await fetch(`${url}/bot_code`, { redirect: "manual" })).status).toBe(401);
      const ok = await fetch(`${url}/bot_code`, { redirect: "manual", headers: { Authorization: "Bearer tok" } });
      expect(ok.status).toBe(302);
      expect(run.output()).not.toContain('tok"');
    } finally {
      run.child.kill("SIGTERM");
    }
    expect(await run.exited).toBe(0);
  });

  it("stops at start-up with exit code 2 naming a wrong setting", async () => {
    const run = cli(["swarming-double", "--double-port", "70000"]);
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/doublePort \(--double-port, RPI_SWARMING_DOUBLE_PORT\)/);
  });
});
