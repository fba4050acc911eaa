/**
 * Android probe cost: adb spawns per healthy probe cycle (target <= 2) and
 * probe duration, with the scripted fake adb from packages/devices. The
 * baseline runs the same five reads the naive way (`adb devices -l` plus one
 * `adb shell` per section) against the same fake, in the same run.
 */
import { PassThrough } from "node:stream";
import { createLogger } from "@rpi-swarming/core";
import { AndroidDriver, CommandRunner, FAKE_ADB_PATH, FakeAdbScenario } from "@rpi-swarming/devices";
import { percentile, printBenchReport } from "./report.js";

const CYCLES = 60;
const SERIAL = "8A2Y0B3C";
const log = createLogger({ name: "bench", level: "fatal", stream: new PassThrough() });
const ms = (seconds: number) => `${(seconds * 1000).toFixed(1)} ms`;

async function ours(fake: FakeAdbScenario): Promise<{ spawns: number[]; durations: number[] }> {
  const driver = new AndroidDriver({ adbPath: FAKE_ADB_PATH, commandTimeoutSeconds: 5, log, env: fake.env });
  const spawns: number[] = [];
  const durations: number[] = [];
  for (let i = 0; i < CYCLES; i++) {
    const result = await driver.probe();
    if (!result.device || result.problem) throw new Error(`probe ${i} was not healthy: ${result.problem?.message}`);
    spawns.push(result.spawns);
    durations.push(result.durationSeconds);
  }
  await driver.close();
  return { spawns, durations };
}

async function naive(fake: FakeAdbScenario): Promise<{ spawns: number; durations: number[] }> {
  const runner = new CommandRunner({ timeoutSeconds: 5, env: fake.env });
  const durations: number[] = [];
  for (let i = 0; i < CYCLES; i++) {
    const started = performance.now();
    await runner.run(FAKE_ADB_PATH, ["devices", "-l"]);
    for (const command of ["getprop", "dumpsys battery", "dumpsys thermalservice", "cat /proc/uptime"])
      await runner.run(FAKE_ADB_PATH, ["-s", SERIAL, "shell", command]);
    durations.push((performance.now() - started) / 1000);
  }
  return { spawns: runner.spawns / CYCLES, durations };
}

async function hungCycle(fake: FakeAdbScenario): Promise<number> {
  fake.set("hang", "shell");
  const driver = new AndroidDriver({ adbPath: FAKE_ADB_PATH, commandTimeoutSeconds: 1, log, env: fake.env });
  const result = await driver.probe();
  await driver.close();
  fake.set("hang", undefined);
  if (!result.problem?.timedOut) throw new Error("the hung probe did not time out");
  return result.durationSeconds;
}

const fake = new FakeAdbScenario();
try {
  fake.devices([[SERIAL, "device", "pixel3a-sargo-q"]]);
  const base = await naive(fake);
  const mine = await ours(fake);
  const hung = await hungCycle(fake);
  const maxSpawns = Math.max(...mine.spawns);
  const p50 = percentile(mine.durations, 50);
  const baseP50 = percentile(base.durations, 50);
  printBenchReport({
    title: "Android probe cycle (adb)",
    description: `${CYCLES} healthy probe cycles of the android driver against the scripted fake adb (a POSIX sh script, so durations are mostly process start-up; a real adb over USB adds its own latency). Baseline: the same reads with one \`adb shell\` per section, measured in the same run. "Hung": \`adb shell\` never returns and the 1 s command timeout kills its process group.`,
    rows: [
      { name: "adb spawns per healthy cycle (max)", value: String(maxSpawns), target: "<= 2", pass: maxSpawns <= 2 },
      { name: "adb spawns per cycle, baseline", value: String(base.spawns) },
      { name: "probe duration p50", value: ms(p50) },
      { name: "probe duration p99", value: ms(percentile(mine.durations, 99)) },
      { name: "probe duration p50, baseline", value: ms(baseP50) },
      {
        name: "probe duration p50 vs baseline",
        value: `${(p50 / baseP50).toFixed(2)}x baseline`,
        target: "< 1x",
        pass: p50 < baseP50,
      },
      {
        name: "probe duration with adb shell hung (timeout 1 s)",
        value: ms(hung),
        target: "< 1.5 s",
        pass: hung < 1.5,
      },
    ],
  });
} finally {
  fake.remove();
}
