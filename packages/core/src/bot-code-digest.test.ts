import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import yazl from "yazl";
import cases from "./__fixtures__/bot-code-version/cases.json" with { type: "json" };
import { botCodeDigest, inspectBotCode } from "./bot-code-digest.js";
import { CorruptZipError } from "./errors.js";

interface CaseEntry {
  name: string;
  text?: string;
  base64?: string;
  fill?: string;
  size?: number;
}

function content(e: CaseEntry): Buffer {
  if (e.text !== undefined) return Buffer.from(e.text, "utf8");
  if (e.base64 !== undefined) return Buffer.from(e.base64, "base64");
  if (e.fill !== undefined && e.size !== undefined) {
    const out = Buffer.alloc(e.size);
    out.fill(e.fill);
    return out;
  }
  return Buffer.alloc(0);
}

/** Writes the entries with yazl, in the given order (the Python side uses zipfile). */
async function writeZip(path: string, entries: CaseEntry[], compress = true): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    if (e.name.endsWith("/")) zip.addEmptyDirectory(e.name, { mtime: new Date(2020, 0, 1) });
    else zip.addBuffer(content(e), e.name, { compress, mtime: new Date(2024, 5, 1) });
  }
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(path);
    out.once("close", () => resolve());
    out.once("error", reject);
    zip.outputStream.pipe(out);
  });
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "bot-code-version-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("botCodeDigest: the Swarming bot code version", () => {
  it("gives the test vector of docs/swarming-bot.md", async () => {
    const zip = join(tmp, "vector.zip");
    await writeZip(zip, [{ name: "__main__.py", text: "print(1)\n" }]);
    expect(await botCodeDigest(zip)).toBe("e7f843c29941bc3fd4aba46fd67949f24478de737ad1ed7309f2c62a40eabb28");
  });

  for (const [i, c] of cases.cases.entries()) {
    it(`case ${i}: ${c.name}`, async () => {
      const zip = join(tmp, `case-${i}.zip`);
      await writeZip(zip, c.entries, (c as { compression?: string }).compression !== "stored");
      expect(await botCodeDigest(zip)).toBe(c.version);
    });
  }

  it("lists entry names, directories included, in hash order", async () => {
    const zip = join(tmp, "names.zip");
    await writeZip(zip, cases.cases[3]?.entries ?? []);
    expect((await inspectBotCode(zip)).entryNames).toEqual(["__main__.py", "config/", "config/config.json"]);
  });

  it("decodes a name without the UTF-8 flag as CP437, as Python's zipfile does", async () => {
    const zip = join(tmp, "cp437.zip");
    await writeZip(zip, [{ name: "X.txt", text: "cp437" }]);
    // yazl flags every name as UTF-8: clear bit 11 in the local and central headers, then put
    // 0x82 (é in CP437) where the X was.
    const bytes = await readFile(zip);
    for (const [signature, flagsAt] of [
      [0x04034b50, 6],
      [0x02014b50, 8],
    ] as const) {
      const sig = Buffer.alloc(4);
      sig.writeUInt32LE(signature);
      for (let i = bytes.indexOf(sig); i >= 0; i = bytes.indexOf(sig, i + 1)) {
        bytes.writeUInt16LE(bytes.readUInt16LE(i + flagsAt) & ~0x800, i + flagsAt);
      }
    }
    for (let i = bytes.indexOf("X.txt"); i >= 0; i = bytes.indexOf("X.txt", i + 1)) bytes[i] = 0x82;
    await writeFile(zip, bytes);
    const h = createHash("sha256").update("5").update("é.txt", "utf8").update("5").update("cp437");
    expect(await botCodeDigest(zip)).toBe(h.digest("hex"));
  });

  it("hashes a name that occurs twice twice, with the content of its last entry", async () => {
    const zip = join(tmp, "dup.zip");
    await writeZip(zip, [
      { name: "a", text: "first" },
      { name: "a", text: "last" },
    ]);
    const h = createHash("sha256");
    for (let i = 0; i < 2; i++) h.update("1").update("a").update("4").update("last");
    expect(await botCodeDigest(zip)).toBe(h.digest("hex"));
  });

  it("throws CorruptZipError for a missing file, a non-zip and a truncated zip", async () => {
    await expect(botCodeDigest(join(tmp, "missing.zip"))).rejects.toBeInstanceOf(CorruptZipError);
    const text = join(tmp, "text.zip");
    await writeFile(text, "<html>not a zip</html>");
    await expect(botCodeDigest(text)).rejects.toBeInstanceOf(CorruptZipError);
    const full = join(tmp, "full.zip");
    await writeZip(full, cases.cases[5]?.entries ?? []);
    const bytes = await readFile(full);
    const cut = join(tmp, "cut.zip");
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(botCodeDigest(cut)).rejects.toThrow(/is not a readable zip|damaged/);
  });
});
