/** Seconds since boot from `/proc/uptime` (`12345.67 54321.00`); undefined when unreadable. */
export function parseProcUptime(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s+\d+(?:\.\d+)?\s*$/.exec(text);
  if (!match?.[1]) return undefined;
  const seconds = Number(match[1]);
  return Number.isFinite(seconds) ? seconds : undefined;
}
