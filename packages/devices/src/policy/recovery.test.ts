import { describe, expect, it } from "vitest";
import type { ProbeResult, ProblemCode, RecoveryAction } from "../types.js";
import type { RebootStatus } from "./health.js";
import {
  decideRecovery,
  IDLE_LADDER,
  type LadderState,
  ladderAfterStep,
  powerCycleRefusal,
  RECOVERY_LADDER,
  RECOVERY_RUNGS,
  type RecoveryDecision,
  type RecoveryInput,
  rebootAfterTask,
  type StepOutcome,
} from "./recovery.js";

const NOW = 1_800_000_000_000;
const settings = { rebootTimeoutSeconds: 120 };

const answering: ProbeResult = {
  kind: "android",
  finishedAt: NOW,
  durationSeconds: 0.1,
  spawns: 2,
  device: { serial: "8A2Y0B3C", connection: "device", dimensions: {}, temperaturesCelsius: {} },
};
const failing = (code: ProblemCode): ProbeResult => ({
  kind: "android",
  finishedAt: NOW,
  durationSeconds: 0.1,
  spawns: 1,
  problem: { code, serial: "8A2Y0B3C", message: code },
});
const revived: ProbeResult = { ...answering, problem: { code: "offline", message: "reconnect revived it" } };

const rebooting = (cause: RebootStatus["cause"], secondsAgo: number): RebootStatus => ({
  cause,
  startedAt: NOW - secondsAgo * 1000,
  timeoutSeconds: settings.rebootTimeoutSeconds,
});
const ladder = (tried: RecoveryAction[], reboot?: RebootStatus, rebootTimeoutReported = false): LadderState => ({
  tried,
  reboot,
  rebootTimeoutReported,
});
const UP_TO_REBOOT: RecoveryAction[] = ["reconnect", "restart_server", "reboot"];
const ALL: RecoveryAction[] = [...UP_TO_REBOOT, "power_cycle"];

interface Row {
  readonly name: string;
  readonly probe: ProbeResult;
  readonly ladder?: LadderState;
  /** Defaults to the ladder's reboot: the reboot was under way before the probe. */
  readonly rebootAtProbeStart?: RebootStatus | "none";
  readonly taskRunning?: boolean;
  readonly unsupported?: RecoveryAction[];
  readonly expected: RecoveryDecision;
}

