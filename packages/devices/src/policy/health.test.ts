import { describe, expect, it } from "vitest";
import type { ProbeResult } from "../types.js";
import {
  evaluateHealth,
  type Health,
  type HealthInput,
  resolveThresholds,
  selectedTemperatures,
  sensorMatches,
  type Thresholds,
} from "./health.js";

const thresholds: Thresholds = {
  batteryMinRatio: 0.3,
  batteryHysteresisRatio: 0.05,
  maxTemperatureCelsius: 35,
  temperatureHysteresisCelsius: 2,
};
const NOW = 1_800_000_000_000;

function probe(battery: number | undefined, temps: Record<string, number> = {}, batteryTemp?: number): ProbeResult {
  return {
    kind: "android",
    finishedAt: NOW,
    durationSeconds: 0.1,
    spawns: 2,
    device: {
      serial: "8A2Y0B3C",
      connection: "device",
      dimensions: { device_type: ["sargo"] },
      battery: { ratio: battery, temperatureCelsius: batteryTemp },
      temperaturesCelsius: temps,
    },
  };
}

function input(over: Partial<HealthInput>): HealthInput {
  return {
    kind: "android",
    probe: probe(0.9),
    thresholds,
    previous: undefined,
    operatorMessages: [],
    reboot: undefined,
    recoveryTried: [],
    now: NOW,
    ...over,
  };
}

/** Feeds readings one after another, each with the previous verdict, like the monitor does. */
function sequence(readings: ProbeResult[]): Health[] {
  const out: Health[] = [];
  let previous: Health | undefined;
  for (const p of readings) {
    previous = evaluateHealth(input({ probe: p, previous }));
    out.push(previous);
  }
  return out;
}

