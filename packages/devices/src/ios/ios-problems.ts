import type { DeviceProblem } from "../types.js";

export const USBMUXD_HINT =
  "usbmuxd is not running, so libimobiledevice cannot see any iOS device: run it on the host (usbmuxd -f -U root, or the usbmuxd service) and share its socket /var/run/usbmuxd with the pod";

const TRUST_HINT =
  'unlock the device, tap "Trust" on the "Trust This Computer?" prompt and enter its passcode; if it never asks, remove the old pairing (idevicepair unpair) and pair again (idevicepair pair)';

export function noIosDeviceProblem(): DeviceProblem {
  return {
    code: "device_missing",
    message:
      "No iOS device is attached (idevice_id -l lists none): check the USB cable, that the device is on and that usbmuxd sees it",
  };
}

export function udidMissingProblem(udid: string, listed: readonly string[]): DeviceProblem {
  return {
    code: "device_missing",
    serial: udid,
    message: `iOS device ${udid} is not attached (idevice_id -l lists ${listed.length > 0 ? listed.join(", ") : "none"}): check its USB cable and that it is on`,
  };
}

export function severalIosDevicesProblem(udids: readonly string[]): DeviceProblem {
  return {
    code: "several_devices",
    message: `${udids.length} iOS devices are attached (${udids.join(", ")}) and no serial is set, so none is used: set --serial to the UDID of the one this bot serves`,
  };
}

/**
 * Classifies a failed libimobiledevice call. These tools print their errors
 * on stdout (ideviceinfo: exit 255) or stderr (lockdownd errors), so both are
 * searched.
 */
export function problemFromIdeviceError(
  udid: string,
  command: string,
  output: string,
  exitCode: number,
): DeviceProblem {
  const text = output.trim();
  const said = text.split("\n").find((l) => l.trim() !== "") ?? "";
  if (/Unable to retrieve device list/i.test(text))
    return { code: "probe_failed", serial: udid, message: USBMUXD_HINT };
  if (/No device found|Device .* not found/i.test(text))
    return {
      code: "device_missing",
      serial: udid,
      message: `iOS device ${udid} disappeared: ${command} says "${said}"`,
    };
  if (
    /Pairing dialog response pending|User denied pairing|Password protected|Invalid HostID|Missing HostID|Invalid pair record|Missing pair record|not paired/i.test(
      text,
    )
  )
    return {
      code: "unauthorized",
      serial: udid,
      message: `iOS device ${udid} does not trust this host ("${said}"): ${TRUST_HINT}`,
    };
  return {
    code: "probe_failed",
    serial: udid,
    message: `\`${command}\` failed (exit ${exitCode})${said ? `: ${said}` : " without a message"}`,
  };
}
