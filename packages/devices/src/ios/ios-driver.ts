import { join } from "node:path";
import {
  type Logger,
  NotFoundError,
  NotSupportedError,
  TimeoutError,
  ToolMissingError,
  UpstreamError,
} from "@rpi-swarming/core";
import { type CommandOutput, CommandRunner } from "../exec/command-runner.js";
import { ProbeCycle, type ProbeOutcome } from "../exec/probe-cycle.js";
import type { DeviceDriver, DeviceProblem, DeviceReading, PowerTarget, ProbeResult, RecoveryAction } from "../types.js";
import { iosDimensions, parseIdeviceIdList, parseIdeviceinfo, parseIosBattery } from "./idevice-output.js";
import {
  noIosDeviceProblem,
  problemFromIdeviceError,
  severalIosDevicesProblem,
  USBMUXD_HINT,
  udidMissingProblem,
} from "./ios-problems.js";

export interface IosDriverOptions {
  /** Directory holding idevice_id, ideviceinfo and idevicediagnostics; undefined = PATH. */
  readonly toolDir?: string | undefined;
  /** UDID of the device to use; required when several are attached. */
  readonly serial?: string | undefined;
  readonly commandTimeoutSeconds: number;
  readonly log: Logger;
  /** Extra environment for the tools. */
  readonly env?: Readonly<Record<string, string>>;
}

type Outcome = ProbeOutcome;

type Tool = "idevice_id" | "ideviceinfo" | "idevicediagnostics";

const BATTERY_DOMAIN = "com.apple.mobile.battery";

/**
 * The libimobiledevice driver. A healthy probe costs three spawns:
 * `idevice_id -l`, `ideviceinfo -u UDID` (every key in one call) and
 * `ideviceinfo -u UDID -q com.apple.mobile.battery`.
 */
export class IosDriver implements DeviceDriver {
  readonly kind = "ios";
  readonly #options: IosDriverOptions;
  readonly #runner: CommandRunner;
  readonly #log: Logger;
  readonly #probes: ProbeCycle;
  #lastUdid: string | undefined;

