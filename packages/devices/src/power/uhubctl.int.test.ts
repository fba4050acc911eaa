/**
 * The uhubctl power controller against the fake uhubctl (__fixtures__/bin/uhubctl,
 * which prints what uhubctl 2.6.0 prints), and the fake adb seeing the port's power.
 */
import { PassThrough } from "node:stream";
import { createLogger, NotFoundError, UpstreamError } from "@rpi-swarming/core";
import { afterEach, describe, expect, it } from "vitest";
import { AndroidDriver } from "../android/android-driver.js";
import { FAKE_ADB_PATH, FAKE_UHUBCTL_PATH, FakeAdbScenario, FakeUhubctlScenario } from "../exec/fake-tools.js";
import { powerCycle } from "./cycle.js";
import { UhubctlController, type UhubctlOptions } from "./uhubctl.js";

const log = createLogger({ name: "test", level: "fatal", stream: new PassThrough() });
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

function world(): FakeUhubctlScenario {
  const hubs = new FakeUhubctlScenario()
    .hub("1-1", "ppps", 4, "2109:3431 USB2.0 Hub, USB 2.10")
    .attach("1-1", 2, "18d1:4ee7 Google Pixel 3a 8A2Y0B3C")
    .attach("1-1", 3, "18d1:4ee7 Google Pixel 4 9B1X2Z3Y");
  cleanup.push(() => hubs.remove());
  return hubs;
}

function controller(hubs: FakeUhubctlScenario, extra: Partial<UhubctlOptions> = {}): UhubctlController {
  const c = new UhubctlController({
    path: FAKE_UHUBCTL_PATH,
    ganged: false,
    timeoutSeconds: 10,
    log,
    env: hubs.env,
    ...extra,
  });
  cleanup.push(() => c.close());
  return c;
}

