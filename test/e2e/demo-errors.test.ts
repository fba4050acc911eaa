/** `rpi-swarming demo` with settings one part refuses: a clear message, exit 1, nothing left running. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI_BIN } from "../../packages/cli/src/demo/pod.js";
import { pidsMentioning } from "./harness.js";

describe("demo start-up errors", () => {
  it("names the setting a part refuses and stops the parts already started", () => {
    const workDir = mkdtempSync(join(tmpdir(), "rpi-swarming-e2e-bad-"));
    try {
      const r = spawnSync(
        process.execPath,
        [CLI_BIN, "demo", `--work-dir=${workDir}`, "--state-server-arg=--battery-min-ratio=5"],
        { encoding: "utf8", timeout: 60_000 },
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("rpi-swarming demo: the pod did not start: state-server exited while starting");
      expect(r.stderr).toContain("batteryMinRatio (--battery-min-ratio, RPI_SWARMING_BATTERY_MIN_RATIO)");
      // The double had been started first.
      expect(pidsMentioning(workDir)).toEqual([]);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }, 70_000);

  it("refuses its own wrong settings before starting anything", () => {
    const r = spawnSync(process.execPath, [CLI_BIN, "demo", "--device=blackberry", "--poll-seconds=0"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("device (--device, RPI_SWARMING_DEVICE)");
    expect(r.stderr).toContain("pollSeconds (--poll-seconds, RPI_SWARMING_POLL_SECONDS)");
  });
});
