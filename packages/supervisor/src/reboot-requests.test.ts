import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@rpi-swarming/core";
import { waitFor } from "@rpi-swarming/core/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RebootRequest, RebootRequestWatcher } from "./reboot-requests.js";

let dir: string;
const log = createLogger({ level: "fatal" });
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "reboot-req-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("RebootRequestWatcher", () => {
  it("ignores old lines, reports new ones (also partial and garbage lines) and survives truncation", async () => {
    const file = join(dir, "reboot-requests");
    writeFileSync(file, '{"time": 1, "args": "old", "pid": 1}\n');
    const seen: RebootRequest[] = [];
    const w = new RebootRequestWatcher(file, log, (r) => seen.push(r), 10_000);
    await w.start();
    try {
      expect(await w.poll()).toEqual([]);
      appendFileSync(file, '{"time": 5, "args": "-n /sbin/shutdown -r now", "pid": 42}\n{"time": 6, "ar');
      await w.poll();
      expect(seen).toEqual([{ time: 5, args: "-n /sbin/shutdown -r now", pid: 42 }]);
      appendFileSync(file, 'gs": "-n /sbin/reboot -f", "pid": 43}\nnot json\n');
      await w.poll();
      expect(seen.slice(1)).toEqual([
        { time: 6, args: "-n /sbin/reboot -f", pid: 43 },
        { time: null, args: "not json", pid: null },
      ]);
      writeFileSync(file, '{"time": 7, "args": "x", "pid": 44}\n');
      await w.poll();
      expect(seen.at(-1)).toEqual({ time: 7, args: "x", pid: 44 });
      expect(seen).toHaveLength(4);
    } finally {
      w.stop();
    }
  });

  it("works when the file does not exist yet", async () => {
    const file = join(dir, "later");
    const seen: RebootRequest[] = [];
    const w = new RebootRequestWatcher(file, log, (r) => seen.push(r), 20);
    await w.start();
    try {
      appendFileSync(file, '{"time": 1, "args": "a", "pid": 2}\n');
      await waitFor("the request", () => seen.length > 0, 5000);
      expect(seen).toHaveLength(1);
    } finally {
      w.stop();
    }
  });
});