  constructor(options: IosDriverOptions) {
    this.#options = options;
    this.#runner = new CommandRunner({
      timeoutSeconds: options.commandTimeoutSeconds,
      ...(options.env ? { env: options.env } : {}),
    });
    this.#log = options.log.child({ component: "ios-driver" });
    this.#probes = new ProbeCycle({
      kind: "ios",
      runner: this.#runner,
      log: this.#log,
      cycle: () => this.#cycle(),
      problemFromError: (err) => this.#problemFromError(err),
    });
  }

  get spawns(): number {
    return this.#runner.spawns;
  }

  /** Concurrent callers (timer and on-demand) share one running probe. */
  probe(): Promise<ProbeResult> {
    return this.#probes.run();
  }

  async #cycle(): Promise<Outcome> {
    const list = await this.#run("idevice_id", ["-l"]);
    if (list.exitCode !== 0) {
      const text = `${list.stderr}\n${list.stdout}`;
      if (/Unable to retrieve device list/i.test(text))
        return { problem: { code: "probe_failed", message: USBMUXD_HINT } };
      return { problem: problemFromIdeviceError(this.#options.serial ?? "?", "idevice_id -l", text, list.exitCode) };
    }
    const udids = parseIdeviceIdList(list.stdout);
    const wanted = this.#options.serial;
    let udid: string;
    if (wanted) {
      if (!udids.includes(wanted)) return { problem: udidMissingProblem(wanted, udids) };
      udid = wanted;
    } else {
      const [only, ...others] = udids;
      if (!only) return { problem: noIosDeviceProblem() };
      if (others.length > 0) return { problem: severalIosDevicesProblem(udids) };
      udid = only;
    }
    this.#lastUdid = udid;

    const infoOut = await this.#run("ideviceinfo", ["-u", udid]);
    if (infoOut.exitCode !== 0)
      return {
        problem: problemFromIdeviceError(udid, "ideviceinfo", `${infoOut.stdout}\n${infoOut.stderr}`, infoOut.exitCode),
      };
    const info = parseIdeviceinfo(infoOut.stdout);
    if (!info.ProductType || !info.ProductVersion)
      return {
        problem: {
          code: "probe_failed",
          serial: udid,
          message: `iOS device ${udid} answered ideviceinfo without ProductType/ProductVersion (output truncated or garbled)`,
        },
      };

    const batteryOut = await this.#run("ideviceinfo", ["-u", udid, "-q", BATTERY_DOMAIN]);
    const battery = batteryOut.exitCode === 0 ? parseIosBattery(batteryOut.stdout) : undefined;
    if (!battery)
      this.#log.warn(
        { udid, exitCode: batteryOut.exitCode, said: batteryOut.stdout.slice(0, 200) },
        "no battery reading from the iOS device",
      );

    const extra: Record<string, unknown> = {};
    const facts: Record<string, string | undefined> = {
      device_name: info.DeviceName,
      device_class: info.DeviceClass,
      product_version: info.ProductVersion,
      build_version: info.BuildVersion,
      hardware_model: info.HardwareModel,
    };
    for (const [k, v] of Object.entries(facts)) if (v) extra[k] = v;
    const device: DeviceReading = {
      serial: udid,
      // ideviceinfo completed the lockdown handshake, so the device trusts this host.
      connection: "paired",
      dimensions: iosDimensions(info),
      temperaturesCelsius: {},
      extra,
      ...(battery ? { battery } : {}),
    };
    return { device };
  }

  #path(tool: Tool): string {
    return this.#options.toolDir ? join(this.#options.toolDir, tool) : tool;
  }

  #run(tool: Tool, args: readonly string[]): Promise<CommandOutput> {
    return this.#runner.run(this.#path(tool), args);
  }

  #problemFromError(err: unknown): DeviceProblem {
    const serial = this.#options.serial ?? this.#lastUdid;
    const withSerial = serial ? { serial } : {};
    if (err instanceof ToolMissingError)
      return {
        code: "tool_missing",
        message: `${err.tool} was not found: install Debian's libimobiledevice-utils${
          this.#options.toolDir
            ? ` or fix --libimobiledevice-dir (${this.#options.toolDir})`
            : " or set --libimobiledevice-dir"
        }`,
      };
    if (err instanceof TimeoutError)
      return {
        code: "probe_failed",
        ...withSerial,
        timedOut: true,
        message: `${err.message} (a hung device or usbmuxd)`,
      };
    return { code: "probe_failed", ...withSerial, message: err instanceof Error ? err.message : String(err) };
  }

  async recover(action: RecoveryAction): Promise<void> {
    const udid = this.#options.serial ?? this.#lastUdid;
    // Not logged here: the recovery ladder skips unsupported steps and logs that once.
    if (action !== "reboot")
      throw new NotSupportedError(
        `recovery step ${action} does not apply to iOS devices: libimobiledevice has no per-device reconnect and usbmuxd runs outside this pod; only reboot is available`,
      );
    this.#log.info({ action, udid }, "ios recovery step");
    if (!udid) throw new NotFoundError("cannot reboot: no iOS device has been seen yet and no serial is set");
    const out = await this.#run("idevicediagnostics", ["-u", udid, "restart"]);
    if (out.exitCode === 0 && /Restarting device/i.test(out.stdout)) return;
    const said = `${out.stdout}\n${out.stderr}`.trim().split("\n")[0] ?? "";
    throw new UpstreamError(
      `recovery step reboot failed: \`idevicediagnostics -u ${udid} restart\` exited ${out.exitCode}${said ? `: ${said}` : ""}`,
    );
  }

  /** libimobiledevice prints no USB path: the power controller finds the port by the UDID. */
  powerTarget(): PowerTarget | undefined {
    const serial = this.#options.serial ?? this.#lastUdid;
    return serial ? { serial } : undefined;
  }

  async close(): Promise<void> {
    this.#runner.killAll();
    await this.#probes.settled();
  }
}
