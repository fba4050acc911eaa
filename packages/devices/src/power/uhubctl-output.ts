/**
 * What uhubctl (2.x) prints; the format is that of uhubctl.c (github.com/mvp/uhubctl,
 * main() and print_port_status()):
 *
 *   Current status for hub 1-1 [2109:3431 VIA Labs, Inc. USB2.0 Hub, USB 2.10, 4 ports, ppps]
 *     Port 2: 0503 power highspeed enable connect [18d1:4ee7 Google Pixel 3a 8A2Y0B3C]
 *   Sent power off request
 *   New status for hub 1-1 [...]
 *     Port 2: 0000 off
 *
 * The hub description ends in `ppps` (per-port power switching), `ganged` or
 * `nops`; a port line ends in the attached device's description in brackets.
 */
export interface UhubctlHub {
  readonly location: string;
  readonly description: string;
  /** ppps, ganged or nops; undefined when the description does not say. */
  readonly switching: string | undefined;
  readonly ports: readonly UhubctlPort[];
}

export interface UhubctlPort {
  readonly port: number;
  /** The status word in hex, e.g. `0503`. */
  readonly status: string;
  /** Words after the status: `power`, `enable`, `connect`, `off`... */
  readonly flags: readonly string[];
  /** The attached device's `vid:pid vendor product serial`, when one is connected. */
  readonly device: string | undefined;
}

export interface UhubctlReport {
  /** Hubs as listed before the action (or the only listing, without -a). */
  readonly before: readonly UhubctlHub[];
  /** Hubs as listed after `Sent power ... request`. */
  readonly after: readonly UhubctlHub[];
  /** `on` or `off` from `Sent power X request`, once per hub acted on. */
  readonly sent: readonly string[];
}

const HUB_LINE = /^(Current|New) status for hub (\S+) \[(.*)\]$/;
const PORT_LINE = /^\s+Port (\d+): ([0-9a-f]{4})((?: [^[\s]+)*)(?: \[(.*)\])?$/;
const SENT_LINE = /^Sent power (on|off) request$/;

export function parseUhubctl(stdout: string): UhubctlReport {
  const before: UhubctlHub[] = [];
  const after: UhubctlHub[] = [];
  const sent: string[] = [];
  let current: { hub: UhubctlHub & { ports: UhubctlPort[] } } | undefined;
  for (const line of stdout.split("\n")) {
    const hub = HUB_LINE.exec(line);
    if (hub?.[1] && hub[2] && hub[3] !== undefined) {
      const description = hub[3];
      const switching = /, (ppps|ganged|nops)$/.exec(description)?.[1];
      const entry = { location: hub[2], description, switching, ports: [] as UhubctlPort[] };
      (hub[1] === "Current" ? before : after).push(entry);
      current = { hub: entry };
      continue;
    }
    const port = PORT_LINE.exec(line);
    if (port?.[1] && port[2] && current) {
      current.hub.ports.push({
        port: Number(port[1]),
        status: port[2],
        flags: (port[3] ?? "").trim().split(" ").filter(Boolean),
        device: port[4],
      });
      continue;
    }
    const s = SENT_LINE.exec(line);
    if (s?.[1]) sent.push(s[1]);
  }
  return { before, after, sent };
}
