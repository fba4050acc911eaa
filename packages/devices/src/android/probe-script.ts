import { randomBytes } from "node:crypto";

/** The parts of one probe's `adb shell` output, in the order they run. */
export const PROBE_SECTIONS = ["getprop", "battery", "thermal", "uptime"] as const;
export type ProbeSection = (typeof PROBE_SECTIONS)[number];

const COMMANDS: Readonly<Record<ProbeSection, string>> = {
  getprop: "getprop",
  battery: "dumpsys battery",
  thermal: "dumpsys thermalservice",
  uptime: "cat /proc/uptime",
};

export interface ProbeScript {
  /** The one argument given to `adb -s SERIAL shell`. */
  readonly command: string;
  readonly nonce: string;
}

function marker(nonce: string, name: string): string {
  return `@@rpi-swarming:${nonce}:${name}@@`;
}

/**
 * One device-side shell command that prints every probe section between
 * markers, so a healthy probe needs a single `adb shell`. The nonce makes the
 * markers unique to this probe; output of a command cannot fake them.
 */
export function buildProbeScript(nonce = randomBytes(6).toString("hex")): ProbeScript {
  const parts: string[] = [];
  for (const section of PROBE_SECTIONS) parts.push(`echo ${marker(nonce, section)}`, COMMANDS[section]);
  parts.push(`echo ${marker(nonce, "end")}`);
  return { command: parts.join("; "), nonce };
}

export interface SplitOutput {
  /** Text of each section whose start marker was seen. */
  readonly sections: Partial<Record<ProbeSection, string>>;
  /** True when the closing marker was seen: nothing was cut off. */
  readonly complete: boolean;
}

/** Splits `adb shell` output of a probe script into its sections. */
export function splitProbeOutput(stdout: string, nonce: string): SplitOutput {
  const sections: Partial<Record<ProbeSection, string[]>> = {};
  let current: ProbeSection | undefined;
  let complete = false;
  const pattern = new RegExp(`^@@rpi-swarming:${nonce}:([a-z]+)@@\\r?$`);
  for (const line of stdout.split("\n")) {
    const name = pattern.exec(line)?.[1];
    if (name === "end") {
      complete = true;
      current = undefined;
      continue;
    }
    if (name && (PROBE_SECTIONS as readonly string[]).includes(name)) {
      current = name as ProbeSection;
      sections[current] = [];
      continue;
    }
    if (current) sections[current]?.push(line);
  }
  const out: Partial<Record<ProbeSection, string>> = {};
  for (const [k, v] of Object.entries(sections)) out[k as ProbeSection] = v.join("\n");
  return { sections: out, complete };
}
