import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const sudoDir = resolve(import.meta.dirname, "../../images/sudo");
// The caller is a real python3 process, as the Swarming bot is.
const caller = `
import subprocess, sys
subprocess.call(["sudo", "-n", "/sbin/shutdown", "-r", sys.argv[1]])
print("caller survived")
`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sudo-test-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function runCaller(env: Record<string, string>, arg = "now") {
  return new Promise<{ signal: NodeJS.Signals | null; stdout: string; stderr: string; pid: number }>((done) => {
    const child = execFile(
      "python3",
      ["-c", caller, arg],
      { env: { PATH: `${sudoDir}:${process.env.PATH}`, ...env } },
      (err, stdout, stderr) => {
        done({ signal: (err as { signal?: NodeJS.Signals } | null)?.signal ?? null, stdout, stderr, pid });
      },
    );
    const pid = child.pid as number;
  });
}

describe("images/sudo", () => {
  it("appends one JSON line per request and SIGKILLs its caller", async () => {
    const file = join(dir, "reboot-requests");
    const first = await runCaller({ RPI_SWARMING_REBOOT_REQUEST_FILE: file });
    expect(first.signal).toBe("SIGKILL");
    expect(first.stdout).not.toContain("caller survived");
    const second = await runCaller({ RPI_SWARMING_REBOOT_REQUEST_FILE: file }, 'now "quoted" \\ back\tslash');
    expect(second.signal).toBe("SIGKILL");
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(lines).toHaveLength(2);
    const [a, b] = lines.map((l) => JSON.parse(l) as { time: number; args: string; pid: number });
    expect(a?.args).toBe("-n /sbin/shutdown -r now");
    expect(a?.pid).toBe(first.pid);
    expect(Math.abs((a?.time ?? 0) - Date.now() / 1000)).toBeLessThan(30);
    expect(b?.args).toBe('-n /sbin/shutdown -r now "quoted" \\ back\tslash');
    expect(b?.pid).toBe(second.pid);
  });

  it("says so on stderr when the variable is unset and still kills its caller", async () => {
    const r = await runCaller({});
    expect(r.signal).toBe("SIGKILL");
    expect(r.stderr).toContain("RPI_SWARMING_REBOOT_REQUEST_FILE is not set");
  });

  it("still kills its caller when the request file cannot be written", async () => {
    const r = await runCaller({ RPI_SWARMING_REBOOT_REQUEST_FILE: join(dir, "no", "such", "dir") });
    expect(r.signal).toBe("SIGKILL");
    expect(r.stderr).toContain("cannot append");
  });
});
