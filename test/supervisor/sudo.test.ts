import { execFile } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const sudoDir = resolve(import.meta.dirname, "../../images/sudo");
// The caller is a real python3 process, as the Swarming bot is. It prints what
// sudo did for it, unless sudo killed it.
const botCaller = `
import json, subprocess, sys
p = subprocess.run(["sudo", *json.loads(sys.argv[1])], capture_output=True, text=True)
print(json.dumps({"survived": True, "code": p.returncode, "out": p.stdout, "err": p.stderr}))
`;
// The bot starts a task the way the real one does (a child in a process group
// of its own) and the task runs sudo. The bot reports how the task ended.
const taskCaller = `
import json, os, subprocess, sys
task = subprocess.Popen([sys.executable, "-c", ${JSON.stringify(botCaller)}, sys.argv[1]],
                        stdout=subprocess.PIPE, text=True, preexec_fn=os.setpgrp)
print(json.dumps({"task_pid": task.pid}), flush=True)
out, _ = task.communicate()
print(json.dumps({"bot_survived": True, "task_code": task.returncode, "task_out": out.strip()}))
`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sudo-test-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  signal: NodeJS.Signals | null;
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
}

function runPython(
  script: string,
  arg: string,
  env: Record<string, string>,
  options: { uid?: number; gid?: number; path?: string; python?: string } = {},
) {
  return new Promise<Run>((done) => {
    const child = execFile(
      options.python ?? "python3",
      ["-c", script, arg],
      {
        env: { PATH: `${options.path ?? sudoDir}:${process.env.PATH}`, ...env },
        uid: options.uid,
        gid: options.gid,
        cwd: dir,
      },
      (err, stdout, stderr) => {
        const e = err as { signal?: NodeJS.Signals; code?: number } | null;
        done({ signal: e?.signal ?? null, code: e ? (e.code ?? null) : 0, stdout, stderr, pid });
      },
    );
    const pid = child.pid as number;
  });
}

// Like the bot: sudo's stderr goes where the caller's does.
const inheritingCaller = `
import subprocess, sys
subprocess.call(["sudo", "-n", "/sbin/shutdown", "-r", sys.argv[1]])
print("caller survived")
`;

function runCaller(env: Record<string, string>, arg = "now") {
  return runPython(inheritingCaller, arg, env);
}

function requests(file: string): { time: number; args: string; pid: number }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
}

/** Host stop/restart requests in the forms the bot uses and the usual spellings. */
const POWER_REQUESTS: string[][] = [
  ["-n", "/sbin/shutdown", "-r", "now"],
  ["-n", "/sbin/reboot", "-f"],
  ["/usr/sbin/shutdown", "-h", "now"],
  ["shutdown", "-P", "+0"],
  ["shutdown", "now"],
  ["-n", "-E", "/usr/sbin/reboot"],
  ["reboot"],
  ["-nE", "poweroff"],
  ["halt", "-p"],
  ["-n", "systemctl", "reboot"],
  ["-E", "/bin/systemctl", "poweroff"],
  ["--", "/usr/bin/systemctl", "--force", "halt"],
  ["-n", "--", "/sbin/halt"],
  ["--non-interactive", "/sbin/poweroff", "-f"],
  ["-n", "init", "6"],
];

