/**
 * `rpi-swarming power-cycle` against a running `rpi-swarming state-server`
 * (real processes) whose device is a fake adb phone on a fake uhubctl hub, and
 * the power settings refused at start-up.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePort, waitFor } from "@rpi-swarming/core/test-support";
import { FAKE_ADB_PATH, FAKE_UHUBCTL_PATH, FakeAdbScenario, FakeUhubctlScenario } from "@rpi-swarming/devices";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, spawnCli } from "../__fixtures__/spawn-cli.js";

const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((resolve) => c.once("exit", resolve));
    c.kill("SIGTERM");
    await exited;
  }
  for (const c of cleanups.splice(0)) c();
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "rpi-cli-power-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startStateServer(env: Record<string, string>, extra: string[] = []) {
  const dir = scratch();
  const hookPort = await freePort();
  const child = spawnCli(
    [
      "state-server",
      "--device=android",
      `--adb-path=${FAKE_ADB_PATH}`,
      "--bot-id=power-bot",
      `--hook-port=${hookPort}`,
      "--metrics-host=127.0.0.1",
      "--metrics-port=0",
      "--probe-interval-seconds=3600",
      "--max-temperature-celsius=40",
      "--power-controller=uhubctl",
      `--uhubctl-path=${FAKE_UHUBCTL_PATH}`,
      "--power-off-seconds=0.05",
      "--power-cycles-per-hour=1",
      `--maintenance-dir=${dir}`,
      `--token-config=${join(dir, "none.json")}`,
      ...extra,
    ],
    env,
  );
  children.push(child);
  const records: { msg: string; hookUrl?: string; metricsUrl?: string; health?: { status: string } }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    records.push(JSON.parse(line) as (typeof records)[number]);
  });
  await waitFor("the first probe found the phone healthy", () =>
    records.some((r) => r.msg === "health changed" && r.health?.status === "ok"),
  );
  const metricsUrl = records.find((r) => r.metricsUrl)?.metricsUrl ?? "";
  return { hookPort, metricsUrl, records };
}

describe("rpi-swarming power-cycle", () => {
  it("asks the running state server, which cuts the port's power; the cap refuses the next unless forced", async () => {
    const adb = new FakeAdbScenario().devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    const hubs = new FakeUhubctlScenario()
      .hub("1-1", "ppps", 4, "2109:3431 USB2.0 Hub, USB 2.10")
      .attach("1-1", 2, "18d1:4ee7 Google Pixel 3a 8A2Y0B3C");
    cleanups.push(
      () => adb.remove(),
      () => hubs.remove(),
    );
    const env = { ...adb.env, ...hubs.env };
    const { hookPort, metricsUrl, records } = await startStateServer(env);

    const first = await runCli(["power-cycle", `--hook-port=${hookPort}`, "--reason=frozen screen", "--wait"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const [reply, after] = first.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(reply).toEqual({ ok: true, off_seconds: 0.05, settle_seconds: 180 });
    expect(after).toMatchObject({ health: { status: "ok" } });
    expect(hubs.calls()).toEqual(["-l 1-1 -p 2 -a off", "-l 1-1 -p 2 -a on"]);
    expect(records.some((r) => r.msg === "device power cycle requested")).toBe(true);

    // The state server's own config file names the port.
    const configFile = join(scratch(), "state-server.yaml");
    writeFileSync(configFile, `device: android\nadbPath: ${FAKE_ADB_PATH}\nhookPort: ${hookPort}\n`);
    const capped = await runCli(["power-cycle", "--config", configFile]);
    expect(capped.code).toBe(1);
    expect(capped.stderr).toMatch(
      /^rpi-swarming power-cycle: refused \(429\): the device was power-cycled 1 times in the last hour \(powerCyclesPerHour 1\); retry in \d+ s, or force it \(--force overrides the cap and cool-down\)\n$/,
    );
    expect(hubs.calls()).toHaveLength(2);

    const forced = await runCli(["power-cycle", `--hook-port=${hookPort}`, "--force"]);
    expect(forced.code).toBe(0);
    expect(hubs.calls()).toHaveLength(4);

    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).toContain('rpi_swarming_device_power_cycles_total{result="ok",bot_id="power-bot"} 2');
    expect(metrics).toContain('rpi_swarming_device_power_cycles_total{result="capped",bot_id="power-bot"} 1');
  });

  it("says when no state server listens", async () => {
    const port = await freePort();
    const r = await runCli(["power-cycle", `--hook-port=${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `rpi-swarming power-cycle: no state server at http://127.0.0.1:${port} (ECONNREFUSED); is it running, and is hookPort right?\n`,
    );
  });
});

describe("power settings refused at start-up", () => {
  it.each([
    [
      ["--power-controller=plug"],
      /powerController \(--power-controller, RPI_SWARMING_POWER_CONTROLLER\).*none.*uhubctl.*command.*http/s,
    ],
    [["--power-controller=command"], /powerController command needs powerOffCommand and powerOnCommand/],
    [["--power-hub-port=20"], /powerHubPort \(--power-hub-port, RPI_SWARMING_POWER_HUB_PORT\)/],
    [["--power-hub-location=usb:1-1"], /powerHubLocation .*a uhubctl hub location such as 1-1/s],
    [
      ["--power-controller=uhubctl", "--power-hub-location=1-1"],
      /powerHubLocation and powerHubPort: give both or neither/,
    ],
    [
      ["--power-controller=http", '--power-http={"off": {"url": "ftp://plug/off"}, "on": {"url": "http://plug/on"}}'],
      /powerHttp \(--power-http, RPI_SWARMING_POWER_HTTP\)/,
    ],
  ])("state-server %j exits 2 naming the setting", async (flags, message) => {
    const dir = scratch();
    const r = await runCli([
      "state-server",
      "--device=simulated",
      "--hook-port=0",
      "--metrics-port=0",
      "--simulated-control-port=0",
      `--maintenance-dir=${dir}`,
      ...flags,
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^rpi-swarming state-server: /);
    expect(r.stderr).toMatch(message);
  });
});
