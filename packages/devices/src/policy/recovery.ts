import type { ProbeResult, ProblemCode, RecoveryAction } from "../types.js";
import type { RebootStatus } from "./health.js";

/**
 * One rung of the recovery ladder. `afterwards` says what follows a step the driver
 * took: `probe` probes again at once; `await_return` means the device is gone
 * for a while (a reboot): it is in maintenance until it answers or
 * rebootTimeoutSeconds pass, then quarantined.
 */
export interface RecoveryRung {
  readonly step: RecoveryAction;
  readonly afterwards: "probe" | "await_return";
}

/**
 * The recovery ladder, tried bottom up, one step per failing probe cycle;
 * after the last rung the device stays quarantined. A new rung is added here
 * and in RecoveryAction. power_cycle is unsupported without a power controller.
 */
export const RECOVERY_RUNGS: readonly RecoveryRung[] = [
  { step: "reconnect", afterwards: "probe" },
  { step: "restart_server", afterwards: "probe" },
  { step: "reboot", afterwards: "await_return" },
  { step: "power_cycle", afterwards: "await_return" },
];

/** The steps of RECOVERY_RUNGS in order. */
export const RECOVERY_LADDER: readonly RecoveryAction[] = RECOVERY_RUNGS.map((r) => r.step);

/** Problems a recovery step may cure; the others need a person (cable, key, udev rule, tool). */
export const RECOVERABLE_PROBLEMS: ReadonlySet<ProblemCode> = new Set(["offline", "probe_failed", "device_missing"]);

/** Where the device is on the ladder. */
export interface LadderState {
  /** Steps taken since the device last answered, in order. */
  readonly tried: readonly RecoveryAction[];
  /** Set from the moment a reboot starts (any cause) until the device answers again. */
  readonly reboot: RebootStatus | undefined;
  /** The current reboot's timeout has been reported (it is reported once). */
  readonly rebootTimeoutReported: boolean;
  /** Set when the power cycle was held back (cap or cool-down): the ladder ends there until the device answers. */
  readonly powerCycleHeld?: PowerCycleRefusal["reason"];
}

export const IDLE_LADDER: LadderState = { tried: [], reboot: undefined, rebootTimeoutReported: false };

export interface DriverCapabilities {
  /** Steps the driver said do not apply to its devices (e.g. reconnect on iOS); skipped. */
  readonly unsupported: ReadonlySet<RecoveryAction>;
}

export interface RecoverySettings {
  readonly rebootTimeoutSeconds: number;
  /** How long a device may take to answer after its power returns; default rebootTimeoutSeconds. */
  readonly powerSettleSeconds?: number;
}

/** Limits on power cycles of one device: a phone that keeps failing is quarantined, not cycled forever. */
export interface PowerCycleLimits {
  /** At most this many power cycles in any hour (0: none by the ladder). */
  readonly perHour: number;
  /** At least this long between two power cycles. */
  readonly cooldownSeconds: number;
}

/** Why a power cycle may not happen now, and when it may. */
export interface PowerCycleRefusal {
  readonly reason: "capped" | "cooling_down";
  readonly retryAfterSeconds: number;
  readonly message: string;
}

const HOUR_MS = 3_600_000;

/**
 * Whether the limits allow a power cycle now, given when the earlier ones
 * started (ms since the epoch, any order); undefined when they do.
 */
export function powerCycleRefusal(
  limits: PowerCycleLimits,
  history: readonly number[],
  now: number,
): PowerCycleRefusal | undefined {
  const recent = history.filter((t) => now - t < HOUR_MS).sort((a, b) => a - b);
  const last = recent.at(-1);
  if (recent.length >= limits.perHour) {
    // The oldest of the hour must leave the window before the next one; with a cap of 0 never.
    const oldest = recent[recent.length - limits.perHour];
    const retryAfterSeconds = oldest === undefined ? 3600 : Math.ceil((oldest + HOUR_MS - now) / 1000);
    return {
      reason: "capped",
      retryAfterSeconds,
      message: `the device was power-cycled ${recent.length} times in the last hour (powerCyclesPerHour ${limits.perHour})`,
    };
  }
  if (last !== undefined && now - last < limits.cooldownSeconds * 1000) {
    const retryAfterSeconds = Math.ceil((last + limits.cooldownSeconds * 1000 - now) / 1000);
    return {
      reason: "cooling_down",
      retryAfterSeconds,
      message: `the last power cycle was ${Math.round((now - last) / 1000)} s ago (powerCycleCooldownSeconds ${limits.cooldownSeconds})`,
    };
  }
  return undefined;
}

