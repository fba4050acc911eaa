import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "@rpi-swarming/core/test-support";
import type { OperatorMessage } from "@rpi-swarming/devices";
import { afterEach, describe, expect, it } from "vitest";
import { scratchDir, testLogger } from "./__fixtures__/helpers.js";
import { MaintenanceWatcher } from "./maintenance.js";

let watcher: MaintenanceWatcher | undefined;
let scratch: ReturnType<typeof scratchDir> | undefined;
afterEach(() => {
  watcher?.stop();
  watcher = undefined;
  scratch?.cleanup();
  scratch = undefined;
});

function start(dir: string, pollMs = 50) {
  const seen: (readonly OperatorMessage[])[] = [];
  watcher = new MaintenanceWatcher({ dir, botId: "rpi-7", log: testLogger(), onChange: (m) => seen.push(m), pollMs });
  return { seen, ready: watcher.start() };
}

describe("MaintenanceWatcher", () => {
  it("follows a Kubernetes ConfigMap mount, whose files change by swapping the ..data symlink", async () => {
    scratch = scratchDir();
    const dir = scratch.dir;
    mkdirSync(join(dir, "..v1"));
    symlinkSync("..v1", join(dir, "..data"));
    symlinkSync("..data/rpi-7", join(dir, "rpi-7"));
    symlinkSync("..data/all", join(dir, "all"));
    writeFileSync(join(dir, "..v1", "all"), "");
    const { seen, ready } = start(dir);
    await ready;
    expect(watcher?.messages).toEqual([{ source: join(dir, "all"), message: "Maintenance requested by operator" }]);

    // What the kubelet does on an update: new timestamped dir, new symlink renamed over ..data.
    mkdirSync(join(dir, "..v2"));
    writeFileSync(join(dir, "..v2", "rpi-7"), "  USB hub\nreplacement  ");
    symlinkSync("..v2", join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    rmSync(join(dir, "..v1"), { recursive: true });
    await waitFor("the swapped content", () => watcher?.messages[0]?.message === "USB hub replacement");
    expect(watcher?.messages).toEqual([{ source: join(dir, "rpi-7"), message: "USB hub replacement" }]);
    expect(seen.length).toBeGreaterThanOrEqual(2);
  });

  it("starts without the directory and notices when it appears, and ignores other bots' files", async () => {
    scratch = scratchDir();
    const dir = join(scratch.dir, "maintenance");
    const { seen, ready } = start(dir);
    await ready;
    expect(watcher?.messages).toEqual([]);
    expect(seen).toEqual([]);
    mkdirSync(dir);
    writeFileSync(join(dir, "rpi-8"), "not me");
    writeFileSync(join(dir, "all"), "Lab move on Friday");
    await waitFor("the new directory", () => (watcher?.messages.length ?? 0) > 0);
    expect(watcher?.messages.map((m) => m.message)).toEqual(["Lab move on Friday"]);
    rmSync(join(dir, "all"));
    await waitFor("the removal", () => watcher?.messages.length === 0);
  });

  it("cuts a long message and folds its white space", async () => {
    scratch = scratchDir();
    writeFileSync(join(scratch.dir, "all"), `a\n\tb ${"x".repeat(5000)}`);
    const { ready } = start(scratch.dir);
    await ready;
    const message = watcher?.messages[0]?.message ?? "";
    expect(message.startsWith("a b xxx")).toBe(true);
    expect(message.length).toBe(1000);
  });
});
