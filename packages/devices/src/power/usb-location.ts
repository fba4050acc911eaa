/** A hub port as uhubctl names it: `-l <location> -p <port>`. */
export interface HubPort {
  /** `b-x.y.z`: bus, then the port of every hub on the way from the root hub (uhubctl's README, Usage). */
  readonly location: string;
  readonly port: number;
}

const USB_PATH = /^(\d+)-(\d+(?:\.\d+)*)$/;

/**
 * The hub port a device sits on, from the USB path the kernel gives it and
 * adb prints (`usb:1-1.2`): the last number is the port, the rest the hub's
 * location; a device on a root hub port (`1-2`) is on hub `1`. Undefined for
 * anything else (e.g. `usb:336592896X`, what adb prints on macOS).
 */
export function hubPortOfUsbPath(usbPath: string): HubPort | undefined {
  const m = USB_PATH.exec(usbPath.trim());
  if (!m?.[1] || !m[2]) return undefined;
  const ports = m[2].split(".");
  const port = Number(ports.pop());
  const location = ports.length === 0 ? m[1] : `${m[1]}-${ports.join(".")}`;
  return { location, port };
}