describe("evaluateHealth", () => {
  it("is ok for a charged, cool device", () => {
    expect(evaluateHealth(input({}))).toEqual({ status: "ok", maintenance: [], quarantined: [] });
  });

  it("puts a low battery into maintenance with the documented message", () => {
    const h = evaluateHealth(input({ probe: probe(0.12) }));
    expect(h.status).toBe("maintenance");
    expect(h.maintenance).toEqual([{ reason: "battery_low", message: "Battery low: 12% < 30%" }]);
  });

  it("keeps a low battery in maintenance until it passes the hysteresis margin", () => {
    const statuses = sequence([probe(0.29), probe(0.31), probe(0.34), probe(0.35), probe(0.33)]).map((h) => h.status);
    expect(statuses).toEqual(["maintenance", "maintenance", "maintenance", "ok", "ok"]);
  });

  it("says how far the battery must charge while recovering", () => {
    const [, recovering] = sequence([probe(0.2), probe(0.32)]);
    expect(recovering?.maintenance[0]?.message).toBe("Battery low: 32%, charging until 35%");
  });

  it("keeps the battery verdict when a probe has no battery reading", () => {
    const [, unknown] = sequence([probe(0.1), probe(undefined)]);
    expect(unknown?.maintenance.map((m) => m.reason)).toEqual(["battery_low"]);
    expect(evaluateHealth(input({ probe: probe(undefined) })).status).toBe("ok");
  });

  it("puts a hot device into maintenance naming the sensors, the battery's included", () => {
    const h = evaluateHealth(input({ probe: probe(0.9, { cpu0: 36.25, gpu: 30 }, 35.5) }));
    expect(h.maintenance).toEqual([
      { reason: "too_hot", message: "Too hot: battery 35.5 degC, cpu0 36.3 degC > 35.0 degC" },
    ]);
  });

  it("lets a hot device out only after it cooled below the hysteresis margin", () => {
    const seq = sequence([
      probe(0.9, { cpu0: 36 }),
      probe(0.9, { cpu0: 34 }),
      probe(0.9, { cpu0: 33.5 }),
      probe(0.9, { cpu0: 33 }),
      probe(0.9, { cpu0: 34.9 }),
    ]);
    expect(seq.map((h) => h.status)).toEqual(["maintenance", "maintenance", "maintenance", "ok", "ok"]);
    expect(seq[1]?.maintenance[0]?.message).toBe("Too hot: cpu0 34.0 degC, cooling until 33.0 degC");
  });

  it("judges only the sensors temperatureSensors selects", () => {
    const hotCpu = probe(0.9, { cpu0: 39, cpu1: 38.5, skin: 33 }, 30);
    const only = (temperatureSensors: string[]) =>
      evaluateHealth(input({ probe: hotCpu, thresholds: { ...thresholds, temperatureSensors } }));
    // An idle phone's CPU sensors read 36-40 degC: a lab that counts battery and skin only keeps it in service.
    expect(only(["battery", "skin"]).status).toBe("ok");
    expect(only(["CPU*"]).maintenance).toEqual([
      { reason: "too_hot", message: "Too hot: cpu0 39.0 degC, cpu1 38.5 degC > 35.0 degC" },
    ]);
    expect(only(["cpu?"]).status).toBe("maintenance");
    expect(only(["cpu"]).status).toBe("ok");
    // "*" (the setting's default) and no list at all both mean every sensor.
    expect(only(["*"]).maintenance[0]?.message).toBe("Too hot: cpu0 39.0 degC, cpu1 38.5 degC > 35.0 degC");
    expect(evaluateHealth(input({ probe: hotCpu })).status).toBe("maintenance");
  });

  it("applies the hysteresis to the selected sensors only", () => {
    const t: Thresholds = { ...thresholds, temperatureSensors: ["battery"] };
    let previous: Health | undefined;
    const verdicts = [probe(0.9, { cpu0: 40 }, 36), probe(0.9, { cpu0: 40 }, 34), probe(0.9, { cpu0: 40 }, 32.5)].map(
      (p) => {
        previous = evaluateHealth(input({ probe: p, previous, thresholds: t }));
        return previous;
      },
    );
    expect(verdicts.map((h) => h.maintenance[0]?.message)).toEqual([
      "Too hot: battery 36.0 degC > 35.0 degC",
      "Too hot: battery 34.0 degC, cooling until 33.0 degC",
      undefined,
    ]);
  });

  it("reports battery and heat together", () => {
    const h = evaluateHealth(input({ probe: probe(0.05, { cpu0: 40 }) }));
    expect(h.maintenance.map((m) => m.reason)).toEqual(["battery_low", "too_hot"]);
  });

  it("quarantines a missing device with the driver's message and the recovery tried", () => {
    const missing: ProbeResult = {
      kind: "android",
      finishedAt: NOW,
      durationSeconds: 0.05,
      spawns: 1,
      problem: { code: "device_missing", message: "Android device 8A2Y0B3C is not attached; check its cable" },
    };
    const h = evaluateHealth(input({ probe: missing, recoveryTried: ["reconnect", "restart_server"] }));
    expect(h.status).toBe("quarantined");
    expect(h.quarantined).toEqual([
      {
        reason: "device_missing",
        message:
          "Android device 8A2Y0B3C is not attached; check its cable (recovery tried without success: reconnect, restart_server)",
      },
    ]);
  });

  it("quarantines unauthorized devices even when the battery is fine elsewhere", () => {
    const p: ProbeResult = {
      kind: "android",
      finishedAt: NOW,
      durationSeconds: 0.05,
      spawns: 1,
      problem: { code: "unauthorized", message: "8A2Y0B3C unauthorized: accept the USB debugging prompt" },
    };
    expect(evaluateHealth(input({ probe: p })).quarantined[0]?.reason).toBe("unauthorized");
  });

  it("is in maintenance (starting) before the first probe", () => {
    const h = evaluateHealth(input({ probe: undefined }));
    expect(h.maintenance).toEqual([
      { reason: "starting", message: "Waiting for the first probe of the android device" },
    ]);
  });

  it("adds operator messages as maintenance and keeps quarantine first", () => {
    const p: ProbeResult = {
      kind: "android",
      finishedAt: NOW,
      durationSeconds: 0,
      spawns: 1,
      problem: { code: "offline", message: "offline" },
    };
    const h = evaluateHealth(
      input({ probe: p, operatorMessages: [{ source: "/etc/m/all", message: "Replacing USB hub" }] }),
    );
    expect(h.status).toBe("quarantined");
    expect(h.maintenance).toEqual([{ reason: "operator", message: "Replacing USB hub (operator, /etc/m/all)" }]);
  });

  it("reports a reboot as maintenance, hiding the missing device, then quarantines after the timeout", () => {
    const missing: ProbeResult = {
      kind: "android",
      finishedAt: NOW,
      durationSeconds: 0,
      spawns: 1,
      problem: { code: "device_missing", message: "gone", serial: "8A2Y0B3C" },
    };
    const reboot = { cause: "after_task" as const, startedAt: NOW - 299_000, timeoutSeconds: 300 };
    const during = evaluateHealth(input({ probe: missing, reboot }));
    expect(during.status).toBe("maintenance");
    expect(during.maintenance[0]).toEqual({
      reason: "rebooting",
      message: "Rebooting android device 8A2Y0B3C after a task; waiting up to 300 s for it to answer",
    });
    const late = evaluateHealth(input({ probe: missing, reboot, now: NOW + 2000 }));
    expect(late.status).toBe("quarantined");
    expect(late.quarantined[0]?.reason).toBe("reboot_timeout");
    expect(late.quarantined[0]?.message).toContain("has not answered for 301 s");
  });

  it("says power-cycled, not rebooting, for a device whose power was cut", () => {
    const missing: ProbeResult = {
      kind: "android",
      finishedAt: NOW,
      durationSeconds: 0,
      spawns: 1,
      problem: { code: "device_missing", message: "gone", serial: "8A2Y0B3C" },
    };
    const reboot = {
      cause: "requested" as const,
      via: "power_cycle" as const,
      startedAt: NOW - 10_000,
      timeoutSeconds: 180,
    };
    expect(evaluateHealth(input({ probe: missing, reboot })).maintenance[0]).toEqual({
      reason: "rebooting",
      message: "Power-cycled android device 8A2Y0B3C on request; waiting up to 180 s for it to answer",
    });
    const late = evaluateHealth(input({ probe: missing, reboot, now: NOW + 171_000 }));
    expect(late.quarantined[0]?.reason).toBe("reboot_timeout");
    expect(late.quarantined[0]?.message).toMatch(
      /has not answered for 181 s after a power cycle on request \(limit 180 s\)/,
    );
  });

  it("ignores the missing device of a host without one", () => {
    const none: ProbeResult = { kind: "none", finishedAt: NOW, durationSeconds: 0, spawns: 0 };
    expect(evaluateHealth(input({ kind: "none", probe: none })).status).toBe("ok");
  });
});

