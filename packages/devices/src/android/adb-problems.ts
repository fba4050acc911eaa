import type { DeviceProblem } from "../types.js";
import type { AdbDeviceEntry } from "./adb-devices.js";

/** States in which Android is not running, so only a reboot helps. */
const NOT_ANDROID_STATES = new Set(["recovery", "sideload", "bootloader", "rescue", "host"]);
/** States that pass by themselves within seconds. */
const TRANSIENT_STATES = new Set(["authorizing", "connecting"]);

const UNAUTHORIZED_HINT =
  'accept the "Allow USB debugging" prompt on the phone (tick "Always allow from this computer"), or install the lab\'s shared adb key as ~/.android/adbkey (with adbkey.pub) for the user running adb and restart the adb server';

const NO_PERMISSIONS_HINT =
  "run the pod privileged with /dev/bus/usb mounted, or give the adb user access to the USB device with udev rules (e.g. Debian's android-sdk-platform-tools-common)";

/** Lists serials and states for messages: `8A2Y0B3C (device), R58N12 (offline)`. */
export function describeEntries(entries: readonly AdbDeviceEntry[]): string {
  return entries.length === 0 ? "none" : entries.map((e) => `${e.serial} (${e.state})`).join(", ");
}

/** The problem of a listed device that is not in state `device`; undefined when it is usable. */
export function problemForState(entry: AdbDeviceEntry): DeviceProblem | undefined {
  const { serial, state } = entry;
  switch (state) {
    case "device":
      return undefined;
    case "unauthorized":
      return {
        code: "unauthorized",
        serial,
        message: `Android device ${serial} is unauthorized: ${UNAUTHORIZED_HINT}`,
      };
    case "no permissions":
      return {
        code: "no_permissions",
        serial,
        message: `adb has no permission to open Android device ${serial}${entry.detail ? ` (${entry.detail})` : ""}: ${NO_PERMISSIONS_HINT}`,
      };
    case "offline":
      return {
        code: "offline",
        serial,
        // The driver runs `adb reconnect offline` before it reports this.
        message: `Android device ${serial} is offline and \`adb reconnect offline\` did not revive it: unplug and replug its USB cable, or reboot it`,
      };
  }
  if (NOT_ANDROID_STATES.has(state))
    return {
      code: "offline",
      serial,
      message: `Android device ${serial} is in ${state} mode, not running Android: reboot it (adb -s ${serial} reboot)`,
    };
  if (TRANSIENT_STATES.has(state))
    return { code: "offline", serial, message: `Android device ${serial} is still ${state}; it should answer shortly` };
  return {
    code: "probe_failed",
    serial,
    message: `adb reports Android device ${serial} in unexpected state "${state}"`,
  };
}

export function noDeviceProblem(): DeviceProblem {
  return {
    code: "device_missing",
    message:
      "No Android device is attached (adb devices lists none): check the USB cable, that the phone is on and that USB debugging is enabled",
  };
}

export function serialMissingProblem(serial: string, entries: readonly AdbDeviceEntry[]): DeviceProblem {
  return {
    code: "device_missing",
    serial,
    message: `Android device ${serial} is not attached (adb devices lists ${describeEntries(entries)}): check its USB cable and that it is on`,
  };
}

export function severalDevicesProblem(entries: readonly AdbDeviceEntry[]): DeviceProblem {
  return {
    code: "several_devices",
    message: `${entries.length} Android devices are attached (${describeEntries(entries)}) and no serial is set, so none is used: set --serial or ANDROID_SERIAL to the one this bot serves`,
  };
}

/** Classifies a failed `adb -s SERIAL <command>` by what adb printed. */
export function problemFromAdbError(serial: string, command: string, output: string, exitCode: number): DeviceProblem {
  const text = output.trim();
  // Skip adb's `* daemon not running; starting now` chatter.
  const firstLine =
    text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "" && !l.startsWith("* ")) ?? "";
  if (/device '.*' not found|no devices\/emulators found|device not found/i.test(text))
    return { code: "device_missing", serial, message: `Android device ${serial} disappeared: adb says "${firstLine}"` };
  if (/device offline/i.test(text))
    return { code: "offline", serial, message: `Android device ${serial} went offline: adb says "${firstLine}"` };
  if (/unauthorized/i.test(text))
    return { code: "unauthorized", serial, message: `Android device ${serial} is unauthorized: ${UNAUTHORIZED_HINT}` };
  if (/insufficient permissions|no permissions/i.test(text))
    return {
      code: "no_permissions",
      serial,
      message: `adb has no permission to open Android device ${serial}: ${NO_PERMISSIONS_HINT}`,
    };
  return {
    code: "probe_failed",
    serial,
    message: `\`adb -s ${serial} ${command}\` failed (exit ${exitCode})${firstLine ? `: ${firstLine}` : " without a message"}`,
  };
}
