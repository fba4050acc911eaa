import {
  ConflictError,
  InvalidInputError,
  type Logger,
  NotSupportedError,
  TooManyRequestsError,
} from "@rpi-swarming/core";
import {
  type DeviceDriver,
  type DeviceKind,
  type Dimensions,
  decideRecovery,
  evaluateHealth,
  type Health,
  IDLE_LADDER,
  type LadderState,
  ladderAfterStep,
  MAINTENANCE_REASONS,
  type OperatorMessage,
  type ProbeResult,
  probeTemperatures,
  QUARANTINE_REASONS,
  type RebootStatus,
  type RecoveryAction,
  type RecoveryEvent,
  rebootAfterTask,
  recoveryRung,
  resolveThresholds,
  selectedTemperatures,
  type Thresholds,
} from "@rpi-swarming/devices";
import type { StateServerMetrics } from "./metrics.js";
import type { PowerCycler } from "./power-cycler.js";

/** The ladder's order and rules live in the pure recovery policy (@rpi-swarming/devices policy/recovery.ts). */
export { RECOVERY_LADDER } from "@rpi-swarming/devices";

/** While a device reboots it is probed this often at least, to see it come back soon. */
const REBOOT_PROBE_SECONDS = 5;

export interface MonitorOptions {
  readonly driver: DeviceDriver;
  readonly kind: DeviceKind;
  readonly log: Logger;
  readonly metrics: StateServerMetrics;
  readonly probeIntervalSeconds: number;
  readonly commandTimeoutSeconds: number;
  readonly rebootAfterTask: boolean;
  readonly rebootTimeoutSeconds: number;
  readonly thresholds: Thresholds;
  readonly thresholdsByDeviceType: Readonly<Record<string, Partial<Thresholds>>>;
  /** The power controller's cycler; without one the ladder has no power_cycle rung. */
  readonly power?: PowerCycler | undefined;
  /** The serial setting: the device to power-cycle when the driver has seen none. */
  readonly serial?: string | undefined;
  readonly now?: () => number;
}

/** What POST /power_cycle answers. */
export interface PowerCycleReply {
  readonly result: "ok";
  readonly offSeconds: number;
  /** The device is in maintenance (rebooting) until it answers or this many seconds pass. */
  readonly settleSeconds: number;
}

/** What hooks answer from: replaced as a whole, never waited on. */
export interface Snapshot {
  readonly ready: boolean;
  readonly probe: ProbeResult | undefined;
  /** The device's dimensions from the last probe it answered (kept while it is away). */
  readonly deviceDimensions: Dimensions;
  readonly health: Health;
  readonly taskRunning: boolean;
  readonly taskId: string | null;
  readonly reboot: RebootStatus | undefined;
  readonly recoveryTried: readonly RecoveryAction[];
}

/**
 * Probes the device on a timer and on demand, runs the recovery ladder and
 * the reboot after a task, and keeps the snapshot the hooks read. Probes are
 * never awaited by hooks, so a hung device cannot slow them down.
 */
