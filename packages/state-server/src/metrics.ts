import { METRIC_PREFIX } from "@rpi-swarming/core";
import { MAINTENANCE_REASONS, QUARANTINE_REASONS } from "@rpi-swarming/devices";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

const p = METRIC_PREFIX;

/** Every metric of the state server (docs/metrics.md), on one registry. */
export class StateServerMetrics {
  readonly deviceUp: Gauge;
  readonly deviceInfo: Gauge<"device_kind" | "device_type" | "os" | "serial">;
  readonly batteryRatio: Gauge;
  readonly charging: Gauge;
  readonly temperature: Gauge<"sensor">;
  readonly uptime: Gauge;
  readonly maintenance: Gauge<"reason">;
  readonly quarantined: Gauge<"reason">;
  readonly taskRunning: Gauge;
  readonly taskStateKnown: Gauge;
  readonly probeDuration: Histogram;
  readonly probes: Counter;
  readonly probeErrors: Counter<"reason">;
  readonly lastProbe: Gauge;
  readonly recoveryActions: Counter<"action" | "result">;
  readonly deviceReboots: Counter<"cause" | "result">;
  readonly powerCycles: Counter<"result">;
  readonly hookRequests: Counter<"hook" | "code">;
  readonly hookDuration: Histogram<"hook">;
  readonly botVersion: Gauge<"version">;
  readonly botIdMismatches: Counter;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.deviceUp = new Gauge({
      name: `${p}device_up`,
      help: "1 when the device is attached and answered the last probe, else 0",
      registers,
    });
    this.deviceInfo = new Gauge({
      name: `${p}device_info`,
      help: "What the device is (always 1); labels are empty when unknown",
      labelNames: ["device_kind", "device_type", "os", "serial"],
      registers,
    });
    this.batteryRatio = new Gauge({ name: `${p}device_battery_ratio`, help: "Battery charge 0-1", registers });
    this.charging = new Gauge({ name: `${p}device_charging`, help: "1 when the battery is charging", registers });
    this.temperature = new Gauge({
      name: `${p}device_temperature_celsius`,
      help: "Device temperatures from the last probe",
      labelNames: ["sensor"],
      registers,
    });
    this.uptime = new Gauge({ name: `${p}device_uptime_seconds`, help: "Device uptime", registers });
    this.maintenance = new Gauge({
      name: `${p}maintenance`,
      help: "1 while that reason holds the bot in maintenance",
      labelNames: ["reason"],
      registers,
    });
    this.quarantined = new Gauge({
      name: `${p}quarantined`,
      help: "1 while that reason quarantines the bot",
      labelNames: ["reason"],
      registers,
    });
    this.taskRunning = new Gauge({
      name: `${p}task_running`,
      help: "1 between on_before_task and on_after_task",
      registers,
    });
    this.taskStateKnown = new Gauge({
      name: `${p}task_state_known`,
      help: "1 once the state server knows whether a task runs (a hook told it, or a task marker outlived its restart); while 0, task_running's 0 does not mean idle",
      registers,
    });
    this.probeDuration = new Histogram({
      name: `${p}probe_duration_seconds`,
      help: "Duration of one probe cycle",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.probes = new Counter({ name: `${p}probes_total`, help: "Probe cycles run", registers });
    this.probeErrors = new Counter({
      name: `${p}probe_errors_total`,
      help: "Probe cycles that found a problem",
      labelNames: ["reason"],
      registers,
    });
    this.lastProbe = new Gauge({
      name: `${p}last_probe_timestamp_seconds`,
      help: "Unix time of the last finished probe",
      registers,
    });
    this.recoveryActions = new Counter({
      name: `${p}recovery_actions_total`,
      help: "Recovery ladder steps taken; success when the device answered afterwards",
      labelNames: ["action", "result"],
      registers,
    });
    this.deviceReboots = new Counter({
      name: `${p}device_reboots_total`,
      help: "Device reboots by cause (after_task, recovery) and result (success, failure, timeout)",
      labelNames: ["cause", "result"],
      registers,
    });
    this.powerCycles = new Counter({
      name: `${p}device_power_cycles_total`,
      help: "Power cycles of the device (ladder and operator) by result: ok, failed, or not done: capped, cooling_down, task_running",
      labelNames: ["result"],
      registers,
    });
    this.hookRequests = new Counter({
      name: `${p}hook_requests_total`,
      help: "Hook API requests",
      labelNames: ["hook", "code"],
      registers,
    });
    this.hookDuration = new Histogram({
      name: `${p}hook_duration_seconds`,
      help: "Hook API latency",
      labelNames: ["hook"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    });
    this.botVersion = new Gauge({
      name: `${p}bot_reported_version_info`,
      help: "The bot code version the hook script last reported (always 1)",
      labelNames: ["version"],
      registers,
    });
    this.botIdMismatches = new Counter({
      name: `${p}hook_bot_id_mismatches_total`,
      help: "Hook requests whose X-Swarming-Bot-Id differs from the state server's bot id",
      registers,
    });
    // Every reason has a series from the start, so alerts and dashboards see 0 rather than nothing.
    for (const reason of MAINTENANCE_REASONS) this.maintenance.set({ reason }, 0);
    for (const reason of QUARANTINE_REASONS) this.quarantined.set({ reason }, 0);
    this.taskRunning.set(0);
    this.taskStateKnown.set(0);
    this.deviceUp.set(0);
    for (const result of ["ok", "failed"]) this.powerCycles.inc({ result }, 0);
  }
}
