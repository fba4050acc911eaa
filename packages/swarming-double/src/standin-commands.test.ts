import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { botCodeDigest } from "@rpi-swarming/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOOK_FIXTURE, runZipCommand } from "./__fixtures__/bots.js";
import { startSwarmingDouble } from "./index.js";
import { buildStandInBotZip } from "./zip-builder.js";

let tmp: string;
let zip: string;
const SERVER = "http://127.0.0.1:9"; // nothing listens: these commands must not use the network

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "standin-cmd-"));
  zip = (await buildStandInBotZip({ server: `${SERVER}/`, hookScript: HOOK_FIXTURE, outPath: join(tmp, "bot.zip") }))
    .path;
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

type Attributes = { dimensions: Record<string, string[]>; state: Record<string, unknown>; version: string };

let callsFile = "";

async function attributes(control: Record<string, unknown>): Promise<Attributes> {
  const name = Math.random().toString(16).slice(2);
  const controlFile = join(tmp, `control-${name}.json`);
  callsFile = join(tmp, `calls-${name}.jsonl`);
  await writeFile(controlFile, JSON.stringify(control));
  const r = await runZipCommand(zip, ["attributes"], {
    SWARMING_BOT_ID: "cmd-bot",
    STANDIN_FIXTURE_CONTROL: controlFile,
    STANDIN_FIXTURE_CALLS: callsFile,
  });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Attributes;
}

