import { setTimeout as sleep } from "node:timers/promises";
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
import type { DeviceDriver, DeviceProblem, PowerTarget, ProbeResult, RecoveryAction } from "../types.js";
import { type AdbDeviceEntry, parseAdbDevices } from "./adb-devices.js";
import {
  noDeviceProblem,
  problemForState,
  problemFromAdbError,
  serialMissingProblem,
  severalDevicesProblem,
} from "./adb-problems.js";
import { readAndroidDevice } from "./device-reading.js";
import { buildProbeScript, splitProbeOutput } from "./probe-script.js";

export interface AndroidDriverOptions {
  /** adb binary: a name on PATH or a path. */
  readonly adbPath: string;
  /** The device to use; required when several are attached. */
  readonly serial?: string | undefined;
  readonly commandTimeoutSeconds: number;
  readonly log: Logger;
  /** Extra environment for adb (e.g. ANDROID_ADB_SERVER_PORT). */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to let a device re-enumerate after `adb reconnect offline` before listing again. */
  readonly reconnectSettleMs?: number;
}

type Outcome = ProbeOutcome;

type Choice = { readonly entry: AdbDeviceEntry } | { readonly problem: DeviceProblem };

/**
 * The adb driver. A healthy probe costs two adb invocations: `adb devices -l`
 * and one `adb -s SERIAL shell` that prints getprop, dumpsys battery, dumpsys
 * thermalservice and /proc/uptime between markers. An offline device gets one
 * `adb reconnect offline` per probe.
 */
export class AndroidDriver implements DeviceDriver {
  readonly kind = "android";
  readonly #options: AndroidDriverOptions;
  readonly #runner: CommandRunner;
  readonly #log: Logger;
  readonly #probes: ProbeCycle;
  /** The device last picked by a probe, for recovery. */
  #last: AdbDeviceEntry | undefined;

