import type { ProbeOutcome } from "../exec/probe-cycle.js";
import type { DeviceReading } from "../types.js";
import type { AdbDeviceEntry } from "./adb-devices.js";
import { androidDimensions } from "./android-dimensions.js";
import { parseDumpsysBattery } from "./dumpsys-battery.js";
import { parseThermalservice } from "./dumpsys-thermalservice.js";
import { parseGetprop } from "./getprop.js";
import type { ProbeSection } from "./probe-script.js";
import { parseProcUptime } from "./proc-uptime.js";

/**
 * Every fact of an answering Android device, from the text of its probe
 * sections (getprop, dumpsys battery, dumpsys thermalservice, /proc/uptime).
 * The one place those facts are derived: the adb driver and the simulated
 * phone both read their devices through it.
 */
export function readAndroidDevice(
  entry: AdbDeviceEntry,
  sections: Readonly<Partial<Record<ProbeSection, string>>>,
): ProbeOutcome {
  const { serial } = entry;
  const props = parseGetprop(sections.getprop ?? "");
  if (Object.keys(props).length === 0)
    return {
      problem: {
        code: "probe_failed",
        serial,
        message: `Android device ${serial} printed no system properties (getprop output is empty or garbled)`,
      },
    };
  // adb lists a rebooting phone as `device` well before Android has started its services.
  if (props["sys.boot_completed"] !== "1")
    return {
      problem: {
        code: "offline",
        serial,
        message: `Android device ${serial} is still booting (sys.boot_completed is not 1); it should answer shortly`,
      },
    };
  const battery = parseDumpsysBattery(sections.battery ?? "");
  const thermal = parseThermalservice(sections.thermal ?? "");
  const uptimeSeconds = parseProcUptime(sections.uptime ?? "");
  const extra: Record<string, unknown> = { thermal_service: thermal.serviceAvailable };
  const facts: Record<string, string | undefined> = {
    model: props["ro.product.model"],
    manufacturer: props["ro.product.manufacturer"],
    product: props["ro.product.name"],
    sdk: props["ro.build.version.sdk"],
    release: props["ro.build.version.release"],
    fingerprint: props["ro.build.fingerprint"],
    usb: entry.info.usb,
    transport_id: entry.info.transport_id,
  };
  for (const [k, v] of Object.entries(facts)) if (v) extra[k] = v;
  const device: DeviceReading = {
    serial,
    connection: entry.state,
    dimensions: androidDimensions(props),
    temperaturesCelsius: thermal.temperaturesCelsius,
    extra,
    ...(battery ? { battery } : {}),
    ...(uptimeSeconds !== undefined ? { uptimeSeconds } : {}),
  };
  return { device };
}
