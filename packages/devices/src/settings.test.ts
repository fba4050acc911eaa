import { ConfigError, loadConfig } from "@rpi-swarming/core";
import { describe, expect, it } from "vitest";
import { healthSettings } from "./settings.js";

const load = (flags: Record<string, unknown>, env: Record<string, string> = {}) =>
  loadConfig(healthSettings, { flags, env });

describe("temperatureSensors setting", () => {
  it("defaults to the sensors that say whether the phone itself is hot: battery and skin", () => {
    expect(load({}).temperatureSensors).toEqual(["battery", "skin*", "virtual-skin"]);
  });

  it("takes names and patterns from flags (repeated or comma-separated) and the environment", () => {
    expect(load({ temperatureSensors: ["battery", "cpu*,skin"] }).temperatureSensors).toEqual([
      "battery",
      "cpu*",
      "skin",
    ]);
    expect(load({}, { RPI_SWARMING_TEMPERATURE_SENSORS: "battery, VIRTUAL-SKIN" }).temperatureSensors).toEqual([
      "battery",
      "VIRTUAL-SKIN",
    ]);
  });

  it("refuses an empty list or a name with spaces, naming the setting", () => {
    expect(() => load({ temperatureSensors: "[]" })).toThrow(ConfigError);
    expect(() => load({ temperatureSensors: "[]" })).toThrow(/temperatureSensors/);
    expect(() => load({}, { RPI_SWARMING_TEMPERATURE_SENSORS: '["cpu 0"]' })).toThrow(
      /temperatureSensors.*no spaces or commas/s,
    );
  });

  it("may be overridden per device type", () => {
    const config = load({ thresholdsByDeviceType: '{"sargo": {"temperatureSensors": ["battery"]}}' });
    expect(config.thresholdsByDeviceType).toEqual({ sargo: { temperatureSensors: ["battery"] } });
    expect(() => load({ thresholdsByDeviceType: '{"sargo": {"temperatureSensors": []}}' })).toThrow(
      /thresholdsByDeviceType/,
    );
  });
});