describe("stand-in bot commands", () => {
  it("version prints the same digest as core's botCodeDigest; config prints config/config.json; unknown commands exit 1", async () => {
    const v = await runZipCommand(zip, ["version"]);
    expect(v.stdout.trim()).toBe(await botCodeDigest(zip));
    const c = await runZipCommand(zip, ["config"]);
    expect(JSON.parse(c.stdout)).toEqual({ server: SERVER });
    const bad = await runZipCommand(zip, ["frobnicate"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Unknown command frobnicate/);
  });

  it("is_fine: the code loads and server_ping answers, asked without a token", async () => {
    expect((await runZipCommand(zip, ["is_fine"])).code).toBe(1); // nothing listens on SERVER
    const double = await startSwarmingDouble({ token: "secret" });
    try {
      const fine = await buildStandInBotZip({
        server: double.url,
        hookScript: HOOK_FIXTURE,
        outPath: join(tmp, "fine.zip"),
      });
      const r = await runZipCommand(fine.path, ["is_fine"]);
      expect(r.code, r.stderr).toBe(0);
      expect(double.requests()).toMatchObject([
        { path: "/swarming/api/v1/bot/server_ping", status: 200, authorized: false },
      ]);
    } finally {
      await double.close();
    }
  });

  it("run as swarming_bot.zip, every command first copies it to swarming_bot.1.zip and execs the copy (same pid)", async () => {
    for (const command of ["version", "config", "attributes", "is_fine"]) {
      const dir = await mkdtemp(join(tmp, `reexec-${command}-`));
      await copyFile(zip, join(dir, "swarming_bot.zip"));
      const r = await runZipCommand(join(dir, "swarming_bot.zip"), [command], {
        TMPDIR: dir,
        SWARMING_BOT_ID: "cmd-bot",
      });
      expect(await readFile(join(dir, "swarming_bot.1.zip"))).toEqual(await readFile(zip));
      const init = (await readFile(join(dir, "swarming_bot_init.log"), "utf8")).trim().split("\n");
      const [first, second] = init.map((l) => /pid (\d+): (\S+) (\S+)$/.exec(l)?.slice(1));
      expect(init, r.stderr).toHaveLength(2);
      expect(first).toEqual([second?.[0], command, join(dir, "swarming_bot.zip")]);
      expect(second?.slice(1)).toEqual([command, join(dir, "swarming_bot.1.zip")]);
    }
  });

  it("task_runner refuses a manifest without a key the real one requires (bot_dimensions): an internal error for the bot to report", async () => {
    const dir = await mkdtemp(join(tmp, "tr-"));
    await mkdir(join(dir, "w"));
    const manifest = {
      task_id: "t1",
      bot_id: "b",
      command: ["true"],
      hard_timeout: 60,
      io_timeout: 60,
      grace_period: 30,
    };
    await writeFile(join(dir, "w", "in.json"), JSON.stringify(manifest));
    await copyFile(zip, join(dir, "swarming_bot.1.zip"));
    const out = join(dir, "w", "out.json");
    const r = await runZipCommand(join(dir, "swarming_bot.1.zip"), [
      "task_runner",
      "--swarming-server",
      SERVER,
      "--in-file",
      join(dir, "w", "in.json"),
      "--out-file",
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await readFile(out, "utf8"))).toMatchObject({
      exit_code: -1,
      internal_error: expect.stringMatching(/^Task manifest missing required key bot_dimensions:/),
      internal_error_reported: false,
    });
  });

  it("attributes: the hook's dimensions and state plus id, sleep_streak and rbe_instance; no bot_config before a handshake", async () => {
    const a = await attributes({});
    expect(a).toEqual({
      dimensions: {
        id: ["cmd-bot"],
        pool: ["fixture-pool"],
        device_type: ["fixture-phone"],
      },
      state: {
        fixture: true,
        battery: 0.9,
        started: false,
        sleep_streak: 0,
        rbe_instance: null,
      },
      version: await botCodeDigest(zip),
    });
    const calls = (await readFile(callsFile, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l)[0]);
    // Twice, like the real command: with a temporary bot object, then with the real one.
    expect(calls).toEqual([
      "get_dimensions",
      "get_state",
      "get_settings",
      "get_dimensions",
      "get_state",
      "get_settings",
    ]);
  });

  it("quarantines on dimensions of the wrong shape, a changed id, a broken get_state or a bad setting", async () => {
    const bad = await attributes({ dimensions_bad: true });
    expect(bad.state.quarantined).toBe(
      "get_dimensions() error: bad value for key 'device_type' (not a list or a tuple): 'not-a-list'",
    );
    expect(bad.dimensions).toEqual({ id: ["cmd-bot"] });

    const id = await attributes({ id: "someone-else" });
    expect(id.state.quarantined).toMatch(
      /"id" dimension cannot be changed dynamically from \['cmd-bot'\] to \['someone-else'\]/,
    );
    expect(id.dimensions.id).toEqual(["cmd-bot"]);

    const state = await attributes({ state_raise: true });
    expect(state.state).toEqual({
      quarantined: "get_state() exception: RuntimeError: fixture: get_state is broken",
      sleep_streak: 0,
      rbe_instance: null,
    });

    const settings = await attributes({ settings: { free_partition: 5 } });
    expect(settings.state.quarantined).toMatch(/setting free_partition must be a dict, got 5/);
    const okSettings = await attributes({ settings: { free_partition: { root: { size: 10 } }, extra: "kept" } });
    expect(okSettings.state.quarantined).toBeUndefined();

    const own = await attributes({ quarantine: "device is hot" });
    expect(own.state.quarantined).toBe("device is hot");
  });

  it("quarantines when a disk in the state has less free space than the settings ask", async () => {
    const low = await attributes({ disks: { "/": { free_mb: 500, size_mb: 100_000 } } });
    expect(low.state.quarantined).toMatch(/Not enough free disk space on \/: 500\.0 MiB < 6000\.0 MiB/);
    const fine = await attributes({ disks: { "/": { free_mb: 50_000, size_mb: 100_000 } } });
    expect(fine.state.quarantined).toBeUndefined();
  });
});

describe("buildStandInBotZip and the version digest", () => {
  const build = (name: string, server: string, hookScript = HOOK_FIXTURE, extra?: Record<string, string>) =>
    buildStandInBotZip({ server, hookScript, outPath: join(tmp, name), ...(extra ? { extraFiles: extra } : {}) });

  it("gives byte-identical zips for the same inputs and a new digest when config, hook or any entry changes", async () => {
    const a = await build("a.zip", "http://127.0.0.1:1");
    const again = await build("a2.zip", "http://127.0.0.1:1");
    expect(again.digest).toBe(a.digest);
    expect((await readFile(again.path)).equals(await readFile(a.path))).toBe(true);

    const otherServer = await build("b.zip", "http://127.0.0.1:2");
    expect(otherServer.digest).not.toBe(a.digest);

    const hook = join(tmp, "hook2.py");
    await writeFile(hook, `${await readFile(HOOK_FIXTURE, "utf8")}\n# changed\n`);
    const otherHook = await build("c.zip", "http://127.0.0.1:1", hook);
    expect(otherHook.digest).not.toBe(a.digest);

    const extra = await build("d.zip", "http://127.0.0.1:1", HOOK_FIXTURE, { "marker.txt": "1" });
    expect(extra.digest).not.toBe(a.digest);
    for (const z of [a, otherServer, otherHook, extra]) {
      expect((await runZipCommand(z.path, ["version"])).stdout.trim()).toBe(z.digest);
    }
  });

  it("refuses a server that is not a URL and a hook script that does not exist", async () => {
    await expect(build("e.zip", "not a url")).rejects.toThrow(/is not an http\(s\) URL/);
    await expect(build("f.zip", "http://x", join(tmp, "missing.py"))).rejects.toThrow(/cannot be read/);
  });
});