export interface RecoveryInput {
  /** The probe of this cycle. */
  readonly probe: ProbeResult;
  /** The reboot under way when the probe started; one begun since makes the probe's answer moot. */
  readonly rebootAtProbeStart: RebootStatus | undefined;
  readonly taskRunning: boolean;
  readonly ladder: LadderState;
  readonly capabilities: DriverCapabilities;
  readonly settings: RecoverySettings;
  /** Limits and past power cycles (ms since the epoch); without them power_cycle is never held. */
  readonly power?: { readonly limits: PowerCycleLimits; readonly history: readonly number[] };
  /** ms since the epoch. */
  readonly now: number;
}

/** Why the decision is what it is; the monitor logs and counts these. */
export type RecoveryEvent =
  | { readonly kind: "reboot_began_during_probe" }
  | { readonly kind: "waiting_for_reboot" }
  | {
      readonly kind: "back_after_reboot";
      readonly cause: RebootStatus["cause"];
      readonly seconds: number;
      /** False for a device that came back after its timeout (already counted as a timeout). */
      readonly inTime: boolean;
      /** The ladder step that rebooted it, for cause "recovery". */
      readonly step: RecoveryAction | undefined;
    }
  | {
      readonly kind: "reboot_timed_out";
      readonly cause: RebootStatus["cause"];
      readonly timeoutSeconds: number;
      readonly step: RecoveryAction | undefined;
    }
  | { readonly kind: "answered"; readonly tried: readonly RecoveryAction[] }
  | { readonly kind: "needs_a_person" }
  | { readonly kind: "deferred"; readonly step: RecoveryAction }
  | { readonly kind: "exhausted" }
  | { readonly kind: "power_cycle_held"; readonly refusal: PowerCycleRefusal }
  | { readonly kind: "step"; readonly step: RecoveryAction };

export interface RecoveryDecision {
  /** The step to take now; undefined for none. */
  readonly step: RecoveryAction | undefined;
  /** The ladder once the step is taken (it counts as tried); commit it unless the driver refuses the step. */
  readonly ladder: LadderState;
  readonly event: RecoveryEvent;
}

function sameReboot(a: RebootStatus | undefined, b: RebootStatus | undefined): boolean {
  return a?.cause === b?.cause && a?.startedAt === b?.startedAt;
}

/** The rung of a step. */
export function recoveryRung(step: RecoveryAction): RecoveryRung {
  const rung = RECOVERY_RUNGS.find((r) => r.step === step);
  if (!rung) throw new Error(`no recovery rung for step ${step}`);
  return rung;
}

/** The step that rebooted the device for cause "recovery": the last one tried that ends in a wait. */
function awaitingStep(ladder: LadderState): RecoveryAction | undefined {
  if (ladder.reboot?.cause !== "recovery") return undefined;
  return [...ladder.tried].reverse().find((s) => recoveryRung(s).afterwards === "await_return");
}

/**
 * The recovery policy: pure, so every rule is unit-tested; the monitor does
 * the I/O. Rules: a device that answers leaves the ladder; only problems a
 * step may cure climb it; steps go bottom up, one per cycle, skipping those
 * the driver does not support; none while a task runs; while a reboot runs
 * the device is only watched (back in time, or timed out once).
 */
