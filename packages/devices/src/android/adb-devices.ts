/** One line of `adb devices -l`. */
export interface AdbDeviceEntry {
  readonly serial: string;
  /** `device`, `offline`, `unauthorized`, `no permissions`, `recovery`, `sideload`, ... */
  readonly state: string;
  /** For `no permissions`: adb's hint in parentheses, e.g. about udev rules. */
  readonly detail?: string;
  /** `usb`, `product`, `model`, `device`, `transport_id`, ... as printed. */
  readonly info: Readonly<Record<string, string>>;
}

export interface AdbDeviceList {
  readonly devices: readonly AdbDeviceEntry[];
  /** False when the `List of devices attached` header is missing: the output is not a device list. */
  readonly headerSeen: boolean;
}

const HEADER = "List of devices attached";

/**
 * Parses `adb devices -l`. adb prints `<serial>\t<state>` without -l and
 * `%-22s %s` plus `key:value` pairs with it; both are accepted. Lines before
 * the header (`* daemon started successfully` when stderr is merged) are ignored.
 */
export function parseAdbDevices(text: string): AdbDeviceList {
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const headerAt = lines.findIndex((l) => l.trim() === HEADER);
  if (headerAt < 0) return { devices: [], headerSeen: false };
  const devices: AdbDeviceEntry[] = [];
  for (const line of lines.slice(headerAt + 1)) {
    if (line.trim() === "" || line.startsWith("*")) continue;
    const entry = parseEntry(line);
    if (entry) devices.push(entry);
  }
  return { devices, headerSeen: true };
}

function parseEntry(line: string): AdbDeviceEntry | undefined {
  const match = /^(\S+)[\t ]+(.*)$/.exec(line.trim());
  if (!match?.[1] || match[2] === undefined) return undefined;
  const serial = match[1];
  let rest = match[2].trim();
  let state: string;
  let detail: string | undefined;
  const noPerm = /^no permissions(?:\s*\(([^)]*)\))?;?(?:\s*see\s+\[[^\]]*\])?/.exec(rest);
  if (noPerm) {
    state = "no permissions";
    detail = noPerm[1];
    rest = rest.slice(noPerm[0].length);
  } else {
    const [first = "", ...others] = rest.split(/\s+/);
    state = first;
    rest = others.join(" ");
  }
  if (state === "" || state.includes(":")) return undefined;
  const info: Record<string, string> = {};
  for (const token of rest.split(/\s+/)) {
    const colon = token.indexOf(":");
    if (colon > 0) info[token.slice(0, colon)] = token.slice(colon + 1);
  }
  return detail === undefined ? { serial, state, info } : { serial, state, detail, info };
}
