/** `rpi-swarming probe` against Debian's real adb (ci/install-tools.sh installs it). */
import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../__fixtures__/spawn-cli.js";

// A private adb server port, so the test neither meets nor disturbs a real adb server.
const ADB_PORT = String(15_037 + (process.pid % 1000));
afterAll(() => {
  try {
    execFileSync("adb", ["-P", ADB_PORT, "kill-server"], { stdio: "ignore", timeout: 10_000 });
  } catch {
    // No server was started.
  }
});

const probe = (args: string[], env: Record<string, string>) => runCli(["probe", "--bot-id=probe-bot", ...args], env);

describe("rpi-swarming probe with real adb", () => {
  it("quarantines an android device that real adb does not see", async () => {
    const r = await probe(["--device=android", "--command-timeout-seconds=20"], { ANDROID_ADB_SERVER_PORT: ADB_PORT });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/device_missing: /);
    expect(JSON.parse(r.stdout).state.quarantined).toBeTruthy();
  });
});
