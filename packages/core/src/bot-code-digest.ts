import { createHash, type Hash } from "node:crypto";
import type { Readable } from "node:stream";
import type yauzl from "yauzl";
import { CorruptZipError } from "./errors.js";

/** What a bot code zip holds, as far as its version is concerned. */
export interface BotCodeInfo {
  /** The Swarming bot code version: lower-case hex SHA-256, see botCodeDigest. */
  readonly digest: string;
  /** Entry names (directory entries included), sorted as hashed. */
  readonly entryNames: readonly string[];
}

/**
 * The Swarming bot code version of a zip, exactly as the Swarming server
 * announces it and the bot computes it for itself:
 *
 *   for name in sorted(zip.namelist()):
 *     sha256 <- str(len(name)) | name as UTF-8 | str(len(content)) | content
 *
 * `len(name)` counts Unicode code points (a Python str), `len(content)` bytes,
 * both as ASCII decimal with no separators. Names sort by code point (the
 * same as their UTF-8 bytes), directory entries count, and a name that occurs
 * twice is hashed twice with the content of its last entry (what
 * `ZipFile.open(name)` reads). Names are decoded as Python's zipfile does:
 * UTF-8 when the entry's flag bit 11 says so, else CP437, cut at a NUL.
 *
 * Reads the zip as a stream: memory does not grow with its size. Throws
 * CorruptZipError when the file is not a complete, readable zip.
 */
export async function botCodeDigest(zipPath: string): Promise<string> {
  return (await inspectBotCode(zipPath)).digest;
}

/** The version (see botCodeDigest) and the entry names of a bot code zip. */
export async function inspectBotCode(zipPath: string): Promise<BotCodeInfo> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(zipPath);
  } catch (err) {
    throw new CorruptZipError(`${zipPath} is not a readable zip: ${(err as Error).message}`, { cause: err });
  }
  try {
    const lastByName = new Map<string, yauzl.Entry>();
    const names: string[] = [];
    for (const entry of await readEntries(zip)) {
      const name = entryName(entry);
      names.push(name);
      lastByName.set(name, entry);
    }
    const sorted = names
      .map((name) => ({ name, utf8: Buffer.from(name, "utf8") }))
      .sort((a, b) => Buffer.compare(a.utf8, b.utf8));
    const hash = createHash("sha256");
    for (const { name, utf8 } of sorted) {
      const entry = lastByName.get(name) as yauzl.Entry;
      hash.update(String(codePoints(name)));
      hash.update(utf8);
      hash.update(String(entry.uncompressedSize));
      if (entry.uncompressedSize > 0) await hashEntry(zip, entry, hash);
    }
    return { digest: hash.digest("hex"), entryNames: sorted.map((e) => e.name) };
  } catch (err) {
    if (err instanceof CorruptZipError) throw err;
    throw new CorruptZipError(`${zipPath} is a damaged zip: ${(err as Error).message}`, { cause: err });
  } finally {
    zip.close();
  }
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Python's zipfile: bit 11 means UTF-8, anything else is CP437 (extra fields are not read). */
function entryName(entry: yauzl.Entry): string {
  const stored = entry.fileName as unknown as Buffer;
  // ZipInfo cuts a name at its first NUL byte.
  const nul = stored.indexOf(0);
  const raw = nul >= 0 ? stored.subarray(0, nul) : stored;
  if (entry.generalPurposeBitFlag & 0x800) return raw.toString("utf8");
  let out = "";
  for (const byte of raw) out += byte < 0x80 ? String.fromCharCode(byte) : (CP437_HIGH[byte - 0x80] as string);
  return out;
}

const CP437_HIGH = [
  ..."ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0",
];

async function openZip(path: string): Promise<yauzl.ZipFile> {
  // Loaded on first use so processes that never read a zip do not carry it.
  const { default: yauzl } = await import("yauzl");
  return new Promise((resolve, reject) => {
    // Raw names: decoded above the way Python's zipfile does, not the way yauzl would.
    yauzl.open(path, { lazyEntries: true, autoClose: false, decodeStrings: false }, (err, zip) =>
      err ? reject(err) : resolve(zip),
    );
  });
}

function readEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on("entry", (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.once("end", () => resolve(entries));
    zip.once("error", reject);
    zip.readEntry();
  });
}

function hashEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, hash: Hash): Promise<void> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream: Readable) => {
      if (err) return reject(err);
      stream.on("data", (chunk: Buffer) => hash.update(chunk));
      stream.once("end", () => resolve());
      stream.once("error", reject);
    });
  });
}