describe("UhubctlController", () => {
  it("switches the port named by adb's USB path off and on, and only that port", async () => {
    const hubs = world();
    const c = controller(hubs);
    await c.off({ serial: "8A2Y0B3C", usbPath: "1-1.2" });
    expect(hubs.powered("1-1", 2)).toBe(false);
    expect(hubs.powered("1-1", 3)).toBe(true);
    await c.on({ serial: "8A2Y0B3C", usbPath: "1-1.2" });
    expect(hubs.powered("1-1", 2)).toBe(true);
    expect(hubs.calls()).toEqual(["-l 1-1 -p 2 -a off", "-l 1-1 -p 2 -a on"]);
  });

  it("uses the hub location and port of the settings over the USB path", async () => {
    const hubs = world();
    const c = controller(hubs, { hubLocation: "1-1", hubPort: 3 });
    await c.off({ serial: "8A2Y0B3C", usbPath: "1-1.2" });
    expect(hubs.powered("1-1", 3)).toBe(false);
    expect(hubs.powered("1-1", 2)).toBe(true);
  });

  it("fails like uhubctl for a port the hub does not have (uhubctl itself exits 0)", async () => {
    const hubs = world();
    const err = await controller(hubs, { hubLocation: "1-1", hubPort: 6 })
      .off({})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toBe(
      "`" +
        FAKE_UHUBCTL_PATH +
        " -l 1-1 -p 6 -a off`: hub 1-1 has no port 6 (2109:3431 USB2.0 Hub, USB 2.10, 4 ports, ppps)",
    );
  });

  it("passes on uhubctl's own error for a port number out of its range and a hub that is not there", async () => {
    const hubs = world();
    const badPort = await controller(hubs, { hubLocation: "1-1", hubPort: 14 })
      .off({ usbPath: "1-1.20" })
      .catch((e: unknown) => e);
    // 14 is in range but not on this 4-port hub; 20 from a USB path is out of uhubctl's range.
    expect((badPort as Error).message).toMatch(/has no port 14/);
    const outOfRange = await controller(hubs)
      .off({ usbPath: "1-1.20" })
      .catch((e: unknown) => e);
    expect((outOfRange as Error).message).toMatch(/exited 1: Bad port spec 20-20, port numbers must be from 1 to 14$/);
    const noHub = await controller(hubs)
      .off({ usbPath: "1-3.1" })
      .catch((e: unknown) => e);
    expect((noHub as Error).message).toMatch(
      /exited 1: No compatible devices detected at location 1-3! \(no hub with per-port switching there; a hub that switches all ports together needs powerHubGanged\)$/,
    );
  });

  it("needs powerHubGanged for a ganged hub, and then cuts every port of it", async () => {
    const hubs = new FakeUhubctlScenario()
      .hub("1-1", "ganged", 4, "0424:2514, USB 2.00")
      .attach("1-1", 2, "18d1:4ee7 Google Pixel 3a 8A2Y0B3C")
      .attach("1-1", 3, "18d1:4ee7 Google Pixel 4 9B1X2Z3Y");
    cleanup.push(() => hubs.remove());
    const refused = await controller(hubs)
      .off({ usbPath: "1-1.2" })
      .catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/No compatible devices detected at location 1-1!.*powerHubGanged/);
    expect(hubs.powered("1-1", 2)).toBe(true);

    const ganged = controller(hubs, { ganged: true });
    await ganged.off({ usbPath: "1-1.2" });
    // The other phone on the hub loses power too: what the docs warn about.
    expect([1, 2, 3, 4].map((p) => hubs.powered("1-1", p))).toEqual([false, false, false, false]);
    await ganged.on({ usbPath: "1-1.2" });
    expect([1, 2, 3, 4].map((p) => hubs.powered("1-1", p))).toEqual([true, true, true, true]);
    expect(hubs.calls().slice(-2)).toEqual(["-f -l 1-1 -p 2 -a off", "-f -l 1-1 -p 2 -a on"]);
  });

  it("finds an iPhone's port by its UDID (uhubctl -s) and remembers it while the phone has no power", async () => {
    const hubs = world().attach("1-1", 4, "05ac:12a8 Apple Inc. iPhone 00008030001A35E22E48402E");
    const c = controller(hubs);
    const target = { serial: "00008030-001A35E22E48402E" };
    await c.off(target);
    expect(hubs.powered("1-1", 4)).toBe(false);
    await c.on(target);
    expect(hubs.powered("1-1", 4)).toBe(true);
    expect(hubs.calls()).toEqual([
      "-s 00008030001A35E22E48402E",
      "-l 1-1 -p 4 -a off",
      "-s 00008030001A35E22E48402E",
      "-l 1-1 -p 4 -a on",
    ]);
    const unknown = await c.off({ serial: "0123456789abcdef0123456789abcdef01234567" }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
  });

  it("reports uhubctl's permission failure", async () => {
    const hubs = world().set("no-permission", "");
    const err = await controller(hubs)
      .off({ usbPath: "1-1.2" })
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/exited 1: There were permission problems while accessing USB\./);
  });

  it("a port without power makes the fake adb report the phone missing until the power returns", async () => {
    const hubs = world();
    const adb = new FakeAdbScenario().devices([["8A2Y0B3C", "device", "pixel3a-sargo-q"]]);
    cleanup.push(() => adb.remove());
    const driver = new AndroidDriver({
      adbPath: FAKE_ADB_PATH,
      commandTimeoutSeconds: 10,
      log,
      env: { ...adb.env, ...hubs.env },
    });
    try {
      const first = await driver.probe();
      expect(first.device?.serial).toBe("8A2Y0B3C");
      const target = driver.powerTarget();
      expect(target).toEqual({ serial: "8A2Y0B3C", usbPath: "1-1.2" });
      const c = controller(hubs);
      await c.off(target ?? {});
      expect((await driver.probe()).problem?.code).toBe("device_missing");
      await c.on(target ?? {});
      expect((await driver.probe()).device?.serial).toBe("8A2Y0B3C");
      // powerCycle: off, wait, on.
      await powerCycle(c, target ?? {}, 0.05);
      expect(hubs.calls().slice(-2)).toEqual(["-l 1-1 -p 2 -a off", "-l 1-1 -p 2 -a on"]);
      expect(hubs.powered("1-1", 2)).toBe(true);
    } finally {
      await driver.close();
    }
  });
});
