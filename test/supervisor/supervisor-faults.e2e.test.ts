import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildStandInBotZip } from "@rpi-swarming/swarming-double";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, HOOK_SCRIPT, startSupervisor, waitUntil } from "./harness.js";
import { cleanUp, cleanups, count, dirs, double, randomText, started, tokenServer } from "./supervisor-setup.js";

afterEach(cleanUp);

describe("supervisor faults", () => {
  it("keeps retrying while the server is down and starts the bot as soon as code arrives", async () => {
    const port = await freePort();
    const { botDir, sharedDir } = dirs();
    const sup = startSupervisor({
      "swarming-server": `http://127.0.0.1:${port}`,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "download-backoff-max-seconds": 1,
    });
    await waitUntil(() => count(sup.records, (r) => r.msg === "cannot get the bot code") >= 2, 20_000, "2 failures");
    expect(count(sup.records, started)).toBe(0);
    const sw = await double({ port });
    await sup.waitForLog(started, 20_000, "bot started");
    await sw.waitFor((d) => d.bot("rpi-test-1")?.handshakes, { what: "handshake" });
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "network_error" })).toBeGreaterThanOrEqual(2);
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "success" })).toBe(1);
    expect(await sup.stop()).toBe(0);
  });

  it("starts at once from a cached copy while the server is down", async () => {
    const port = await freePort();
    const { botDir, sharedDir } = dirs();
    const cached = await buildStandInBotZip({
      server: `http://127.0.0.1:${port}`,
      hookScript: HOOK_SCRIPT,
      outPath: join(botDir, "swarming_bot.zip"),
    });
    const sup = startSupervisor({
      "swarming-server": `http://127.0.0.1:${port}`,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
    });
    await sup.waitForLog((r) => r.component === "bot", 20_000, "the bot's first line");
    await waitUntil(
      async () => (await sup.metrics()).value("rpi_swarming_bot_code_update_checks_total", { result: "error" }) === 1,
      10_000,
      "failed update check",
    );
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_up")).toBe(1);
    expect(m.value("rpi_swarming_bot_code_info", { version: cached.digest })).toBe(1);
    expect(await sup.stop()).toBe(0);
  });

  it("401 names the token config; with a token from the token endpoint the download works", async () => {
    const sw = await double({ token: "s3cret" });
    const { root, botDir, sharedDir } = dirs();
    const tokenConfig = join(root, "oauth2_access_token_config.json");
    const sup = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "token-config": tokenConfig,
    });
    const failure = await sup.waitForLog((r) => r.msg === "cannot get the bot code", 20_000, "auth failure");
    expect(String((failure.err as { message: string }).message)).toContain(
      `HTTP 401: no token config at ${tokenConfig}`,
    );
    expect(
      (await sup.metrics()).value("rpi_swarming_bot_code_downloads_total", { result: "auth_error" }),
    ).toBeGreaterThanOrEqual(1);
    expect(await sup.stop()).toBe(0);

    // Now with a token config whose endpoint hands out the right token.
    const tokens = await tokenServer(() => ({
      status: 200,
      body: JSON.stringify({ access_token: "s3cret", expires_in: 3600, token_type: "Bearer" }),
    }));
    writeFileSync(tokenConfig, JSON.stringify({ url: tokens.url, headers: { "Metadata-Flavor": "Google" } }));
    const sup2 = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "token-config": tokenConfig,
    });
    await sup2.waitForLog(started, 20_000, "bot started");
    const m = await sup2.metrics();
    expect(m.value("rpi_swarming_token_refreshes_total", { result: "success" })).toBeGreaterThanOrEqual(1);
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "success" })).toBe(1);
    // Tokens never reach the log.
    expect(JSON.stringify(sup2.records)).not.toContain("s3cret");
    expect(await sup2.stop()).toBe(0);
  });

  it("a token endpoint answering garbage or down is reported, retried, and recovers", async () => {
    const sw = await double({ token: "t0ken" });
    const { root, botDir, sharedDir } = dirs();
    let mode: "garbage" | "down" | "ok" = "garbage";
    const tokens = await tokenServer(() =>
      mode === "garbage"
        ? { status: 200, body: "<html>metadata server starting</html>" }
        : mode === "down"
          ? { status: 503, body: "unavailable" }
          : { status: 200, body: JSON.stringify({ access_token: "t0ken", expires_in: 3600 }) },
    );
    const tokenConfig = join(root, "token.json");
    writeFileSync(tokenConfig, JSON.stringify({ url: tokens.url, headers: {} }));
    const sup = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "token-config": tokenConfig,
      "download-backoff-max-seconds": 1,
    });
    const failure = await sup.waitForLog((r) => r.msg === "cannot get the bot code", 20_000, "token failure");
    const message = String((failure.err as { message: string }).message);
    expect(message).toContain(tokenConfig);
    expect(message).toContain("not JSON");
    mode = "down";
    await sup.waitForLog(
      (r) => r.msg === "cannot get the bot code" && String((r.err as { message: string }).message).includes("HTTP 503"),
      20_000,
      "503",
    );
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_token_refreshes_total", { result: "failure" })).toBeGreaterThanOrEqual(2);
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "auth_error" })).toBeGreaterThanOrEqual(2);
    mode = "ok";
    await sup.waitForLog(started, 20_000, "bot started");
    expect(await sup.stop()).toBe(0);
  });

  it.each([
    ["HTTP 500 on /bot_code", { mode: "status", status: 500, on: "redirect", times: 2 }, "http_error", 2],
    ["HTTP 404 on the zip", { mode: "status", status: 404, on: "download", times: 1 }, "http_error", 1],
    ["a server that hangs", { mode: "hang", on: "download", times: 1 }, "timeout", 1],
    ["a body cut off mid-way", { mode: "truncate", times: 1 }, "truncated", 1],
    ["a body that is not a zip", { mode: "not-zip", times: 1 }, "corrupt", 1],
  ] as const)("survives %s, counts it, and then gets the code", async (_name, fault, result, times) => {
    const sw = await double();
    sw.setFault(fault);
    const { botDir, sharedDir } = dirs();
    const sup = startSupervisor({
      "swarming-server": sw.url,
      "bot-dir": botDir,
      "shared-dir": sharedDir,
      "download-timeout-seconds": 1,
      "download-backoff-max-seconds": 1,
    });
    await sup.waitForLog(started, 30_000, "bot started");
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result })).toBe(times);
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "success" })).toBe(1);
    expect(m.value("rpi_swarming_bot_code_info", { version: sw.currentVersion() as string })).toBe(1);
    expect(readdirSync(botDir).filter((n) => n.startsWith("swarming_bot.download-"))).toEqual([]);
    expect(await sup.stop()).toBe(0);
  });

  it("a disk that fills during an update download leaves the old copy intact and the bot running", async (ctx) => {
    const sw = await double();
    const { root } = dirs();
    // The bot dir and the shared dir on one small volume, as on the pod's emptyDir.
    const volume = join(root, "b");
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", volume], { stdio: "ignore" });
    } catch {
      ctx.skip("needs root to mount a 1 MiB tmpfs");
    }
    cleanups.push(() => {
      execFileSync("umount", ["-l", volume]);
    });
    const botDir = join(volume, "s");
    const sharedDir = join(volume, "shared");
    mkdirSync(botDir);
    mkdirSync(sharedDir);
    const old = await buildStandInBotZip({
      server: sw.url,
      hookScript: HOOK_SCRIPT,
      outPath: join(botDir, "swarming_bot.zip"),
    });
    const oldBytes = readFileSync(old.path);
    // The server's code is bigger than the whole disk.
    const big = await sw.publishBotCode({
      standIn: { hookScript: HOOK_SCRIPT, extraFiles: { "blob.bin": randomText(3_000_000) } },
    });
    expect(big.digest).not.toBe(old.digest);
    const sup = startSupervisor({ "swarming-server": sw.url, "bot-dir": botDir, "shared-dir": sharedDir });
    const failure = await sup.waitForLog((r) => r.msg === "update check failed", 20_000, "failed update check");
    expect(String((failure.err as { message: string }).message)).toMatch(/ENOSPC/);
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_code_downloads_total", { result: "disk_error" })).toBe(1);
    expect(m.value("rpi_swarming_bot_code_info", { version: old.digest })).toBe(1);
    expect(m.value("rpi_swarming_bot_up")).toBe(1);
    expect(readFileSync(join(botDir, "swarming_bot.zip")).equals(oldBytes)).toBe(true);
    expect(readdirSync(join(volume, "bot-code")).filter((n) => n.startsWith("swarming_bot.download-"))).toEqual([]);
    expect(await sup.stop()).toBe(0);
  });
});