export class DeviceMonitor {
  private snap: Snapshot;
  private operator: readonly OperatorMessage[] = [];
  private timer: NodeJS.Timeout | undefined;
  private cycle: Promise<void> | undefined;
  /** A driver probe that outlived its watchdog; no new probe starts until it settles. */
  private stuck: Promise<unknown> | undefined;
  private stopped = false;
  /** Ladder steps the driver refused as not applicable (e.g. reconnect on iOS); skipped from then on. */
  private readonly unsupported = new Set<RecoveryAction>();
  /** Where the device is on the recovery ladder; the snapshot shows its reboot and tried steps. */
  private ladder: LadderState = IDLE_LADDER;
  /** temperatureSensors/sensor sets already warned about matching no sensor (a typo would silence the heat check). */
  private readonly unmatchedSensorWarnings = new Set<string>();
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly opts: MonitorOptions) {
    this.log = opts.log.child({ component: "device-monitor", device_kind: opts.kind });
    this.now = opts.now ?? Date.now;
    this.snap = {
      ready: false,
      probe: undefined,
      deviceDimensions: {},
      health: this.evaluate(undefined, undefined, [], undefined),
      taskRunning: false,
      taskId: null,
      reboot: undefined,
      recoveryTried: [],
    };
    this.publishHealth(this.snap.health);
    if (!opts.power) this.unsupported.add("power_cycle");
  }

  get snapshot(): Snapshot {
    return this.snap;
  }

  /** Runs the first probe now and then one every probeIntervalSeconds. */
  start(): void {
    void this.probeNow();
  }

  /**
   * Runs a probe cycle now, or joins the one running. Resolves when it is
   * over; callers that must not wait (hooks) do not await it.
   */
  probeNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.cycle) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.cycle = this.runCycle()
        .catch((err: unknown) => this.log.error({ err }, "probe cycle failed"))
        .finally(() => {
          this.cycle = undefined;
          this.schedule();
        });
    }
    return this.cycle;
  }

  private schedule(): void {
    if (this.stopped) return;
    const seconds = this.snap.reboot
      ? Math.min(this.opts.probeIntervalSeconds, REBOOT_PROBE_SECONDS)
      : this.opts.probeIntervalSeconds;
    this.timer = setTimeout(() => void this.probeNow(), seconds * 1000);
  }

  /** The driver's probe, cut off by a watchdog in case a driver breaks its promise never to hang. */
  private async probeWithWatchdog(): Promise<ProbeResult> {
    const limitSeconds = 4 * this.opts.commandTimeoutSeconds + 5;
    const started = this.now();
    const timedOut = (): ProbeResult => ({
      kind: this.opts.kind,
      finishedAt: this.now(),
      durationSeconds: (this.now() - started) / 1000,
      spawns: 0,
      problem: {
        code: "probe_failed",
        message: `the ${this.opts.kind} driver has not finished a probe within ${limitSeconds} s; restart the state server if this persists`,
        timedOut: true,
      },
    });
    if (this.stuck) return timedOut();
    const probe = this.opts.driver.probe();
    let watchdog: NodeJS.Timeout | undefined;
    const limit = new Promise<"timeout">((resolve) => {
      watchdog = setTimeout(() => resolve("timeout"), limitSeconds * 1000);
    });
    try {
      const winner = await Promise.race([probe, limit]);
      if (winner !== "timeout") return winner;
      this.stuck = probe.finally(() => {
        this.stuck = undefined;
      });
      this.log.error({ limitSeconds }, "driver probe exceeded its watchdog");
      return timedOut();
    } finally {
      clearTimeout(watchdog);
    }
  }

  private async runCycle(): Promise<void> {
    const rebootAtProbeStart = this.ladder.reboot;
    const cyclingAtStart = this.powerSwitching();
    let result = await this.probeWithWatchdog();
    if (this.stopped) return;
    this.countProbe(result);
    // A probe that overlapped a power cycle (asked for over HTTP) may have seen the device before its
    // power went off: it says nothing of the device afterwards. The cycle probes again when the power is back.
    if (cyclingAtStart || this.powerSwitching()) return;
    // A step the driver does not support is skipped in the same cycle: it is no failed attempt.
    for (;;) {
      const decision = decideRecovery({
        probe: result,
        rebootAtProbeStart,
        taskRunning: this.snap.taskRunning,
        ladder: this.ladder,
        capabilities: { unsupported: this.unsupported },
        settings: this.recoverySettings(),
        ...(this.opts.power ? { power: { limits: this.opts.power.limits, history: this.opts.power.history } } : {}),
        now: this.now(),
      });
      this.report(decision.event, result);
      const step = decision.step;
      if (!step) {
        this.ladder = decision.ladder;
        break;
      }
      // Publish the failure before the step: a step and its re-probe can take tens of seconds,
      // and meanwhile the hooks must not answer from the last good probe (the bot would take a task).
      this.update({ probe: result, ready: true });
      const after = await this.recover(step, result);
      if (this.stopped) return;
      if (after === "unsupported") continue;
      const outcome = after === "failed" ? "failed" : after !== "started" && after.device ? "cured" : "done";
      this.ladder = ladderAfterStep(decision.ladder, step, outcome, this.recoverySettings(), this.now(), this.ladder);
      if (after !== "failed" && after !== "started") result = after;
      break;
    }

    if (result.device) this.snap = { ...this.snap, deviceDimensions: result.device.dimensions };
    this.update({ probe: result, ready: true });
  }

  /** A power cycle is switching the device's power right now. */
  private powerSwitching(): boolean {
    return this.opts.power?.running === true;
  }

  private recoverySettings() {
    return {
      rebootTimeoutSeconds: this.opts.rebootTimeoutSeconds,
      ...(this.opts.power ? { powerSettleSeconds: this.opts.power.settleSeconds } : {}),
    };
  }

  /** Logs and counts what the recovery policy saw. */
  private report(event: RecoveryEvent, probe: ProbeResult): void {
    const metrics = this.opts.metrics;
    // A power cycle is counted by rpi_swarming_device_power_cycles_total, not as a device reboot.
    const rebooted = this.ladder.reboot?.via !== "power_cycle";
    switch (event.kind) {
      case "back_after_reboot":
        this.log.info(
          { cause: event.cause, seconds: event.seconds, via: this.ladder.reboot?.via },
          "device answered after reboot",
        );
        // A late return was already counted as a timeout.
        if (event.inTime) {
          if (rebooted) metrics.deviceReboots.inc({ cause: event.cause, result: "success" });
          if (event.step) metrics.recoveryActions.inc({ action: event.step, result: "success" });
        }
        return;
      case "reboot_timed_out":
        this.log.error(
          { cause: event.cause, timeoutSeconds: event.timeoutSeconds, via: this.ladder.reboot?.via },
          "device did not come back after reboot",
        );
        if (rebooted) metrics.deviceReboots.inc({ cause: event.cause, result: "timeout" });
        if (event.step) metrics.recoveryActions.inc({ action: event.step, result: "failure" });
        return;
      case "power_cycle_held":
        this.log.warn(
          { reason: event.refusal.reason, retryAfterSeconds: event.refusal.retryAfterSeconds, problem: probe.problem },
          "power cycle held back: the device stays quarantined",
        );
        this.opts.power?.countRefused(event.refusal.reason);
        return;
      case "answered":
        if (event.tried.length > 0) this.log.info({ recoveryTried: event.tried }, "device answers again");
        return;
      case "deferred":
        this.log.info({ step: event.step, problem: probe.problem?.code }, "recovery deferred: a task is running");
        return;
      default:
        return;
    }
  }

  /**
   * One ladder step; returns the probe taken after it, "started" for a step the device is gone
   * after (a reboot), "failed" when the driver threw, or "unsupported" when the driver says
   * the step does not apply to its devices.
   */
  private async recover(
    step: RecoveryAction,
    before: ProbeResult,
  ): Promise<ProbeResult | "started" | "failed" | "unsupported"> {
    const metrics = this.opts.metrics;
    try {
      if (step === "power_cycle") await this.cyclePower("recovery");
      else await this.opts.driver.recover(step);
    } catch (err) {
      if (err instanceof NotSupportedError) {
        // Not a failure: the ladder goes on without it. Logged once, since the step is not tried again.
        this.unsupported.add(step);
        this.log.debug({ step, reason: err.message }, "recovery step not supported by the driver; skipped");
        return "unsupported";
      }
      this.log.error({ step, problem: before.problem, err }, "recovery step failed");
      metrics.recoveryActions.inc({ action: step, result: "failure" });
      if (step === "reboot") metrics.deviceReboots.inc({ cause: "recovery", result: "failure" });
      return "failed";
    }
    // Logged once the driver has taken the step, so a skipped step leaves only its debug line.
    this.log.warn({ step, problem: before.problem }, "recovery step");
    if (recoveryRung(step).afterwards === "await_return") return "started";
    const after = await this.probeWithWatchdog();
    this.countProbe(after);
    const ok = after.device !== undefined;
    metrics.recoveryActions.inc({ action: step, result: ok ? "success" : "failure" });
    this.log.info({ step, ok, problem: after.problem }, "recovery step done");
    return after;
  }

  private countProbe(result: ProbeResult): void {
    const m = this.opts.metrics;
    m.probes.inc();
    m.probeDuration.observe(result.durationSeconds);
    m.lastProbe.set(result.finishedAt / 1000);
    if (result.problem) m.probeErrors.inc({ reason: result.problem.timedOut ? "timeout" : result.problem.code });
    if (result.problem)
      this.log.debug({ problem: result.problem, simulated: result.simulated }, "probe found a problem");
  }

  /** Operator messages from the maintenance directory. */
  setOperatorMessages(messages: readonly OperatorMessage[]): void {
    this.operator = messages;
    this.update({});
  }

  /** on_before_task: from now until the task ends no recovery step or reboot runs. */
  taskStarted(taskId: string | null): void {
    this.log.info({ taskId }, "task started");
    this.update({ taskRunning: true, taskId });
  }

  /** on_after_task: the task is over; reboots the device when configured. Returns whether it reboots. */
  taskEnded(): boolean {
    const wasRunning = this.snap.taskRunning;
    this.log.info({ taskId: this.snap.taskId, wasRunning }, "task ended");
    const reboot = rebootAfterTask(this.opts, this.opts.kind !== "none", this.ladder);
    if (!reboot) {
      this.update({ taskRunning: false, taskId: null });
      // A task may have drained or heated the device: look now rather than at the next tick.
      void this.probeNow();
      return false;
    }
    this.update({ taskRunning: false, taskId: null });
    void this.reboot("after_task").catch(() => undefined);
    return true;
  }

  /**
   * Reboots the device now (the supervisor asks when the bot wants a host
   * reboot). Refused while a task runs or for a host without a device;
   * resolves once the reboot has started.
   */
  async rebootDevice(reason: string | undefined): Promise<void> {
    if (this.opts.kind === "none") throw new InvalidInputError("there is no device to reboot (device none)");
    if (this.snap.taskRunning)
      throw new ConflictError(
        `a task is running (${this.snap.taskId ?? "no id"}); the device is not rebooted under it`,
      );
    this.log.info({ reason }, "device reboot requested");
    if (this.snap.reboot) return;
    await this.reboot("requested");
  }

  /** Starts a reboot: maintenance `rebooting` at once, probed until the device is back or the time is up. */
  private async reboot(cause: RebootStatus["cause"]): Promise<void> {
    const reboot = { cause, startedAt: this.now(), timeoutSeconds: this.opts.rebootTimeoutSeconds };
    this.ladder = { ...this.ladder, reboot, rebootTimeoutReported: false };
    this.update({});
    try {
      await this.opts.driver.recover("reboot");
      this.log.info({ cause }, "device reboot started");
    } catch (err) {
      this.log.error({ err, cause }, "device reboot failed");
      this.opts.metrics.deviceReboots.inc({ cause, result: "failure" });
      this.ladder = { ...this.ladder, reboot: undefined };
      this.update({});
      throw err;
    } finally {
      void this.probeNow();
    }
  }

  /** The device as the driver last saw it, else the serial setting. */
  private powerTarget() {
    const seen = this.opts.driver.powerTarget?.();
    if (seen) return seen;
    return this.opts.serial ? { serial: this.opts.serial } : {};
  }

  private async cyclePower(cause: "recovery" | "requested"): Promise<void> {
    const power = this.opts.power;
    if (!power) throw new NotSupportedError("no power controller (powerController none)");
    await power.cycle(this.powerTarget(), cause);
  }

  /**
   * Power-cycles the device now (POST /power_cycle). Refused without a power
   * controller, while a task runs, while a power cycle runs, and by the cap
   * and cool-down unless forced. Resolves once the power is back on; the
   * device is then in maintenance until it answers or settleSeconds pass.
   */
  async powerCycleDevice(reason: string | undefined, force: boolean): Promise<PowerCycleReply> {
    const power = this.opts.power;
    if (this.opts.kind === "none") throw new InvalidInputError("there is no device to power-cycle (device none)");
    if (!power)
      throw new NotSupportedError(
        "no power controller is configured (powerController none); see docs/power-cycling.md",
      );
    if (this.snap.taskRunning) {
      power.countRefused("task_running");
      throw new ConflictError(
        `a task is running (${this.snap.taskId ?? "no id"}); the device's power is not cut under it`,
      );
    }
    if (power.running) throw new ConflictError("a power cycle is already under way");
    const refusal = power.refusal();
    if (refusal && !force) {
      power.countRefused(refusal.reason);
      throw new TooManyRequestsError(
        `${refusal.message}; retry in ${refusal.retryAfterSeconds} s, or force it`,
        refusal.retryAfterSeconds,
      );
    }
    this.log.info({ reason, force, refusal: refusal?.reason }, "device power cycle requested");
    const reboot = {
      cause: "requested" as const,
      via: "power_cycle" as const,
      startedAt: this.now(),
      timeoutSeconds: power.settleSeconds,
    };
    this.ladder = { ...this.ladder, reboot, rebootTimeoutReported: false };
    this.update({});
    try {
      await this.cyclePower("requested");
      // Watched from the moment the power is back.
      this.ladder = { ...this.ladder, reboot: { ...reboot, startedAt: this.now() } };
      this.update({});
      return { result: "ok", offSeconds: power.offSeconds, settleSeconds: power.settleSeconds };
    } catch (err) {
      this.ladder = { ...this.ladder, reboot: undefined };
      this.update({});
      throw err;
    } finally {
      void this.probeNow();
    }
  }

  /** on_bot_shutdown: whatever task there was is over (no reboot: the bot is going away). */
  botShutdown(): void {
    if (this.snap.taskRunning) this.log.info({ taskId: this.snap.taskId }, "bot shut down during a task");
    this.update({ taskRunning: false, taskId: null });
  }

  private evaluate(
    probe: ProbeResult | undefined,
    reboot: RebootStatus | undefined,
    recoveryTried: readonly RecoveryAction[],
    previous: Health | undefined,
  ): Health {
    const deviceTypes = probe?.device?.dimensions.device_type ?? this.snap?.deviceDimensions.device_type ?? [];
    const thresholds = resolveThresholds(this.opts.thresholds, this.opts.thresholdsByDeviceType, deviceTypes);
    this.warnIfNoSensorMatches(probe, thresholds.temperatureSensors);
    return evaluateHealth({
      kind: this.opts.kind,
      probe,
      thresholds,
      previous,
      operatorMessages: this.operator,
      reboot,
      recoveryTried,
      powerCycleHeld: this.ladder.powerCycleHeld,
      now: this.now(),
    });
  }

  private warnIfNoSensorMatches(probe: ProbeResult | undefined, patterns: readonly string[] | undefined): void {
    const sensors = Object.keys(probeTemperatures(probe)).sort();
    if (sensors.length === 0 || patterns === undefined) return;
    if (Object.keys(selectedTemperatures(probeTemperatures(probe), patterns)).length > 0) return;
    const key = JSON.stringify([patterns, sensors]);
    if (this.unmatchedSensorWarnings.has(key)) return;
    this.unmatchedSensorWarnings.add(key);
    this.log.warn(
      { temperatureSensors: patterns, sensors },
      "temperatureSensors matches none of the device's sensors: no temperature is checked",
    );
  }

  /** Publishes a change; the reboot and the tried steps always come from the ladder. */
  private update(change: Partial<Omit<Snapshot, "health" | "reboot" | "recoveryTried">>): void {
    const next = { ...this.snap, ...change, reboot: this.ladder.reboot, recoveryTried: this.ladder.tried };
    const health = this.evaluate(next.probe, next.reboot, next.recoveryTried, this.snap.health);
    if (health.status !== this.snap.health.status || JSON.stringify(health) !== JSON.stringify(this.snap.health))
      this.log.info({ health, simulated: next.probe?.simulated }, "health changed");
    this.snap = { ...next, health };
    this.publishHealth(health);
    this.publishDevice();
  }

  private publishHealth(health: Health): void {
    const m = this.opts.metrics;
    for (const reason of MAINTENANCE_REASONS)
      m.maintenance.set({ reason }, health.maintenance.some((e) => e.reason === reason) ? 1 : 0);
    for (const reason of QUARANTINE_REASONS)
      m.quarantined.set({ reason }, health.quarantined.some((e) => e.reason === reason) ? 1 : 0);
  }

  private publishDevice(): void {
    const m = this.opts.metrics;
    const { probe, taskRunning, deviceDimensions } = this.snap;
    m.taskRunning.set(taskRunning ? 1 : 0);
    const device = probe?.device;
    m.deviceUp.set(device ? 1 : 0);
    m.deviceInfo.reset();
    m.deviceInfo.set(
      {
        device_kind: this.opts.kind,
        device_type: (deviceDimensions.device_type ?? []).join(","),
        os: (deviceDimensions.device_os ?? deviceDimensions.os ?? []).join(","),
        serial: device?.serial ?? probe?.problem?.serial ?? "",
      },
      1,
    );
    m.batteryRatio.reset();
    m.charging.reset();
    m.uptime.reset();
    m.temperature.reset();
    if (!device) return;
    if (device.battery?.ratio !== undefined) m.batteryRatio.set(device.battery.ratio);
    if (device.battery?.charging !== undefined) m.charging.set(device.battery.charging ? 1 : 0);
    if (device.uptimeSeconds !== undefined) m.uptime.set(device.uptimeSeconds);
    for (const [sensor, celsius] of Object.entries(probeTemperatures(probe))) m.temperature.set({ sensor }, celsius);
  }

  /** Stops probing; a probe in flight is left to the driver's close(). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
