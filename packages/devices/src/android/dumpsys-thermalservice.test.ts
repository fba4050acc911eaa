import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseThermalservice } from "./dumpsys-thermalservice.js";

const fixture = (path: string) => readFileSync(new URL(`../__fixtures__/android/${path}`, import.meta.url), "utf8");

describe("parseThermalservice", () => {
  it("reads the HAL temperatures, skipping negative placeholders and the cached ones", () => {
    expect(parseThermalservice(fixture("pixel3a-sargo-q/thermalservice.txt"))).toEqual({
      serviceAvailable: true,
      temperaturesCelsius: {
        battery: 28.1,
        "cpu0-silver-usr": 33.8,
        "cpu1-silver-usr": 34.2,
        "cpu0-gold-usr": 36.1,
        "gpu0-usr": 32,
        "skin-therm": 31.5,
      },
    });
  });

  it("skips NaN and stops at the next section", () => {
    const t = parseThermalservice(fixture("pixel4-flame-r/thermalservice.txt")).temperaturesCelsius;
    expect(Object.keys(t).sort()).toEqual([
      "battery",
      "cpu0-silver-usr",
      "cpu4-gold-usr",
      "cpu7-gold-prime-usr",
      "gpu-usr",
      "skin-therm",
    ]);
    expect(t["cpu7-gold-prime-usr"]).toBe(40.3);
  });

  it("turns values above 1000 from milli-degrees into degrees (Samsung)", () => {
    const t = parseThermalservice(fixture("samsung-s20-x1s/thermalservice.txt")).temperaturesCelsius;
    expect(t).toEqual({ battery: 33.6, BIG: 41.2, MID: 39.8, LITTLE: 37.5, G3D: 36.8, skin: 36.4 });
  });

  it("keeps the hottest reading when a sensor name repeats", () => {
    const t = parseThermalservice(
      "Current temperatures from HAL:\n\tTemperature{mValue=30.0, mType=0, mName=cpu, mStatus=0}\n\tTemperature{mValue=31.5, mType=0, mName=cpu, mStatus=0}\n\tTemperature{mValue=29.0, mType=0, mName=cpu, mStatus=0}\n",
    );
    expect(t.temperaturesCelsius).toEqual({ cpu: 31.5 });
  });

  it("reports an older Android without the service", () => {
    expect(parseThermalservice(fixture("broken/thermalservice-missing.txt"))).toEqual({
      serviceAvailable: false,
      temperaturesCelsius: {},
    });
    expect(parseThermalservice("")).toEqual({ serviceAvailable: false, temperaturesCelsius: {} });
  });

  it("keeps the complete lines of a truncated dump", () => {
    expect(parseThermalservice(fixture("broken/thermalservice-truncated.txt")).temperaturesCelsius).toEqual({
      battery: 28.1,
      "cpu0-silver-usr": 33.8,
      "cpu1-silver-usr": 34.2,
    });
  });

  it("finds no temperatures in garbage", () => {
    expect(parseThermalservice("Temperature{mValue=99}\n\u0000garbage").temperaturesCelsius).toEqual({});
  });
});
