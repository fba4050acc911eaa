import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botCodeDigest, inspectBotCode } from "./bot-code-digest.js";
import { CorruptZipError } from "./errors.js";

let tmp: string;

/** Writes a zip with Python's zipfile: entries in the given order, with the given timestamp and compression. */
function makeZip(path: string, entries: [string, string][], year: number, deflate: boolean): void {
  const script = `
import json, sys, zipfile
path, entries, year, deflate = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as z:
    for name, content in entries:
        z.writestr(zipfile.ZipInfo(name, (year, 1, 1, 0, 0, 0)), content)
`;
  execFileSync("python3", ["-c", script, path, JSON.stringify(entries), String(year), deflate ? "1" : "0"]);
}

/** The documented definition, computed independently of yauzl. */
function expected(entries: [string, string][]): string {
  const h = createHash("sha256");
  const files = entries
    .filter(([n]) => !n.endsWith("/"))
    .sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const [name, content] of files) {
    const size = Buffer.alloc(8);
    size.writeBigUInt64BE(BigInt(Buffer.byteLength(content)));
    h.update(Buffer.from(name))
      .update(Buffer.from([0]))
      .update(size)
      .update(Buffer.from(content));
  }
  return h.digest("hex");
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "digest-test-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("botCodeDigest", () => {
  const entries: [string, string][] = [
    ["config/", ""],
    ["config/config.json", '{"server": "https://x"}'],
    ["__main__.py", "print('hi')"],
    ["é.txt", "unicode name"],
  ];

  it("hashes names and contents of file entries, sorted; not order, timestamps or compression", async () => {
    const a = join(tmp, "a.zip");
    const b = join(tmp, "b.zip");
    makeZip(a, entries, 2020, true);
    makeZip(b, [...entries].reverse(), 2024, false);
    expect(await botCodeDigest(a)).toBe(expected(entries));
    expect(await botCodeDigest(b)).toBe(expected(entries));
    expect((await inspectBotCode(a)).entryNames).toEqual(["__main__.py", "config/config.json", "é.txt"]);
  });

  it("changes when a name or a content changes", async () => {
    const base = join(tmp, "base.zip");
    makeZip(base, entries, 2020, true);
    const renamed = join(tmp, "renamed.zip");
    makeZip(renamed, [...entries.slice(0, 3), ["e.txt", "unicode name"]], 2020, true);
    const edited = join(tmp, "edited.zip");
    makeZip(
      edited,
      [entries[0], ["config/config.json", '{"server": "https://y"}'], ...entries.slice(2)] as [string, string][],
      2020,
      true,
    );
    const digests = new Set([await botCodeDigest(base), await botCodeDigest(renamed), await botCodeDigest(edited)]);
    expect(digests.size).toBe(3);
  });

  it("throws CorruptZipError for a missing file, a non-zip and a truncated zip", async () => {
    await expect(botCodeDigest(join(tmp, "missing.zip"))).rejects.toBeInstanceOf(CorruptZipError);
    const text = join(tmp, "text.zip");
    await writeFile(text, "<html>not a zip</html>");
    await expect(botCodeDigest(text)).rejects.toBeInstanceOf(CorruptZipError);
    const full = join(tmp, "full.zip");
    makeZip(full, entries, 2020, true);
    const bytes = await readFile(full);
    const cut = join(tmp, "cut.zip");
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(botCodeDigest(cut)).rejects.toThrow(/is not a readable zip|damaged/);
  });
});
