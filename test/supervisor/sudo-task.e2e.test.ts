import { type SwarmingDouble, startSwarmingDouble } from "@rpi-swarming/swarming-double";
import { afterEach, describe, expect, it } from "vitest";
import { HOOK_SCRIPT, killLeftovers, type LogRecord, startSupervisor, tempDirs, waitUntil } from "./harness.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await killLeftovers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

const started = (r: LogRecord) => r.msg === "bot started";

async function setUp(): Promise<{ sw: SwarmingDouble; sup: ReturnType<typeof startSupervisor> }> {
  const sw = await startSwarmingDouble({ botCode: { standIn: { hookScript: HOOK_SCRIPT } } });
  cleanups.push(() => sw.close());
  const d = tempDirs();
  cleanups.push(() => d.cleanup());
  const sup = startSupervisor({ "swarming-server": sw.url, "bot-dir": d.botDir, "shared-dir": d.sharedDir });
  await sw.waitFor((x) => x.bot("rpi-test-1")?.handshakes, { what: "handshake", timeoutMs: 30_000 });
  return { sw, sup };
}

describe("sudo in a task (supervisor, stand-in bot, the image's sudo)", () => {
  it("a task's ordinary sudo runs as root and is no reboot request: the bot keeps running", async () => {
    const { sw, sup } = await setUp();
    sw.enqueue(
      {
        cmd: "run",
        taskId: "sudo-ok",
        command: ["sh", "-c", "sudo -n true || echo no-root; sudo id -u; sudo -n sh -c 'exit 4'; echo rc=$?"],
      },
      "rpi-test-1",
    );
    const task = await sw.waitFor((x) => x.tasks().find((t) => t.id === "sudo-ok" && t.status === "completed"), {
      what: "task completed",
      timeoutMs: 30_000,
    });
    expect(task.exitCode).toBe(0);
    // The tests run as root, as the image does.
    expect(task.output).toBe("0\nrc=4\n");
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_reboot_requests_total")).toBe(0);
    expect(m.value("rpi_swarming_bot_up")).toBe(1);
    expect(sup.records.filter(started)).toHaveLength(1);
    expect(sup.records.some((r) => r.msg === "the bot asked for a reboot")).toBe(false);
    expect(await sup.stop()).toBe(0);
  });

  it("a task's `sudo -n /sbin/reboot -f` is a reboot request: recorded, the bot restarted", async () => {
    const { sw, sup } = await setUp();
    sw.enqueue({ cmd: "run", taskId: "reboot", command: ["sudo", "-n", "/sbin/reboot", "-f"] }, "rpi-test-1");
    const request = await sup.waitForLog((r) => r.msg === "the bot asked for a reboot", 30_000, "reboot request");
    expect(request.args).toBe("-n /sbin/reboot -f");
    await waitUntil(() => sup.records.filter(started).length >= 2, 30_000, "the bot restarted");
    const m = await sup.metrics();
    expect(m.value("rpi_swarming_bot_reboot_requests_total")).toBe(1);
    // The task died by sudo's SIGKILL; the bot, stopped for the request, left nothing to cut.
    expect(m.value("rpi_swarming_bot_tasks_cut_total", { reason: "bot_exit" })).toBe(0);
    expect(m.value("rpi_swarming_bot_tasks_cut_total", { reason: "grace_expired" })).toBe(0);
    expect(await sup.stop()).toBe(0);
  });
});
