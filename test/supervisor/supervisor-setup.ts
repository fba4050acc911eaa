/**
 * What the supervisor end-to-end files share: a Swarming double with the
 * stand-in bot, temporary dirs, bot zips, a token endpoint, and cleanups run
 * after each test (`afterEach(cleanUp)`).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type SwarmingDouble, startSwarmingDouble } from "@rpi-swarming/swarming-double";
import { HOOK_SCRIPT, killLeftovers, type LogRecord, tempDirs } from "./harness.js";

export const cleanups: (() => Promise<void> | void)[] = [];

/** For afterEach: kills what a test left running, then runs its cleanups in reverse. */
export async function cleanUp(): Promise<void> {
  await killLeftovers();
  for (const c of cleanups.splice(0).reverse()) await c();
}

export async function double(options: Parameters<typeof startSwarmingDouble>[0] = {}): Promise<SwarmingDouble> {
  const d = await startSwarmingDouble({ botCode: { standIn: { hookScript: HOOK_SCRIPT } }, ...options });
  cleanups.push(() => d.close());
  return d;
}

/** The supervisor lock record of a bot dir (`<botDir>.lock/<highest number>`), or null. */
export function lockRecord(botDir: string): { pid: number; released?: boolean } | null {
  const lockDir = `${botDir}.lock`;
  if (!existsSync(lockDir)) return null;
  const top = readdirSync(lockDir)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => b - a)[0];
  return top === undefined ? null : JSON.parse(readFileSync(join(lockDir, String(top)), "utf8"));
}

export function dirs() {
  const d = tempDirs();
  cleanups.push(() => d.cleanup());
  return d;
}

/** A bot code zip whose __main__.py is the given Python source (for crash and hang behaviour). */
export function scriptZip(path: string, source: string): string {
  execFileSync("python3", [
    "-c",
    "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.writestr('__main__.py', sys.argv[2])",
    path,
    source,
  ]);
  return path;
}

export const started = (r: LogRecord) => r.msg === "bot started";
export const count = (records: LogRecord[], match: (r: LogRecord) => boolean) => records.filter(match).length;

/** A token endpoint in the GCE metadata shape whose reply can be switched. */
export async function tokenServer(reply: () => { status: number; body: string }) {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits += 1;
    const r = reply();
    res.statusCode = r.status;
    res.end(r.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, hits: () => hits };
}

/** Incompressible text (zip deflate cannot shrink it much). */
export function randomText(n: number): string {
  return Buffer.from(Array.from({ length: Math.ceil(n / 4) }, () => Math.random().toString(36).slice(2, 6)).join(""))
    .subarray(0, n)
    .toString();
}
