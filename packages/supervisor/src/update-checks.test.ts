import { execFileSync } from "node:child_process";
import { getEventListeners } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { botCodeDigest, commonSettings, createLogger, loadConfig } from "@rpi-swarming/core";
import { afterEach, expect, it } from "vitest";
import { supervisorSettings } from "./settings.js";
import { Supervisor } from "./supervisor.js";

let root: string;
let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  rmSync(root, { recursive: true, force: true });
});

/** A bot code zip whose bot just sleeps (the test is about the supervisor, not the bot). */
function sleeperZip(path: string, marker: string): string {
  execFileSync("python3", [
    "-c",
    "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n  z.writestr('__main__.py', 'import time\\nwhile True: time.sleep(60)\\n')\n  z.writestr('marker.txt', sys.argv[2])",
    path,
    marker,
  ]);
  return path;
}

function gc(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

it("a supervisor doing 1,000 update checks (each a new version) keeps a constant listener count and bounded heap", async () => {
  root = mkdtempSync(join(tmpdir(), "update-checks-"));
  const zips = [sleeperZip(join(root, "a.zip"), "a"), sleeperZip(join(root, "b.zip"), "b")];
  const bytes = zips.map((z) => readFileSync(z));
  const digests = await Promise.all(zips.map((z) => botCodeDigest(z)));
  // A server whose version changes after every download: each check downloads.
  let current = 0;
  let zipGets = 0;
  server = createServer((req, res) => {
    if (req.url === "/bot_code") {
      res.writeHead(302, { Location: `/swarming/api/v1/bot/bot_code/${digests[current]}` });
      res.end();
      return;
    }
    const i = digests.findIndex((d) => req.url === `/swarming/api/v1/bot/bot_code/${d}`);
    if (i < 0) {
      res.writeHead(404);
      res.end();
      return;
    }
    zipGets += 1;
    current = 1 - current;
    const body = bytes[i] as Buffer;
    res.writeHead(200, { "Content-Length": body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const botDir = join(root, "b", "s");
  const sharedDir = join(root, "b", "shared");
  mkdirSync(botDir, { recursive: true });
  const config = loadConfig(
    { ...commonSettings, ...supervisorSettings },
    {
      flags: {
        botId: "bot1",
        swarmingServer: url,
        botDir,
        sharedDir,
        metricsHost: "127.0.0.1",
        metricsPort: "0",
        // Nothing listens there: the state server cannot be asked, so no update restart is made.
        stateServerUrl: "http://127.0.0.1:9",
        tokenConfig: join(root, "no-token.json"),
        sudoDir: resolve(import.meta.dirname, "../../../images/sudo"),
        updateSchedule: "0 0 1 1 *",
        updateGraceSeconds: "3600",
      },
      env: {},
    },
  );
  const log = createLogger({ level: "fatal", stream: new Writable({ write: (_c, _e, cb) => cb() }) });
  const sup = new Supervisor(config, log);
  let stop: (v: string) => void = () => undefined;
  const running = sup.run(new Promise<string>((r) => (stop = r)));
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on("warning", onWarning);
  try {
    // The bootstrap's code in place (checks before that are skipped).
    const inPlace = async () =>
      sup.metricsUrl !== null &&
      (await (await fetch(`${sup.metricsUrl}/metrics`)).text()).includes("rpi_swarming_bot_code_info{");
    for (let i = 0; i < 400 && !(await inPlace()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(zipGets).toBe(1);
    const listeners: number[] = [];
    const heap: number[] = [];
    for (let i = 1; i <= 1000; i++) {
      await sup.checkForUpdate("schedule");
      if (i === 100 || i === 1000) {
        listeners.push(getEventListeners(sup.stopSignal, "abort").length);
        gc();
        heap.push(process.memoryUsage().heapUsed);
      }
    }
    expect(zipGets).toBe(1001);
    // The bootstrap's wait, the update watch and the like: a few, never one per check.
    expect(listeners[1]).toBe(listeners[0]);
    expect(listeners[1]).toBeLessThan(10);
    expect((heap[1] as number) - (heap[0] as number)).toBeLessThan(4 * 1024 * 1024);
    expect(warnings.map((w) => w.message)).toEqual([]);
    const version = await botCodeDigest(join(botDir, "swarming_bot.zip"));
    expect(digests).toContain(version);
  } finally {
    process.off("warning", onWarning);
    stop("SIGTERM");
    expect(await running).toBe(0);
  }
}, 180_000);
