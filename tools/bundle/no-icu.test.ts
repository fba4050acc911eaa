import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { localOffsetFormatter, localPartsFormatter } from "./local-time.js";
import { noIcu, rewriteForNoIcu } from "./no-icu.js";

const ROOT = resolve(import.meta.dirname, "../..");
const work = mkdtempSync(join(tmpdir(), "no-icu-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fields = (parts: readonly { type: string; value: string }[]) =>
  Object.fromEntries(parts.filter((p) => p.type !== "literal").map((p) => [p.type, p.value]));

/** The offset east of UTC in minutes, read as node-cron reads a "shortOffset" name. */
function offsetMinutes(parts: readonly { type: string; value: string }[]): number {
  const name = fields(parts).timeZoneName ?? "";
  const m = /^GMT(?:([+-])(\d{1,2})(?::(\d{2}))?)?$/.exec(name);
  if (!m) throw new Error(`unexpected offset name ${name}`);
  return m[1] ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) : 0;
}

describe("local-time formatters", () => {
  const zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/St_Johns"];
  const savedTz = process.env.TZ;
  afterAll(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it("give node-cron the fields and offsets Intl gives for local time, across DST changes", () => {
    // Every 37 minutes through 2026 hits both DST changes of each zone and many half-hours.
    const start = Date.UTC(2026, 0, 1);
    for (const zone of zones) {
      process.env.TZ = zone;
      const parts = new Intl.DateTimeFormat("en-US", {
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        weekday: "short",
        hour12: false,
      });
      const offset = new Intl.DateTimeFormat("en-US", { timeZoneName: "shortOffset" });
      for (let t = start; t < start + 366 * 86_400_000; t += 37 * 60_000 + 13_000) {
        const date = new Date(t);
        const want = fields(parts.formatToParts(date));
        // ICU writes midnight as "24" in some versions; node-cron reads it as 0.
        if (want.hour === "24") want.hour = "00";
        expect(fields(localPartsFormatter.formatToParts(date)), `${zone} ${date.toISOString()}`).toEqual(want);
        // ICU names a zero offset "GMT" or "GMT+0" by zone; node-cron reads both as Z.
        expect(offsetMinutes(localOffsetFormatter.formatToParts(date)), `${zone} ${date.toISOString()}`).toBe(
          offsetMinutes(offset.formatToParts(date)),
        );
      }
    }
  });
});

describe("the no-icu bundle plugin", () => {
  // Records every Intl object the child makes, without changing what it gets.
  const trap = join(work, "trap.mjs");
  writeFileSync(
    trap,
    `globalThis.__intl = [];
for (const k of Object.getOwnPropertyNames(Intl)) {
  const C = Intl[k];
  if (typeof C !== "function") continue;
  Intl[k] = new Proxy(C, { construct(t, a) { globalThis.__intl.push(k); return Reflect.construct(t, a); } });
}`,
  );
  const program = `
import cron from "node-cron";
import { assert, isNumber, isString } from "@sindresorhus/is";
const valid = cron.validate("*/30 * * * *");
let fired = 0;
await new Promise((done) => {
  const task = cron.schedule("* * * * * *", () => { if (++fired === 2) { task.stop(); done(); } }, { name: "t" });
});
const quiet = [...globalThis.__intl];
let message = "";
try { assert.any([isString, isNumber], null); } catch (err) { message = err.message; }
console.log(JSON.stringify({ valid, fired, quiet, message }));`;

  async function runBundled(
    plugins: boolean,
  ): Promise<{ valid: boolean; fired: number; quiet: string[]; message: string }> {
    const out = join(work, `program-${plugins}.mjs`);
    await build({
      stdin: { contents: program, resolveDir: ROOT, sourcefile: "program.mjs" },
      outfile: out,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "error",
      plugins: plugins ? [noIcu()] : [],
    });
    const text = execFileSync(process.execPath, ["--import", trap, out], { encoding: "utf8", timeout: 20_000 });
    return JSON.parse(text.trim().split("\n").pop() as string);
  }

  it("runs node-cron jobs and got's type checks with no Intl object until an assertion message is made", async () => {
    const result = await runBundled(true);
    expect(result.valid).toBe(true);
    expect(result.fired).toBe(2);
    expect(result.quiet).toEqual([]);
    expect(result.message).toBe("Expected values which are `string` or `number`. Received values of type `null`.");
  });

  it("is what makes the difference: the plain bundle makes Intl objects at load and per tick", async () => {
    const result = await runBundled(false);
    expect(result.quiet).toEqual(expect.arrayContaining(["ListFormat", "DateTimeFormat"]));
    expect(result.message).toBe("Expected values which are `string` or `number`. Received values of type `null`.");
  });

  it("fails loudly when a dependency no longer holds the text it rewrites", () => {
    const file = join(ROOT, "node_modules", "node-cron", "dist", "_shared.js");
    expect(() => rewriteForNoIcu(file, "const x = 1;")).toThrow(/node-cron.*_shared\.js no longer holds/);
    expect(rewriteForNoIcu(join(ROOT, "node_modules", "koa", "lib", "application.js"), "x")).toBeUndefined();
  });
});
