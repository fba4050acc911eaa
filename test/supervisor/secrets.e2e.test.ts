import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killLeftovers, ROOT, startSupervisor, tempDirs } from "./harness.js";

const CLI = join(ROOT, "test/supervisor/cli.ts");
const SECRET_URL = "https://bot:hunter2@swarm.example.com?access_token=ya29.SECRET&pool=lab";
const REDACTED = "https://<redacted>@swarm.example.com/?access_token=<redacted>&pool=lab";

const cleanups: (() => void)[] = [];
afterEach(async () => {
  await killLeftovers();
  for (const c of cleanups.splice(0)) c();
});

describe("secrets in the Swarming server URL", () => {
  it("--print-config shows the URL without user info or token", async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          "--conditions=source",
          "--import",
          "tsx",
          CLI,
          "supervisor",
          "--print-config",
          "--swarming-server",
          SECRET_URL,
        ],
        { cwd: ROOT },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
    expect(out).not.toContain("hunter2");
    expect(out).not.toContain("ya29.SECRET");
    expect(JSON.parse(out).swarmingServer).toBe(REDACTED);
  });

  it('the "supervisor started" record shows the URL without user info or token', async () => {
    const d = tempDirs();
    cleanups.push(() => d.cleanup());
    const sup = startSupervisor({ "swarming-server": SECRET_URL, "bot-dir": d.botDir, "shared-dir": d.sharedDir });
    const started = await sup.waitForLog((r) => r.msg === "supervisor started", 20_000, "supervisor started");
    expect(started.server).toBe(REDACTED);
    expect(await sup.stop()).toBe(0);
    const text = JSON.stringify(sup.records);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("ya29.SECRET");
  });
});