  constructor(options: AndroidDriverOptions) {
    this.#options = options;
    this.#runner = new CommandRunner({
      timeoutSeconds: options.commandTimeoutSeconds,
      ...(options.env ? { env: options.env } : {}),
    });
    this.#log = options.log.child({ component: "android-driver" });
    this.#probes = new ProbeCycle({
      kind: "android",
      runner: this.#runner,
      log: this.#log,
      cycle: () => this.#cycle(),
      problemFromError: (err) => this.#problemFromError(err),
    });
  }

  /** adb processes spawned since the driver was made (benchmarks, tests). */
  get spawns(): number {
    return this.#runner.spawns;
  }

  /** Concurrent callers (timer and on-demand) share one running probe. */
  probe(): Promise<ProbeResult> {
    return this.#probes.run();
  }

  async #cycle(): Promise<Outcome> {
    let entries = await this.#listDevices();
    let choice = this.#choose(entries);
    let revived: DeviceProblem | undefined;
    if ("entry" in choice && choice.entry.state === "offline") {
      const { serial } = choice.entry;
      this.#log.debug({ serial }, "device offline; running adb reconnect offline");
      await this.#adb(["reconnect", "offline"]);
      await sleep(this.#options.reconnectSettleMs ?? 1000);
      entries = await this.#listDevices();
      choice = this.#choose(entries);
      if ("entry" in choice && choice.entry.state === "device") {
        revived = {
          code: "offline",
          serial,
          message: `Android device ${serial} was offline; \`adb reconnect offline\` revived it`,
        };
        this.#log.info({ serial }, "adb reconnect offline revived the device");
      }
    }
    if ("problem" in choice) return { problem: choice.problem };
    this.#last = choice.entry;
    const stateProblem = problemForState(choice.entry);
    if (stateProblem) return { problem: stateProblem };
    const read = await this.#readDevice(choice.entry);
    return read.device && revived ? { device: read.device, problem: revived } : read;
  }

  /** Picks the device this bot serves, or says why none. */
  #choose(entries: readonly AdbDeviceEntry[]): Choice {
    const wanted = this.#options.serial;
    if (wanted) {
      const entry = entries.find((e) => e.serial === wanted);
      return entry ? { entry } : { problem: serialMissingProblem(wanted, entries) };
    }
    const [only, ...others] = entries;
    if (!only) return { problem: noDeviceProblem() };
    if (others.length > 0) return { problem: severalDevicesProblem(entries) };
    return { entry: only };
  }

  async #listDevices(): Promise<readonly AdbDeviceEntry[]> {
    const out = await this.#adb(["devices", "-l"]);
    const list = parseAdbDevices(out.stdout);
    if (out.exitCode !== 0 || !list.headerSeen) {
      const said = firstLine(out.stderr) || firstLine(out.stdout) || "no output";
      throw new UpstreamError(`\`adb devices -l\` failed (exit ${out.exitCode}): ${said}`);
    }
    return list.devices;
  }

  async #readDevice(entry: AdbDeviceEntry): Promise<Outcome> {
    const { serial } = entry;
    const script = buildProbeScript();
    const out = await this.#adb(["-s", serial, "shell", script.command]);
    const split = splitProbeOutput(out.stdout, script.nonce);
    if (!split.complete) {
      if (split.sections.getprop === undefined)
        return { problem: problemFromAdbError(serial, "shell", `${out.stderr}\n${out.stdout}`, out.exitCode) };
      return {
        problem: {
          code: "probe_failed",
          serial,
          message: `Android device ${serial} cut its probe output short (adb shell exit ${out.exitCode}${
            firstLine(out.stderr) ? `: ${firstLine(out.stderr)}` : ""
          })`,
        },
      };
    }
    return readAndroidDevice(entry, split.sections);
  }

  #adb(args: readonly string[]): Promise<CommandOutput> {
    return this.#runner.run(this.#options.adbPath, args);
  }

  #problemFromError(err: unknown): DeviceProblem {
    const serial = this.#options.serial ?? this.#last?.serial;
    const withSerial = serial ? { serial } : {};
    if (err instanceof ToolMissingError)
      return {
        code: "tool_missing",
        message: `adb was not found (adbPath "${this.#options.adbPath}"): install Debian's adb package or set --adb-path`,
      };
    if (err instanceof TimeoutError)
      return {
        code: "probe_failed",
        ...withSerial,
        timedOut: true,
        message: `${err.message} (a hung USB device or adb server; recovery will reconnect, restart the adb server, then reboot)`,
      };
    const message = err instanceof Error ? err.message : String(err);
    return { code: "probe_failed", ...withSerial, message };
  }

  async recover(action: RecoveryAction): Promise<void> {
    const serial = this.#options.serial ?? this.#last?.serial;
    this.#log.info({ action, serial }, "android recovery step");
    switch (action) {
      case "reconnect": {
        // `adb -s S reconnect` drops and redoes one transport; an offline device needs the offline form.
        const args = serial && this.#last?.state !== "offline" ? ["-s", serial, "reconnect"] : ["reconnect", "offline"];
        const out = await this.#adb(args);
        this.#throwIfFailed(args, out, "reconnect");
        return;
      }
      case "restart_server": {
        for (const args of [["kill-server"], ["start-server"]]) {
          const out = await this.#adb(args);
          this.#throwIfFailed(args, out, "restart_server");
        }
        return;
      }
      case "reboot": {
        if (!serial) throw new NotFoundError("cannot reboot: no Android device has been seen yet and no serial is set");
        const args = ["-s", serial, "reboot"];
        const out = await this.#adb(args);
        this.#throwIfFailed(args, out, "reboot");
        return;
      }
      case "power_cycle":
        throw new NotSupportedError("a power cycle is done by the power controller (powerController), not adb");
    }
  }

  /** The device last picked by a probe: its serial and the USB path adb printed (`usb:1-1.2`). */
  powerTarget(): PowerTarget | undefined {
    const serial = this.#options.serial ?? this.#last?.serial;
    const usbPath = this.#last?.info.usb;
    if (!serial && !usbPath) return undefined;
    return { ...(serial ? { serial } : {}), ...(usbPath ? { usbPath } : {}) };
  }

  /** adb sometimes reports failure on stdout with exit 0 (`adb -s X reconnect`: "device 'X' not found"). */
  #throwIfFailed(args: readonly string[], out: CommandOutput, action: RecoveryAction): void {
    const text = `${out.stdout}\n${out.stderr}`;
    if (out.exitCode === 0 && !/not found|^error:/im.test(text)) return;
    const said = firstLine(/error|not found/i.test(out.stdout) ? out.stdout : out.stderr) || firstLine(out.stdout);
    throw new UpstreamError(
      `recovery step ${action} failed: \`adb ${args.join(" ")}\` exited ${out.exitCode}${said ? `: ${said}` : ""}`,
    );
  }

  async close(): Promise<void> {
    this.#runner.killAll();
    await this.#probes.settled();
  }
}

/** The first line adb said, past its `* daemon ...` start-up chatter. */
function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "" && !l.startsWith("* ")) ?? ""
  );
}
