/**
 * `rpi-swarming demo --swarming-server URL` leaves the double out and points
 * the pod at the given server. A double started on its own plays that server.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI_BIN, HOOK_SCRIPT } from "../../packages/cli/src/demo/pod.js";
import { getJson, pidsMentioning, type RunningDemo, startDemo, waitFor } from "./harness.js";

const BOT = "skia-rpi2-external";

describe("the pod against a Swarming server of its own", () => {
  let server: ChildProcess;
  let serverDir: string;
  let url: string;
  let demo: RunningDemo | undefined;

  beforeAll(async () => {
    serverDir = mkdtempSync(join(tmpdir(), "rpi-swarming-e2e-server-"));
    const urlFile = join(serverDir, "url");
    server = spawn(
      process.execPath,
      [
        CLI_BIN,
        "swarming-double",
        "--double-port=0",
        `--url-file=${urlFile}`,
        `--hook-script=${HOOK_SCRIPT}`,
        "--default-sleep-seconds=0.5",
        `--work-dir=${join(serverDir, "zips")}`,
        "--log-level=warn",
      ],
      { stdio: "ignore" },
    );
    url = await waitFor("the server's URL file", () =>
      existsSync(urlFile) ? readFileSync(urlFile, "utf8").trim() || undefined : undefined,
    );
  }, 30_000);

  afterAll(async () => {
    demo?.killAll();
    if (demo) rmSync(demo.workDir, { recursive: true, force: true });
    if (server.exitCode === null) {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("exit", r));
    }
    rmSync(serverDir, { recursive: true, force: true });
  }, 30_000);

  it("connects the bot to that server and starts no double", async () => {
    demo = await startDemo({ botId: BOT, extraArgs: [`--swarming-server=${url}`, "--probe-interval-seconds=0.5"] });
    const bot = await waitFor(
      "the bot at the external server",
      async () => {
        const b = await getJson(`${url}/bots/${BOT}`);
        return (b.polls as number) >= 1 ? b : undefined;
      },
      40_000,
    );
    expect((bot.dimensions as Record<string, string[]>).device_type).toEqual(["sargo"]);
    const mine = pidsMentioning(demo.workDir).map((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8"));
    expect(mine.some((c) => c.includes("swarming-double"))).toBe(false);
    expect(mine.some((c) => c.includes("state-server"))).toBe(true);
    await waitFor("the summary naming the server", () => demo?.output().includes(`Swarming      ${url}\n`));
    expect(demo.output()).not.toContain("local Swarming double");

    demo.child.kill("SIGTERM");
    expect(await demo.exited).toEqual({ code: 0, signal: null });
    expect(pidsMentioning(demo.workDir)).toEqual([]);
    // The server outlives the pod and heard the bot go.
    const events = ((await getJson(`${url}/bots/${BOT}`)).events as { event: string }[]).map((e) => e.event);
    expect(events).toContain("bot_shutdown");
  }, 60_000);
});
