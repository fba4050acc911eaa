import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createMetricsRegistry } from "@rpi-swarming/core";
import { capturingLogger } from "@rpi-swarming/core/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scratchDir } from "./__fixtures__/helpers.js";
import { MemoryPower } from "./__fixtures__/memory-power.js";
import { StateServerMetrics } from "./metrics.js";
import { POWER_CYCLE_HISTORY_FILE, PowerCycler } from "./power-cycler.js";

let scratch: ReturnType<typeof scratchDir>;
let file: string;
let clock: number;
beforeEach(() => {
  scratch = scratchDir();
  file = join(scratch.dir, POWER_CYCLE_HISTORY_FILE);
  clock = 1_800_000_000_000;
});
afterEach(() => scratch.cleanup());

/** A power cycler as the state server makes one, keeping its history in `historyFile` (null: none). */
function cycler(historyFile: string | null = file) {
  const { log, lines } = capturingLogger();
  const controller = new MemoryPower();
  const power = new PowerCycler({
    controller,
    offSeconds: 0,
    settleSeconds: 90,
    limits: { perHour: 2, cooldownSeconds: 600 },
    metrics: new StateServerMetrics(createMetricsRegistry("h-bot")),
    log,
    now: () => clock,
    historyFile: historyFile ?? undefined,
  });
  return { power, controller, lines };
}

describe("PowerCycler history", () => {
  it("keeps the cap and the cool-down across a restart (the history file in the shared dir)", async () => {
    const first = cycler();
    await first.power.cycle({ serial: "S1" }, "recovery");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ started: [clock] });
    clock += 60_000;
    // As after a crash of the state server: a new cycler reads the same file.
    const second = cycler();
    expect(second.power.history).toEqual([clock - 60_000]);
    expect(second.power.refusal()?.reason).toBe("cooling_down");
    clock += 600_000;
    expect(second.power.refusal()).toBeUndefined();
    await second.power.cycle({ serial: "S1" }, "recovery");
    clock += 600_000;
    // Two within the hour: the cap holds a third back, also after another restart.
    expect(cycler().power.refusal()?.reason).toBe("capped");
  });

  it("writes the cycle down before switching, so a state server killed mid-cycle still counts it", async () => {
    const { power, controller } = cycler();
    let release = () => {};
    controller.offGate = new Promise((r) => {
      release = r;
    });
    const cycling = power.cycle({ serial: "S1" }, "requested");
    while (controller.calls.length === 0) await new Promise((r) => setImmediate(r));
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ started: [clock] });
    release();
    await cycling;
  });

  it("forgets cycles older than a day, and reads a malformed or unreadable file as no history, saying so", () => {
    writeFileSync(file, JSON.stringify({ started: [clock - 90_000_000, clock - 1000] }));
    expect(cycler().power.history).toEqual([clock - 1000]);

    writeFileSync(file, "{not json");
    const malformed = cycler();
    expect(malformed.power.history).toEqual([]);
    expect(malformed.lines.map((l) => l.msg)).toContain(
      "the power-cycle history is malformed: the cap and cool-down start afresh",
    );

    writeFileSync(file, JSON.stringify({ started: ["yesterday"] }));
    expect(cycler().power.history).toEqual([]);

    const dir = join(scratch.dir, "a-dir");
    mkdirSync(dir);
    const unreadable = cycler(dir);
    expect(unreadable.power.history).toEqual([]);
    expect(unreadable.lines.map((l) => l.msg)).toContain("cannot read the power-cycle history");
  });

  it("goes on power-cycling when the history cannot be written, and says so", async () => {
    const ro = join(scratch.dir, "read-only");
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    const { power, controller, lines } = cycler(join(ro, POWER_CYCLE_HISTORY_FILE));
    await power.cycle({ serial: "S1" }, "recovery");
    expect(controller.calls).toEqual(["off S1", "on S1"]);
    // root ignores the mode bits: then the write succeeds and nothing is logged.
    if (process.getuid?.() !== 0) expect(lines.map((l) => l.msg)).toContain("cannot keep the power-cycle history");
    expect(power.history).toEqual([clock]);
  });

  it("without a history file keeps the times in memory only", async () => {
    const { power } = cycler(null);
    await power.cycle({ serial: "S1" }, "recovery");
    expect(cycler(null).power.history).toEqual([]);
  });
});
