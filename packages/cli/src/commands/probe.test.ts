import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../__fixtures__/spawn-cli.js";

const probe = (args: string[], env: Record<string, string> = {}) =>
  runCli(["probe", "--bot-id=probe-bot", ...args], env);

// Each test is its own CLI process: they run side by side.
describe.concurrent("rpi-swarming probe", () => {
  it("prints dimensions and state and exits 0 for a healthy device", async () => {
    const r = await probe(["--device=none", "--dimension=pool=Skia", "--state=rack=A3"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { dimensions: Record<string, string[]>; state: Record<string, unknown> };
    expect(out.dimensions).toEqual({ id: ["probe-bot"], pool: ["Skia"] });
    expect(out.state).toMatchObject({ rack: "A3", task_running: false, device: { kind: "none" } });
    expect(out.state).not.toHaveProperty("maintenance");
  });

  it("exits 1 naming the reason when the device is not healthy, still printing the JSON", async () => {
    const r = await probe(["--device=simulated", "--simulated=batteryRatio=0.1"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { dimensions: Record<string, string[]>; state: Record<string, unknown> };
    expect(out.dimensions.device_type).toEqual(["sargo"]);
    expect(out.state.maintenance).toBe("Battery low: 10% < 30%");
    expect(r.stderr).toContain("the simulated device is maintenance:\n  battery_low: Battery low: 10% < 30%");
  });

  it("honours operator maintenance files, as the state server does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rpi-probe-m-"));
    try {
      writeFileSync(join(dir, "probe-bot"), "Moving to rack 4\n");
      const r = await probe(["--device=none", `--maintenance-dir=${dir}`]);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).state.maintenance).toBe(`Moving to rack 4 (operator, ${join(dir, "probe-bot")})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("quarantines an android device when adb is not installed", async () => {
    const r = await probe(["--device=android", "--adb-path=/nonexistent/adb"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tool_missing: .*adb/);
  });

  it("does not hand the image's malloc setting on to the device tools it runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "probe-env-"));
    try {
      const adb = join(dir, "adb");
      writeFileSync(adb, `#!/bin/sh\nenv > "${join(dir, "env")}"\nexit 1\n`, { mode: 0o755 });
      await probe(["--device=android", `--adb-path=${adb}`], { MALLOC_MMAP_THRESHOLD_: "4096" });
      const env = readFileSync(join(dir, "env"), "utf8");
      expect(env).toMatch(/^PATH=/m);
      expect(env).not.toMatch(/^MALLOC_MMAP_THRESHOLD_=/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
