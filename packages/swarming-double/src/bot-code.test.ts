import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { BOT_API, type SwarmingDouble, startSwarmingDouble } from "./index.js";

let double: SwarmingDouble | undefined;
let tmp: string | undefined;
afterEach(async () => {
  await double?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

it("serves a big zip to a slow client without piling up listeners on the response", async () => {
  tmp = await mkdtemp(join(tmpdir(), "double-bot-code-"));
  const zipPath = join(tmp, "big.zip");
  // Incompressible, so the socket backs up and the double waits for "drain" many times.
  execFileSync("python3", [
    "-c",
    "import os, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n  z.writestr('__main__.py', 'print(1)\\n')\n  z.writestr('blob.bin', os.urandom(8 << 20))",
    zipPath,
  ]);
  double = await startSwarmingDouble({ botCode: { zipPath } });
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on("warning", onWarning);
  try {
    const received = await new Promise<number>((resolve, reject) => {
      const req = get(`${double?.url}${BOT_API}/bot_code/${double?.currentVersion()}`, (res) => {
        let n = 0;
        res.on("data", (chunk: Buffer) => {
          n += chunk.length;
          // Read slowly: a pause after every chunk.
          res.pause();
          setTimeout(() => res.resume(), 1);
        });
        res.once("end", () => resolve(n));
        res.once("error", reject);
      });
      req.once("error", reject);
    });
    expect(received).toBeGreaterThan(8 << 20);
  } finally {
    process.off("warning", onWarning);
  }
  expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
});
