/** Android system properties as `getprop` prints them. */
export type Props = Readonly<Record<string, string>>;

const PROPERTY_START = /^\[([^\]]+)\]: \[(.*)$/;

/**
 * Parses `getprop` output: lines `[key]: [value]`. A value may span several
 * lines (it then ends at the first line ending in `]`). Lines that are not
 * properties (warnings, garbage) are skipped, and a value cut off by a
 * truncated output is dropped rather than swallowing the lines after it.
 */
export function parseGetprop(text: string): Props {
  const props: Record<string, string> = {};
  let pending: { key: string; lines: string[] } | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const start = PROPERTY_START.exec(line);
    if (pending && !start) {
      if (line.endsWith("]")) {
        props[pending.key] = [...pending.lines, line.slice(0, -1)].join("\n");
        pending = undefined;
      } else {
        pending.lines.push(line);
      }
      continue;
    }
    pending = undefined;
    if (!start) continue;
    const [, key = "", rest = ""] = start;
    if (rest.endsWith("]")) props[key] = rest.slice(0, -1);
    else pending = { key, lines: [rest] };
  }
  return props;
}
