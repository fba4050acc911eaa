import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The fixtures of this package; the same path from src/ and dist/. */
export const DEVICE_FIXTURES_DIR = fileURLToPath(new URL("../../src/__fixtures__/", import.meta.url));
/** Scripted stand-ins for adb, idevice_id, ideviceinfo, idevicediagnostics (see their header comments). */
export const FAKE_TOOLS_BIN_DIR = join(DEVICE_FIXTURES_DIR, "bin");
export const FAKE_ADB_PATH = join(FAKE_TOOLS_BIN_DIR, "adb");
export const FAKE_UHUBCTL_PATH = join(FAKE_TOOLS_BIN_DIR, "uhubctl");

/** Devices with fixture dumps under __fixtures__/android. */
export type AndroidFixtureModel =
  | "pixel3a-sargo-q"
  | "pixel4-flame-r"
  | "samsung-s20-x1s"
  | "huawei-p30-hwele"
  | "nexus5x-bullhead-o"
  | "pixel3-blueline-hwasan";

/** Devices with fixture dumps under __fixtures__/ios. */
export type IosFixtureModel = "iphone8-13" | "iphone11-14" | "ipad-12";

/** A scenario directory that the fake tools read on every call, so a test can change the world while a driver runs. */
abstract class FakeScenario {
  readonly dir: string;

  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
  }

  /** Writes (or with undefined removes) a control file such as `hang`. */
  set(name: string, content: string | undefined): this {
    const path = join(this.dir, name);
    if (content === undefined) rmSync(path, { force: true });
    else writeFileSync(path, content.endsWith("\n") || content === "" ? content : `${content}\n`);
    return this;
  }

  /** Every invocation so far, one line of arguments each. */
  calls(): string[] {
    return this.#lines("calls");
  }

  /** Pids (shell and sleeping child) of invocations told to hang. */
  hangPids(): number[] {
    return this.#lines("hang-pids").flatMap((l) => l.split(" ").map(Number));
  }

  #lines(name: string): string[] {
    try {
      return readFileSync(join(this.dir, name), "utf8").split("\n").filter(Boolean);
    } catch {
      return [];
    }
  }

  /**
   * Gives one device a private copy of a fixture's dumps with some files
   * replaced (string) or removed (undefined), e.g. a garbled getprop.txt.
   */
  customDevice(serial: string, fixture: string, overrides: Readonly<Record<string, string | undefined>>): this {
    const target = join(this.dir, `device-${serial}`);
    rmSync(target, { force: true, recursive: true });
    cpSync(join(DEVICE_FIXTURES_DIR, fixture), target, { recursive: true, dereference: true });
    for (const [file, content] of Object.entries(overrides)) {
      if (content === undefined) rmSync(join(target, file), { force: true });
      else writeFileSync(join(target, file), content);
    }
    return this;
  }

  protected link(serial: string, fixture: string): void {
    const target = join(this.dir, `device-${serial}`);
    rmSync(target, { force: true, recursive: true });
    symlinkSync(fixture, target);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The world of the fake `adb`: pass `env` to the driver and FAKE_ADB_PATH as adbPath. */
export class FakeAdbScenario extends FakeScenario {
  constructor() {
    super("fake-adb-");
  }

  get env(): Record<string, string> {
    return { FAKE_ADB_DIR: this.dir };
  }

  /**
   * Sets what `adb devices -l` lists: [serial, state, model?]. A model links
   * the serial to that fixture's getprop/dumpsys/uptime dumps (customDevice
   * after this call to alter them).
   */
  devices(entries: readonly (readonly [serial: string, state: string, model?: AndroidFixtureModel | string])[]): this {
    const lines = entries.map(([serial, state, model]) => {
      if (model) this.link(serial, model.startsWith("/") ? model : join(DEVICE_FIXTURES_DIR, "android", model));
      const facts = model && !model.startsWith("/") ? ` usb:1-1.2 product:${model.split("-")[1]} transport_id:1` : "";
      return `${serial} ${state}${facts}`;
    });
    return this.set("devices", lines.join("\n"));
  }
}

/** The world of the fake libimobiledevice tools: pass `env` and FAKE_TOOLS_BIN_DIR as the tool directory. */
export class FakeIdeviceScenario extends FakeScenario {
  constructor() {
    super("fake-idevice-");
  }

  get env(): Record<string, string> {
    return { FAKE_IDEVICE_DIR: this.dir };
  }

  /** Sets what `idevice_id -l` lists: [udid, model?]. */
  devices(entries: readonly (readonly [udid: string, model?: IosFixtureModel | string])[]): this {
    for (const [udid, model] of entries)
      if (model) this.link(udid, model.startsWith("/") ? model : join(DEVICE_FIXTURES_DIR, "ios", model));
    return this.set("devices", entries.map(([udid]) => udid).join("\n"));
  }
}

/**
 * The world of the fake `uhubctl`: hubs, what is attached to their ports and
 * which ports have no power. Give its `env` to the fake adb too: a phone on a
 * port without power is then missing from `adb devices`.
 */
export class FakeUhubctlScenario extends FakeScenario {
  constructor() {
    super("fake-uhubctl-");
  }

  get env(): Record<string, string> {
    return { FAKE_UHUBCTL_DIR: this.dir };
  }

  /** Adds a hub: `ppps` switches each port, `ganged` all together (e.g. a Raspberry Pi's own ports). */
  hub(location: string, switching: "ppps" | "ganged" | "nops", ports: number, description: string): this {
    const lines = this.#hubLines().filter((l) => !l.startsWith(`${location} `));
    return this.set("hubs", [...lines, `${location} ${switching} ${ports} ${description}`].join("\n"));
  }

  /** Puts a device (`vid:pid vendor product serial`) on a hub port. */
  attach(location: string, port: number, description: string): this {
    return this.set(`port-${location}.${port}`, description);
  }

  /** Whether the port has power now. */
  powered(location: string, port: number): boolean {
    return !existsSync(join(this.dir, `off-${location}.${port}`));
  }

  #hubLines(): string[] {
    try {
      return readFileSync(join(this.dir, "hubs"), "utf8").split("\n").filter(Boolean);
    } catch {
      return [];
    }
  }
}
