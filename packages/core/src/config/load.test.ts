import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "../errors.js";
import { loadConfig, redactConfig } from "./load.js";
import { setting } from "./settings.js";

const specs = {
  probeIntervalSeconds: setting("number", z.number().positive().default(30), "interval"),
  device: setting("string", z.enum(["android", "ios", "none"]).default("none"), "device"),
  serial: setting("string", z.string().optional(), "serial", { env: "ANDROID_SERIAL" }),
  verbose: setting("boolean", z.boolean().default(false), "verbose"),
  staticDimensions: setting("map", z.record(z.string(), z.array(z.string())).default({}), "dims", {
    flag: "dimension",
    env: "RPI_SWARMING_DIMENSIONS",
  }),
  token: setting("string", z.string().optional(), "token", { secret: true }),
};

const dir = mkdtempSync(join(tmpdir(), "rpi-load-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(text: string): string {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("uses the defaults when nothing is given", () => {
    expect(loadConfig(specs, { flags: {}, env: {} })).toEqual({
      probeIntervalSeconds: 30,
      device: "none",
      verbose: false,
      staticDimensions: {},
    });
  });

  it("takes flags over env over file over defaults", () => {
    const configFile = file("probeIntervalSeconds: 10\ndevice: ios\nserial: FROMFILE\n");
    const env = { RPI_SWARMING_PROBE_INTERVAL_SECONDS: "20", RPI_SWARMING_DEVICE: "android" };
    expect(loadConfig(specs, { flags: {}, env: {}, configFile, parseYaml })).toMatchObject({
      probeIntervalSeconds: 10,
      device: "ios",
      serial: "FROMFILE",
    });
    expect(loadConfig(specs, { flags: {}, env, configFile, parseYaml })).toMatchObject({
      probeIntervalSeconds: 20,
      device: "android",
      serial: "FROMFILE",
    });
    expect(
      loadConfig(specs, {
        flags: { probeIntervalSeconds: "5" },
        env: { ...env, ANDROID_SERIAL: "ENV" },
        configFile,
        parseYaml,
      }),
    ).toMatchObject({ probeIntervalSeconds: 5, device: "android", serial: "ENV" });
  });

  it("reads booleans and key=value maps from flags and env", () => {
    expect(
      loadConfig(specs, {
        flags: { verbose: true, staticDimensions: ["pool=Skia", "zone=a", "zone=b"] },
        env: {},
      }),
    ).toMatchObject({ verbose: true, staticDimensions: { pool: ["Skia"], zone: ["a", "b"] } });
    expect(
      loadConfig(specs, { flags: {}, env: { RPI_SWARMING_VERBOSE: "yes", RPI_SWARMING_DIMENSIONS: "pool=A,rack=3" } }),
    ).toMatchObject({ verbose: true, staticDimensions: { pool: ["A"], rack: ["3"] } });
    expect(
      loadConfig(specs, { flags: {}, env: { RPI_SWARMING_DIMENSIONS: '{"pool": ["J"]}' } }).staticDimensions,
    ).toEqual({ pool: ["J"] });
  });

  it("reads a map flag given as one JSON object", () => {
    expect(
      loadConfig(specs, { flags: { staticDimensions: ['{"pool": ["A", "B"]}'] }, env: {} }).staticDimensions,
    ).toEqual({
      pool: ["A", "B"],
    });
    expect(configError(() => loadConfig(specs, { flags: { staticDimensions: ["{pool"] }, env: {} })).message).toContain(
      "expected JSON",
    );
  });

  it("names the setting, its flag, its variable and the source of a wrong value", () => {
    const err = configError(() =>
      loadConfig(specs, { flags: {}, env: { RPI_SWARMING_PROBE_INTERVAL_SECONDS: "soon" } }),
    );
    expect(err.message).toContain(
      "probeIntervalSeconds (--probe-interval-seconds, RPI_SWARMING_PROBE_INTERVAL_SECONDS)",
    );
    expect(err.message).toContain('expected a number, got "soon"');
    const negative = configError(() => loadConfig(specs, { flags: { probeIntervalSeconds: "-1" }, env: {} }));
    expect(negative.message).toMatch(/probeIntervalSeconds.*\(from flag\)/);
  });

  it("lists the allowed values of an enum", () => {
    const err = configError(() => loadConfig(specs, { flags: { device: "blackberry" }, env: {} }));
    expect(err.message).toContain("device (--device, RPI_SWARMING_DEVICE)");
    expect(err.message).toMatch(/"android"\|"ios"\|"none"|android.*ios.*none/);
  });

  it("reports every wrong setting at once", () => {
    const err = configError(() =>
      loadConfig(specs, { flags: { device: "x" }, env: { RPI_SWARMING_VERBOSE: "maybe" } }),
    );
    expect(err.message).toContain("device (");
    expect(err.message).toContain('verbose (--verbose, RPI_SWARMING_VERBOSE): expected true or false, got "maybe"');
  });

  it("rejects unknown keys in the file, naming them and the known ones", () => {
    const err = configError(() =>
      loadConfig(specs, { flags: {}, env: {}, configFile: file("probeInterval: 3\ndevice: ios\n"), parseYaml }),
    );
    expect(err.message).toContain("unknown setting(s) probeInterval");
    expect(err.message).toContain("known settings: probeIntervalSeconds");
  });

  it("rejects a file that is not YAML, not a mapping, or missing", () => {
    expect(
      configError(() => loadConfig(specs, { flags: {}, env: {}, configFile: file("a: ["), parseYaml })).message,
    ).toContain("not valid YAML");
    expect(
      configError(() => loadConfig(specs, { flags: {}, env: {}, configFile: file("- a\n"), parseYaml })).message,
    ).toContain("must be a mapping");
    expect(
      configError(() => loadConfig(specs, { flags: {}, env: {}, configFile: join(dir, "missing.yaml"), parseYaml }))
        .message,
    ).toContain("cannot be read");
  });

  it("redacts secrets for --print-config", () => {
    const config = loadConfig(specs, { flags: { token: "s3cret" }, env: {} });
    expect(redactConfig(specs, config).token).toBe("<redacted>");
    expect(redactConfig(specs, config).device).toBe("none");
  });

  it("cuts credentials out of URL settings for --print-config", () => {
    const urlSpecs = { server: setting("string", z.string(), "server"), dir: setting("string", z.string(), "dir") };
    const config = loadConfig(urlSpecs, {
      flags: { server: "https://bot:hunter2@swarm.example.com?access_token=ya29.x&pool=lab", dir: "/b/s" },
      env: {},
    });
    expect(redactConfig(urlSpecs, config)).toEqual({
      server: "https://<redacted>@swarm.example.com/?access_token=<redacted>&pool=lab",
      dir: "/b/s",
    });
  });
});