describe("sensor patterns", () => {
  it("match whole names, * any run, ? one character, ignoring case", () => {
    expect(sensorMatches("battery", "battery")).toBe(true);
    expect(sensorMatches("battery", "battery2")).toBe(false);
    expect(sensorMatches("cpu*", "CPU-0-1-usr")).toBe(true);
    expect(sensorMatches("cpu*", "gpu0")).toBe(false);
    expect(sensorMatches("*therm", "skin_therm")).toBe(true);
    expect(sensorMatches("cpu?", "cpu10")).toBe(false);
    // Regular expression characters in names are literal.
    expect(sensorMatches("a.b", "axb")).toBe(false);
    expect(sensorMatches("cpu(0)", "cpu(0)")).toBe(true);
  });

  it("select temperatures by any of the patterns", () => {
    const temps = { battery: 30, cpu0: 40, "VIRTUAL-SKIN": 33 };
    expect(selectedTemperatures(temps, ["battery", "virtual-*"])).toEqual({ battery: 30, "VIRTUAL-SKIN": 33 });
    expect(selectedTemperatures(temps, undefined)).toEqual(temps);
    expect(selectedTemperatures(temps, ["gpu*"])).toEqual({});
  });
});

describe("resolveThresholds", () => {
  it("takes the overrides of the first device type that has some", () => {
    const t = resolveThresholds(thresholds, { ELE: { batteryMinRatio: 0.15 }, other: { maxTemperatureCelsius: 1 } }, [
      "HWELE",
      "ELE",
    ]);
    expect(t).toEqual({ ...thresholds, batteryMinRatio: 0.15 });
    expect(resolveThresholds(thresholds, {}, ["sargo"])).toBe(thresholds);
  });

  it("lets a device type choose its own temperature sensors", () => {
    const base = { ...thresholds, temperatureSensors: ["*"] };
    const t = resolveThresholds(base, { sargo: { temperatureSensors: ["battery"], maxTemperatureCelsius: 38 } }, [
      "sargo",
    ]);
    expect(t).toEqual({ ...thresholds, temperatureSensors: ["battery"], maxTemperatureCelsius: 38 });
  });
});