const rows: Row[] = [
  {
    name: "a device that answers stays off the ladder",
    probe: answering,
    expected: { step: undefined, ladder: IDLE_LADDER, event: { kind: "answered", tried: [] } },
  },
  {
    name: "a device that answers again leaves the ladder",
    probe: answering,
    ladder: ladder(["reconnect", "restart_server"]),
    expected: {
      step: undefined,
      ladder: IDLE_LADDER,
      event: { kind: "answered", tried: ["reconnect", "restart_server"] },
    },
  },
  {
    name: "a device that answered with a note (reconnect revived it) counts as answering",
    probe: revived,
    expected: { step: undefined, ladder: IDLE_LADDER, event: { kind: "answered", tried: [] } },
  },
  {
    name: "the first failure takes the bottom step",
    probe: failing("offline"),
    expected: { step: "reconnect", ladder: ladder(["reconnect"]), event: { kind: "step", step: "reconnect" } },
  },
  {
    name: "one step per cycle: the next failure takes the next step",
    probe: failing("probe_failed"),
    ladder: ladder(["reconnect"]),
    expected: {
      step: "restart_server",
      ladder: ladder(["reconnect", "restart_server"]),
      event: { kind: "step", step: "restart_server" },
    },
  },
  {
    name: "reboot comes after restart_server",
    probe: failing("device_missing"),
    ladder: ladder(["reconnect", "restart_server"]),
    expected: { step: "reboot", ladder: ladder(UP_TO_REBOOT), event: { kind: "step", step: "reboot" } },
  },
  {
    name: "after the last rung the device stays quarantined",
    probe: failing("device_missing"),
    ladder: ladder(ALL),
    expected: { step: undefined, ladder: ladder(ALL), event: { kind: "exhausted" } },
  },
  {
    name: "power_cycle comes after reboot",
    probe: failing("device_missing"),
    ladder: ladder(UP_TO_REBOOT),
    expected: { step: "power_cycle", ladder: ladder(ALL), event: { kind: "step", step: "power_cycle" } },
  },
  {
    name: "without a power controller (power_cycle unsupported) the ladder ends after reboot",
    probe: failing("device_missing"),
    ladder: ladder(UP_TO_REBOOT),
    unsupported: ["power_cycle"],
    expected: { step: undefined, ladder: ladder(UP_TO_REBOOT), event: { kind: "exhausted" } },
  },
  {
    name: "never a power cycle during a task",
    probe: failing("device_missing"),
    ladder: ladder(UP_TO_REBOOT),
    taskRunning: true,
    expected: { step: undefined, ladder: ladder(UP_TO_REBOOT), event: { kind: "deferred", step: "power_cycle" } },
  },
  {
    name: "steps the driver does not support are skipped",
    probe: failing("device_missing"),
    unsupported: ["reconnect", "restart_server"],
    expected: { step: "reboot", ladder: ladder(["reboot"]), event: { kind: "step", step: "reboot" } },
  },
  {
    name: "a driver that supports no step leaves the device quarantined",
    probe: failing("offline"),
    unsupported: ALL,
    expected: { step: undefined, ladder: IDLE_LADDER, event: { kind: "exhausted" } },
  },
  {
    name: "never a step during a task",
    probe: failing("offline"),
    ladder: ladder(["reconnect"]),
    taskRunning: true,
    expected: { step: undefined, ladder: ladder(["reconnect"]), event: { kind: "deferred", step: "restart_server" } },
  },
  ...(["unauthorized", "no_permissions", "several_devices", "tool_missing"] as const).map(
    (code): Row => ({
      name: `${code} needs a person, not a step`,
      probe: failing(code),
      expected: { step: undefined, ladder: IDLE_LADDER, event: { kind: "needs_a_person" } },
    }),
  ),
  {
    name: "while a reboot runs the device is only watched",
    probe: failing("device_missing"),
    ladder: ladder(UP_TO_REBOOT, rebooting("recovery", 30)),
    expected: {
      step: undefined,
      ladder: ladder(UP_TO_REBOOT, rebooting("recovery", 30)),
      event: { kind: "waiting_for_reboot" },
    },
  },
  {
    name: "back in time after the ladder's reboot: the reboot step succeeded and the ladder is left",
    probe: answering,
    ladder: ladder(UP_TO_REBOOT, rebooting("recovery", 40)),
    expected: {
      step: undefined,
      ladder: IDLE_LADDER,
      event: { kind: "back_after_reboot", cause: "recovery", seconds: 40, inTime: true, step: "reboot" },
    },
  },
  {
    name: "back late after a reboot after a task: not in time, no ladder step",
    probe: answering,
    ladder: ladder([], rebooting("after_task", 200), true),
    expected: {
      step: undefined,
      ladder: IDLE_LADDER,
      event: { kind: "back_after_reboot", cause: "after_task", seconds: 200, inTime: false, step: undefined },
    },
  },
  {
    name: "a reboot past its timeout is reported once",
    probe: failing("device_missing"),
    ladder: ladder(UP_TO_REBOOT, rebooting("recovery", 121)),
    expected: {
      step: undefined,
      ladder: ladder(UP_TO_REBOOT, rebooting("recovery", 121), true),
      event: { kind: "reboot_timed_out", cause: "recovery", timeoutSeconds: 120, step: "reboot" },
    },
  },
  {
    name: "a reboot past its timeout already reported, without a power controller: only watched",
    probe: failing("device_missing"),
    ladder: ladder([], rebooting("requested", 500), true),
    unsupported: ["power_cycle"],
    expected: {
      step: undefined,
      ladder: ladder([], rebooting("requested", 500), true),
      event: { kind: "waiting_for_reboot" },
    },
  },
  {
    name: "the ladder's reboot past its timeout (reported): the power cycle comes next",
    probe: failing("device_missing"),
    ladder: ladder(UP_TO_REBOOT, rebooting("recovery", 130), true),
    expected: { step: "power_cycle", ladder: ladder(ALL), event: { kind: "step", step: "power_cycle" } },
  },
  {
    name: "any reboot past its timeout (a phone stuck after the reboot after a task) gets a power cycle",
    probe: failing("device_missing"),
    ladder: ladder([], rebooting("after_task", 500), true),
    expected: { step: "power_cycle", ladder: ladder(["power_cycle"]), event: { kind: "step", step: "power_cycle" } },
  },
  {
    name: "not while a task runs: the power cycle after a reboot timeout is deferred",
    probe: failing("device_missing"),
    ladder: ladder(UP_TO_REBOOT, rebooting("recovery", 130), true),
    taskRunning: true,
    expected: {
      step: undefined,
      ladder: ladder(UP_TO_REBOOT, rebooting("recovery", 130), true),
      event: { kind: "deferred", step: "power_cycle" },
    },
  },
  {
    name: "a power cycle asked for that timed out: only watched, not cycled again",
    probe: failing("device_missing"),
    ladder: ladder([], { ...rebooting("requested", 500), via: "power_cycle" }, true),
    expected: {
      step: undefined,
      ladder: ladder([], { ...rebooting("requested", 500), via: "power_cycle" }, true),
      event: { kind: "waiting_for_reboot" },
    },
  },
  {
    name: "a power cycle past its own timeout: only watched (one power cycle per climb)",
    probe: failing("device_missing"),
    ladder: ladder(ALL, { ...rebooting("recovery", 500), via: "power_cycle" }, true),
    expected: {
      step: undefined,
      ladder: ladder(ALL, { ...rebooting("recovery", 500), via: "power_cycle" }, true),
      event: { kind: "waiting_for_reboot" },
    },
  },
  {
    name: "a reboot that began while the probe ran makes its answer moot",
    probe: answering,
    ladder: ladder([], rebooting("requested", 0)),
    rebootAtProbeStart: "none",
    expected: {
      step: undefined,
      ladder: ladder([], rebooting("requested", 0)),
      event: { kind: "reboot_began_during_probe" },
    },
  },
];

