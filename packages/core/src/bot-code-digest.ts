import { createHash, type Hash } from "node:crypto";
import type { Readable } from "node:stream";
import type yauzl from "yauzl";
import { CorruptZipError } from "./errors.js";

/** What a bot code zip holds, as far as its version is concerned. */
export interface BotCodeInfo {
  /** Lower-case hex SHA-256, see botCodeDigest. */
  readonly digest: string;
  /** File entry names (directories left out), sorted as hashed. */
  readonly entryNames: readonly string[];
}

/**
 * The version digest of a Swarming bot code zip, as this project defines it
 * (the stand-in bot computes the same value in Python; the real Swarming
 * server's digest may differ byte-for-byte, but has the same property: it
 * changes when any entry's name or content changes).
 *
 * Hashed: SHA-256 over every file entry of the zip (entries whose name ends
 * in "/" are directories and are skipped), in ascending order of the UTF-8
 * bytes of their names; per entry the bytes
 *   name (UTF-8) | 0x00 | uncompressed size (8 bytes, unsigned big-endian) | uncompressed content
 * are fed to the hash. Zip metadata (timestamps, compression, comments,
 * order of entries in the archive) does not count, so rebuilding the same
 * files gives the same digest.
 *
 * Reads the zip as a stream: memory does not grow with its size. Throws
 * CorruptZipError when the file is not a complete, readable zip.
 */
export async function botCodeDigest(zipPath: string): Promise<string> {
  return (await inspectBotCode(zipPath)).digest;
}

/** The digest (see botCodeDigest) and the file entry names of a bot code zip. */
export async function inspectBotCode(zipPath: string): Promise<BotCodeInfo> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(zipPath);
  } catch (err) {
    throw new CorruptZipError(`${zipPath} is not a readable zip: ${(err as Error).message}`, { cause: err });
  }
  try {
    const entries = await readEntries(zip);
    const files = entries
      .filter((e) => !e.fileName.endsWith("/"))
      .map((e) => ({ entry: e, name: Buffer.from(e.fileName, "utf8") }))
      .sort((a, b) => Buffer.compare(a.name, b.name));
    const hash = createHash("sha256");
    for (const { entry, name } of files) {
      const size = Buffer.alloc(8);
      size.writeBigUInt64BE(BigInt(entry.uncompressedSize));
      hash.update(name);
      hash.update(Buffer.from([0]));
      hash.update(size);
      await hashEntry(zip, entry, hash);
    }
    return { digest: hash.digest("hex"), entryNames: files.map((f) => f.entry.fileName) };
  } catch (err) {
    if (err instanceof CorruptZipError) throw err;
    throw new CorruptZipError(`${zipPath} is a damaged zip: ${(err as Error).message}`, { cause: err });
  } finally {
    zip.close();
  }
}

async function openZip(path: string): Promise<yauzl.ZipFile> {
  // Loaded on first use so processes that never read a zip do not carry it.
  const { default: yauzl } = await import("yauzl");
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (err, zip) => (err ? reject(err) : resolve(zip)));
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
