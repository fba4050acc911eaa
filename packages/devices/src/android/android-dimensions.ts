import type { Dimensions } from "../types.js";
import type { Props } from "./getprop.js";

function distinct(values: readonly (string | undefined)[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    const value = v?.trim();
    if (value && !out.includes(value)) out.push(value);
  }
  return out;
}

/**
 * The dimensions Swarming task definitions select Android devices by
 * (docs/devices.md): android_devices, os, device_type, device_os,
 * device_os_flavor, device_os_type, android_hwasan_build. Keys whose
 * properties are missing are left out, so no dimension is ever empty.
 */
export function androidDimensions(props: Props): Dimensions {
  const dims: Dimensions = { android_devices: ["1"], os: ["Android"] };

  const deviceType = distinct([props["ro.product.device"], props["ro.build.product"], props["ro.product.board"]]);
  if (deviceType.length > 0) dims.device_type = deviceType;

  const id = props["ro.build.id"]?.trim();
  if (id) {
    const incremental = props["ro.build.version.incremental"]?.trim();
    const first = id[0] ?? "";
    const os = [id];
    if (incremental) os.push(`${id}_${incremental}`);
    if (/^[A-Z]$/.test(first)) os.push(first);
    dims.device_os = [...new Set(os)].sort();
  }

  const flavor = distinct([props["ro.product.brand"], props["ro.product.system.brand"]].map((b) => b?.toLowerCase()));
  if (flavor.length > 0) dims.device_os_flavor = distinct(flavor.map((b) => (b === "aosp" ? "android" : b)));

  const buildType = props["ro.build.type"]?.trim();
  if (buildType) dims.device_os_type = [buildType];

  if (props["ro.product.name"]?.trim().endsWith("_hwasan")) dims.android_hwasan_build = ["1"];
  return dims;
}