describe("decideRecovery", () => {
  for (const row of rows) {
    it(row.name, () => {
      const l = row.ladder ?? IDLE_LADDER;
      const input: RecoveryInput = {
        probe: row.probe,
        rebootAtProbeStart: row.rebootAtProbeStart === "none" ? undefined : (row.rebootAtProbeStart ?? l.reboot),
        taskRunning: row.taskRunning ?? false,
        ladder: l,
        capabilities: { unsupported: new Set(row.unsupported ?? []) },
        settings,
        now: NOW,
      };
      expect(decideRecovery(input)).toEqual(row.expected);
    });
  }

  it("walks the whole ladder in the order of its rungs", () => {
    expect(RECOVERY_LADDER).toEqual(RECOVERY_RUNGS.map((r) => r.step));
    let l = IDLE_LADDER;
    const taken: (RecoveryAction | undefined)[] = [];
    for (let i = 0; i <= RECOVERY_LADDER.length; i++) {
      const d = decideRecovery({
        probe: failing("offline"),
        rebootAtProbeStart: undefined,
        taskRunning: false,
        ladder: l,
        capabilities: { unsupported: new Set() },
        settings,
        now: NOW,
      });
      taken.push(d.step);
      l = { ...d.ladder, reboot: undefined };
    }
    expect(taken).toEqual([...RECOVERY_LADDER, undefined]);
  });
});

describe("ladderAfterStep", () => {
  const table: [RecoveryAction, StepOutcome, LadderState][] = [
    ["reconnect", "cured", IDLE_LADDER],
    ["reconnect", "done", ladder(["reconnect"])],
    ["reconnect", "failed", ladder(["reconnect"])],
    ["restart_server", "done", ladder(["reconnect"])],
    ["reboot", "failed", ladder(["reconnect"])],
    ["reboot", "done", ladder(["reconnect"], { cause: "recovery", startedAt: NOW, timeoutSeconds: 120 })],
  ];
  for (const [step, outcome, expected] of table)
    it(`${step} ${outcome}`, () => {
      expect(ladderAfterStep(ladder(["reconnect"]), step, outcome, settings, NOW)).toEqual(expected);
    });

  const requested = rebooting("requested", 3);
  const meanwhile: [RecoveryAction, StepOutcome, LadderState][] = [
    ["reconnect", "cured", ladder([], requested)],
    ["reconnect", "done", ladder(["reconnect"], requested)],
    ["reconnect", "failed", ladder(["reconnect"], requested)],
    ["reboot", "done", ladder(["reconnect"], { cause: "recovery", startedAt: NOW, timeoutSeconds: 120 })],
  ];
  for (const [step, outcome, expected] of meanwhile)
    it(`${step} ${outcome}, while a reboot was asked for during the step`, () => {
      const current = ladder(["reconnect"], requested);
      expect(ladderAfterStep(ladder(["reconnect"]), step, outcome, settings, NOW, current)).toEqual(expected);
    });
});

describe("rebootAfterTask", () => {
  it.each([
    [true, true, IDLE_LADDER, true],
    [false, true, IDLE_LADDER, false],
    [true, false, IDLE_LADDER, false],
    [true, true, ladder([], rebooting("requested", 5)), false],
  ])("rebootAfterTask %s, device %s, ladder %o: %s", (setting, hasDevice, l, expected) => {
    expect(rebootAfterTask({ rebootAfterTask: setting }, hasDevice, l)).toBe(expected);
  });
});