export function decideRecovery(input: RecoveryInput): RecoveryDecision {
  const { probe, ladder, now } = input;
  const none = (event: RecoveryEvent, next: LadderState = ladder): RecoveryDecision => ({
    step: undefined,
    ladder: next,
    event,
  });
  // A device in the result answered, even with a note such as "was offline, reconnect helped".
  const answered = probe.device !== undefined;
  const reboot = ladder.reboot;

  if (reboot && !sameReboot(reboot, input.rebootAtProbeStart)) return none({ kind: "reboot_began_during_probe" });
  if (reboot) {
    const step = awaitingStep(ladder);
    if (answered) {
      const seconds = Math.round((now - reboot.startedAt) / 1000);
      return none(
        { kind: "back_after_reboot", cause: reboot.cause, seconds, inTime: seconds <= reboot.timeoutSeconds, step },
        IDLE_LADDER,
      );
    }
    const timedOut = now - reboot.startedAt > reboot.timeoutSeconds * 1000;
    if (timedOut && !ladder.rebootTimeoutReported)
      return none(
        { kind: "reboot_timed_out", cause: reboot.cause, timeoutSeconds: reboot.timeoutSeconds, step },
        { ...ladder, rebootTimeoutReported: true },
      );
    // Gone past its reboot timeout (any cause): reconnect and adb cannot reach it, a power cycle may.
    if (timedOut && reboot.via !== "power_cycle" && powerCycleOpen(input))
      return powerCycleStep(input, { ...ladder, reboot: undefined, rebootTimeoutReported: false }, ladder);
    return none({ kind: "waiting_for_reboot" });
  }
  if (answered) {
    const { powerCycleHeld: _held, ...rest } = ladder;
    return none({ kind: "answered", tried: ladder.tried }, { ...rest, tried: [] });
  }
  if (!probe.problem || !RECOVERABLE_PROBLEMS.has(probe.problem.code)) return none({ kind: "needs_a_person" });

  const step = RECOVERY_LADDER.find(
    (s) =>
      !ladder.tried.includes(s) &&
      !input.capabilities.unsupported.has(s) &&
      !(s === "power_cycle" && ladder.powerCycleHeld),
  );
  if (!step) return none({ kind: "exhausted" });
  if (step === "power_cycle") return powerCycleStep(input, ladder, ladder);
  if (input.taskRunning) return none({ kind: "deferred", step });
  return { step, ladder: { ...ladder, tried: [...ladder.tried, step] }, event: { kind: "step", step } };
}

/** Whether the power_cycle rung is still open: a controller, not tried yet, not held back. */
function powerCycleOpen(input: RecoveryInput): boolean {
  const { ladder } = input;
  return (
    !input.capabilities.unsupported.has("power_cycle") &&
    !ladder.tried.includes("power_cycle") &&
    !ladder.powerCycleHeld
  );
}

/**
 * The power_cycle step from `from` (the ladder it starts from), unless a task
 * runs or the limits hold it back; then nothing changes but `unchanged` is
 * marked held, once: the ladder ends there (quarantine) until the device answers.
 */
function powerCycleStep(input: RecoveryInput, from: LadderState, unchanged: LadderState): RecoveryDecision {
  const step = "power_cycle";
  if (input.taskRunning) return { step: undefined, ladder: unchanged, event: { kind: "deferred", step } };
  const refusal = input.power && powerCycleRefusal(input.power.limits, input.power.history, input.now);
  if (refusal)
    return {
      step: undefined,
      ladder: { ...unchanged, powerCycleHeld: refusal.reason },
      event: { kind: "power_cycle_held", refusal },
    };
  return { step, ladder: { ...from, tried: [...from.tried, step] }, event: { kind: "step", step } };
}

/** How a step the driver accepted went: it threw (failed), or was done and the device answers (cured) or not (done). */
export type StepOutcome = "failed" | "done" | "cured";

/**
 * The ladder after a step: a cure leaves the ladder; a done step that ends in
 * a wait starts the reboot watch. `current` is the ladder as it is now: a
 * reboot someone started while the step ran (POST /reboot_device) stays
 * watched whatever the step did.
 */
export function ladderAfterStep(
  decided: LadderState,
  step: RecoveryAction,
  outcome: StepOutcome,
  settings: RecoverySettings,
  now: number,
  current: LadderState = decided,
): LadderState {
  let next = decided;
  if (outcome === "cured") next = IDLE_LADDER;
  else if (outcome === "done" && recoveryRung(step).afterwards === "await_return")
    next = {
      ...decided,
      reboot:
        step === "power_cycle"
          ? {
              cause: "recovery",
              via: "power_cycle",
              startedAt: now,
              timeoutSeconds: settings.powerSettleSeconds ?? settings.rebootTimeoutSeconds,
            }
          : { cause: "recovery", startedAt: now, timeoutSeconds: settings.rebootTimeoutSeconds },
      rebootTimeoutReported: false,
    };
  const meanwhile = current.reboot && !sameReboot(current.reboot, decided.reboot) ? current : undefined;
  if (meanwhile && !next.reboot)
    return { ...next, reboot: meanwhile.reboot, rebootTimeoutReported: meanwhile.rebootTimeoutReported };
  return next;
}

/** on_after_task: whether to reboot the device now. */
export function rebootAfterTask(
  settings: { readonly rebootAfterTask: boolean },
  hasDevice: boolean,
  ladder: LadderState,
): boolean {
  return settings.rebootAfterTask && hasDevice && ladder.reboot === undefined;
}
