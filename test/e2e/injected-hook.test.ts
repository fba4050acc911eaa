/**
 * The production path for the hook script: the bot zip carries a default hook
 * script and Swarming injects bot_config.py in the handshake (bots.cfg
 * bot_config_script). The injected script's get_* hooks must win, so what
 * Swarming sees comes from the phone through the state server.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOOK_SCRIPT } from "../../packages/cli/src/demo/pod.js";
import {
  type DoubleProcess,
  getJson,
  pidsMentioning,
  type RunningDemo,
  startDemo,
  startDoubleProcess,
  waitFor,
} from "./harness.js";

const BOT = "skia-rpi2-injected";
const ZIP_HOOK = fileURLToPath(new URL("./__fixtures__/zip_bot_config.py", import.meta.url));

describe("bot_config.py injected by the server", () => {
  let server: DoubleProcess | undefined;
  let serverDir: string;
  let url: string;
  let demo: RunningDemo | undefined;

  beforeAll(async () => {
    serverDir = mkdtempSync(join(tmpdir(), "rpi-swarming-e2e-inject-"));
    server = await startDoubleProcess(serverDir, [`--hook-script=${ZIP_HOOK}`, `--inject-hook-script=${HOOK_SCRIPT}`]);
    url = server.url;
  }, 30_000);

  afterAll(async () => {
    demo?.killAll();
    if (demo) rmSync(demo.workDir, { recursive: true, force: true });
    await server?.stop();
    rmSync(serverDir, { recursive: true, force: true });
  }, 30_000);

  it("brings the phone's dimensions and health to Swarming through the injected script", async () => {
    demo = await startDemo({ botId: BOT, extraArgs: [`--swarming-server=${url}`, "--probe-interval-seconds=0.5"] });
    const d = demo;
    const bot = async () => getJson(`${url}/bots/${BOT}`);
    const seen = await waitFor(
      "device dimensions from the injected script",
      async () => {
        const b = await bot();
        return (b.dimensions as Record<string, string[]>).device_type ? b : undefined;
      },
      40_000,
    );
    const dims = seen.dimensions as Record<string, string[]>;
    expect(dims.device_type).toEqual(["sargo"]);
    // The injected get_dimensions replaced the zip's, which the state server merges in as the bot's own.
    expect(dims.id).toEqual([BOT]);
    expect(dims.zip_hook).toBeUndefined();
    expect(JSON.stringify(seen.state)).toContain("SIMULATED0001");
    expect(seen.quarantined).toBeFalsy();
    // Lifecycle hooks of the injected script reached the state server.
    expect((await getJson(`${d.hooks}/status`)).bot_version).toBe(seen.version);

    d.child.kill("SIGTERM");
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(pidsMentioning(d.workDir)).toEqual([]);
  }, 60_000);
});