describe("images/sudo: host shutdown and reboot requests", () => {
  it("appends one JSON line per request and SIGKILLs its caller", async () => {
    const file = join(dir, "reboot-requests");
    const first = await runCaller({ RPI_SWARMING_REBOOT_REQUEST_FILE: file });
    expect(first.signal).toBe("SIGKILL");
    expect(first.stdout).not.toContain("survived");
    const second = await runCaller({ RPI_SWARMING_REBOOT_REQUEST_FILE: file }, 'now "quoted" \\ back\tslash');
    expect(second.signal).toBe("SIGKILL");
    const [a, b, ...rest] = requests(file);
    expect(rest).toEqual([]);
    expect(a?.args).toBe("-n /sbin/shutdown -r now");
    expect(a?.pid).toBe(first.pid);
    expect(Math.abs((a?.time ?? 0) - Date.now() / 1000)).toBeLessThan(30);
    expect(b?.args).toBe('-n /sbin/shutdown -r now "quoted" \\ back\tslash');
    expect(b?.pid).toBe(second.pid);
  });

  it.each(POWER_REQUESTS.map((a) => [a.join(" "), a]))("from the bot: sudo %s", async (_, args) => {
    const file = join(dir, "reboot-requests");
    const r = await runPython(botCaller, JSON.stringify(args), { RPI_SWARMING_REBOOT_REQUEST_FILE: file });
    expect(r.signal).toBe("SIGKILL");
    expect(requests(file)).toEqual([{ time: expect.any(Number), args: args.join(" "), pid: r.pid }]);
  });

  it.each(POWER_REQUESTS.map((a) => [a.join(" "), a]))(
    "from a task (own process group): sudo %s kills the task, not the bot",
    async (_, args) => {
      const file = join(dir, "reboot-requests");
      const r = await runPython(taskCaller, JSON.stringify(args), { RPI_SWARMING_REBOOT_REQUEST_FILE: file });
      expect(r.code).toBe(0);
      const [started, ended] = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(ended).toEqual({ bot_survived: true, task_code: -9, task_out: "" });
      expect(requests(file)).toEqual([{ time: expect.any(Number), args: args.join(" "), pid: started.task_pid }]);
    },
  );

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

/** Commands that are no reboot request, with what root gets from them. */
const OTHER_COMMANDS: [string[], { code: number; out: string }][] = [
  [["-n", "true"], { code: 0, out: "" }],
  [["id", "-u"], { code: 0, out: "0\n" }],
  [["-n", "-E", "sh", "-c", "echo $0 ran; exit 3", "sh"], { code: 3, out: "sh ran\n" }],
  [["-n", "--", "printf", "%s|", "-r", "now"], { code: 0, out: "-r|now|" }],
  [["-u", "root", "echo", "as root"], { code: 0, out: "as root\n" }],
  [["-n", "shutdown", "-c"], { code: -1, out: "" }],
  [["-n", "systemctl", "status"], { code: -1, out: "" }],
  [["-n", "/sbin/reboot-helper"], { code: 1, out: "" }],
  [["-nv"], { code: 0, out: "" }],
];

describe("images/sudo: anything else", () => {
  it.each(OTHER_COMMANDS.map(([a, want]) => [a.join(" "), a, want] as const))(
    "as root, from the bot and from a task: sudo %s runs the command",
    async (_, args, want) => {
      const file = join(dir, "reboot-requests");
      const env = { RPI_SWARMING_REBOOT_REQUEST_FILE: file };
      const fromBot = await runPython(botCaller, JSON.stringify(args), env);
      expect(fromBot.signal).toBeNull();
      const r = JSON.parse(fromBot.stdout) as { survived: boolean; code: number; out: string; err: string };
      expect(r.survived).toBe(true);
      // -1: whatever the real command says (it may be absent here); not a request either way.
      if (want.code >= 0) expect({ code: r.code, out: r.out }).toEqual(want);
      if (args.includes("/sbin/reboot-helper")) expect(r.err).toBe("sudo: /sbin/reboot-helper: command not found\n");
      const fromTask = await runPython(taskCaller, JSON.stringify(args), env);
      const ended = JSON.parse(fromTask.stdout.trim().split("\n")[1] as string) as { task_code: number };
      expect(ended.task_code).toBe(0);
      expect(requests(file)).toEqual([]);
    },
  );

  it("as another user fails the way `sudo -n` fails without a password, and runs nothing", async () => {
    // Needs root to become another user, and a python3 outside root's home.
    const python = ["/usr/bin/python3", "/usr/local/bin/python3"].find((p) => existsSync(p));
    if (process.getuid?.() !== 0 || !python) return;
    // A copy every user can reach (the work tree may not be).
    const shim = join(dir, "sudo-bin");
    mkdirSync(shim);
    copyFileSync(join(sudoDir, "sudo"), join(shim, "sudo"));
    chmodSync(shim, 0o755);
    chmodSync(join(shim, "sudo"), 0o755);
    chmodSync(dir, 0o755);
    const file = join(dir, "reboot-requests");
    for (const args of [["-n", "true"], ["touch", join(dir, "made-by-sudo")], ["-nv"], ["-n", "systemctl", "status"]]) {
      const run = await runPython(
        botCaller,
        JSON.stringify(args),
        { RPI_SWARMING_REBOOT_REQUEST_FILE: file },
        { uid: 65534, gid: 65534, path: shim, python },
      );
      expect(run.signal).toBeNull();
      expect(JSON.parse(run.stdout)).toEqual({
        survived: true,
        code: 1,
        out: "",
        err: "sudo: a password is required\n",
      });
    }
    expect(existsSync(join(dir, "made-by-sudo"))).toBe(false);
    expect(requests(file)).toEqual([]);
    // A reboot request is still a reboot request.
    chmodSync(dir, 0o777);
    const reboot = await runPython(
      botCaller,
      JSON.stringify(["-n", "/sbin/reboot", "-f"]),
      { RPI_SWARMING_REBOOT_REQUEST_FILE: file },
      { uid: 65534, gid: 65534, path: shim, python },
    );
    expect(reboot.signal).toBe("SIGKILL");
    expect(requests(file)).toHaveLength(1);
  });
});
