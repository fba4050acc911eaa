/** The command power controller running a program (__fixtures__/bin/power-switch) without a shell. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UpstreamError } from "@rpi-swarming/core";
import { afterEach, describe, expect, it } from "vitest";
import { FAKE_TOOLS_BIN_DIR } from "../exec/fake-tools.js";
import { CommandPowerController } from "./command.js";
import { powerCycle } from "./cycle.js";

const SWITCH = join(FAKE_TOOLS_BIN_DIR, "power-switch");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setUp(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "power-switch-"));
  dirs.push(dir);
  const logFile = join(dir, "log");
  const controller = new CommandPowerController({
    offCommand: [SWITCH, "off", "--hub={hub}", "{port}", "{serial}"],
    onCommand: [SWITCH, "on", "{serial}"],
    timeoutSeconds: 10,
    env: { POWER_SWITCH_LOG: logFile, ...env },
  });
  const lines = () => readFileSync(logFile, "utf8").split("\n").filter(Boolean);
  return { controller, lines };
}

describe("CommandPowerController", () => {
  it("runs the off and on commands with each value as one argument, never through a shell", async () => {
    const { controller, lines } = setUp();
    const serial = "8A2Y 0B3C; touch /tmp/pwned $(id)";
    await powerCycle(controller, { serial, usbPath: "1-1.2" }, 0.01);
    expect(lines()).toEqual([`off|--hub=1-1|2|${serial}`, `on|${serial}`]);
  });

  it("fails with the program's words when it exits non-zero, and still switches the power on", async () => {
    const { controller, lines } = setUp({ POWER_SWITCH_FAIL: "off" });
    const err = await powerCycle(controller, { serial: "S1" }, 0.01).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toBe(`power off command \`${SWITCH}\` exited 3: relay board not answering`);
    expect(lines()).toEqual(["off|--hub=||S1", "on|S1"]);
  });
});