describe("power cycle limits", () => {
  const limits = { perHour: 3, cooldownSeconds: 600 };
  const minutesAgo = (...m: number[]) => m.map((x) => NOW - x * 60_000);
  const decide = (history: readonly number[], l: LadderState = ladder(UP_TO_REBOOT)) =>
    decideRecovery({
      probe: failing("device_missing"),
      rebootAtProbeStart: l.reboot,
      taskRunning: false,
      ladder: l,
      capabilities: { unsupported: new Set() },
      settings,
      power: { limits, history },
      now: NOW,
    });

  it("allows a power cycle with no recent ones, and one after the cool-down", () => {
    expect(powerCycleRefusal(limits, [], NOW)).toBeUndefined();
    expect(powerCycleRefusal(limits, minutesAgo(10, 70, 80, 90), NOW)).toBeUndefined();
    expect(decide(minutesAgo(11)).step).toBe("power_cycle");
  });

  it("holds a power cycle during the cool-down and says when it may run", () => {
    expect(powerCycleRefusal(limits, minutesAgo(4), NOW)).toMatchObject({
      reason: "cooling_down",
      retryAfterSeconds: 360,
    });
  });

  it("caps power cycles per hour; the oldest leaving the hour frees one", () => {
    const refusal = powerCycleRefusal(limits, minutesAgo(50, 30, 15), NOW);
    expect(refusal).toMatchObject({ reason: "capped", retryAfterSeconds: 600 });
    expect(refusal?.message).toMatch(/power-cycled 3 times in the last hour \(powerCyclesPerHour 3\)/);
  });

  it("a cap of 0 never lets the ladder power-cycle", () => {
    expect(powerCycleRefusal({ perHour: 0, cooldownSeconds: 0 }, [], NOW)).toMatchObject({ reason: "capped" });
  });

  it("a held power cycle ends the ladder once (reported once), then the device stays quarantined", () => {
    const held = decide(minutesAgo(50, 30, 15));
    expect(held.step).toBeUndefined();
    expect(held.event).toMatchObject({ kind: "power_cycle_held", refusal: { reason: "capped" } });
    expect(held.ladder).toEqual({ ...ladder(UP_TO_REBOOT), powerCycleHeld: "capped" });
    // Even once the cap would allow it, a held ladder stays exhausted until the device answers.
    const next = decide([], held.ladder);
    expect(next).toEqual({ step: undefined, ladder: held.ladder, event: { kind: "exhausted" } });
  });

  it("a device that answers leaves the held ladder and may climb again", () => {
    const held = { ...ladder(UP_TO_REBOOT), powerCycleHeld: "cooling_down" as const };
    const d = decideRecovery({
      probe: answering,
      rebootAtProbeStart: undefined,
      taskRunning: false,
      ladder: held,
      capabilities: { unsupported: new Set() },
      settings,
      now: NOW,
    });
    expect(d.ladder).toEqual(IDLE_LADDER);
    expect("powerCycleHeld" in d.ladder).toBe(false);
  });

  it("a power cycle held back after a reboot timeout leaves the reboot watched, marked held", () => {
    const timedOut = ladder(UP_TO_REBOOT, rebooting("recovery", 130), true);
    const held = decide(minutesAgo(5), timedOut);
    expect(held.step).toBeUndefined();
    expect(held.event).toMatchObject({ kind: "power_cycle_held", refusal: { reason: "cooling_down" } });
    expect(held.ladder).toEqual({ ...timedOut, powerCycleHeld: "cooling_down" });
    expect(decide([], held.ladder).event).toEqual({ kind: "waiting_for_reboot" });
  });

  it("a power cycle waits for the device with powerSettleSeconds and is marked as a power cycle", () => {
    const after = ladderAfterStep(ladder(ALL), "power_cycle", "done", { ...settings, powerSettleSeconds: 90 }, NOW);
    expect(after.reboot).toEqual({ cause: "recovery", via: "power_cycle", startedAt: NOW, timeoutSeconds: 90 });
    const reboot = { ...(after.reboot as RebootStatus), startedAt: NOW - 30_000 };
    const back = decideRecovery({
      probe: answering,
      rebootAtProbeStart: reboot,
      taskRunning: false,
      ladder: { ...after, reboot },
      capabilities: { unsupported: new Set() },
      settings,
      now: NOW,
    });
    expect(back.event).toEqual({
      kind: "back_after_reboot",
      cause: "recovery",
      seconds: 30,
      inTime: true,
      step: "power_cycle",
    });
  });
});
