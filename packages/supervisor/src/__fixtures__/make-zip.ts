import { execFileSync } from "node:child_process";

/**
 * Writes a zip with python3's zipfile: `__main__.py` (unless `withMain` is
 * false), a marker file, and `randomBytes` of incompressible data.
 */
export function makeZip(path: string, opts: { marker?: string; randomBytes?: number; withMain?: boolean } = {}): void {
  const script = `
import os, sys, zipfile
path, marker, n, with_main = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
    if with_main:
        z.writestr("__main__.py", "print('bot')\\n")
    z.writestr("marker.txt", marker)
    if n:
        z.writestr("blob.bin", os.urandom(n))
`;
  execFileSync("python3", [
    "-c",
    script,
    path,
    opts.marker ?? "v1",
    String(opts.randomBytes ?? 0),
    opts.withMain === false ? "0" : "1",
  ]);
}
