import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { spawnCli } from "../__fixtures__/spawn-cli.js";

async function probe(args: string[], env: Record<string, string> = {}) {
  const child = spawnCli(["probe", "--bot-id=probe-bot", ...args], env);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stdout, stderr };
}

// A private adb server port, so the test neither meets nor disturbs a real adb server.
const ADB_PORT = String(15_037 + (process.pid % 1000));
afterAll(() => {
  try {
    execFileSync("adb", ["-P", ADB_PORT, "kill-server"], { stdio: "ignore", timeout: 10_000 });
  } catch {
    // No server was started.
  }
});

describe("rpi-swarming probe", () => {
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

  it("quarantines an android device that real adb does not see", async () => {
    const r = await probe(["--device=android", "--command-timeout-seconds=20"], { ANDROID_ADB_SERVER_PORT: ADB_PORT });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/device_missing: /);
    expect(JSON.parse(r.stdout).state.quarantined).toBeTruthy();
  });
});
