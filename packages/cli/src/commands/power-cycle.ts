import { request } from "node:http";
import { setting } from "@rpi-swarming/core";
import { stateServerSettings } from "@rpi-swarming/state-server/settings";
import * as z from "zod/mini";
import { defineCommand } from "../command.js";

const powerCycleSettings = {
  // The state server's settings, so its config file (--config) or environment names the
  // port; only hookHost and hookPort are used.
  ...stateServerSettings,
  reason: setting("string", z.optional(z.string().check(z.maxLength(1000))), "why, for the state server's log"),
  force: setting(
    "boolean",
    z._default(z.boolean(), false),
    "power-cycle even when powerCyclesPerHour or powerCycleCooldownSeconds hold it back (never under a running task)",
  ),
  wait: setting(
    "boolean",
    z._default(z.boolean(), false),
    "after the power is back, wait until the device answers or powerSettleSeconds pass, and print its health",
  ),
};

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** A JSON request to the state server on loopback (node:http: the image's Node may run without fetch). */
function call(method: string, url: string, payload?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: { message: text.trim() } });
        }
      });
    });
    req.on("error", reject);
    req.end(payload === undefined ? undefined : JSON.stringify(payload));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `rpi-swarming power-cycle`: asks the pod's running state server (POST
 * /power_cycle) to cut and restore the device's power, so the cap, the
 * ladder's state and the metrics stay in one place. For someone who
 * `kubectl exec`s into the pod. Exit 0 done, 1 refused or failed.
 */
export const powerCycleCommand = defineCommand({
  name: "power-cycle",
  summary: "ask the running state server to power-cycle the device (powerController); exit 1 when refused or failed",
  settings: powerCycleSettings,
  async run(config) {
    if (config.hookPort === 0) {
      process.stderr.write("rpi-swarming power-cycle: hookPort 0 names no server; give the state server's port\n");
      return 2;
    }
    const host = config.hookHost.includes(":") ? `[${config.hookHost}]` : config.hookHost;
    const base = `http://${host}:${config.hookPort}`;
    let reply: Reply;
    try {
      reply = await call("POST", `${base}/power_cycle`, {
        ...(config.reason ? { reason: config.reason } : {}),
        ...(config.force ? { force: true } : {}),
      });
    } catch (err) {
      process.stderr.write(
        `rpi-swarming power-cycle: no state server at ${base} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); is it running, and is hookPort right?\n`,
      );
      return 1;
    }
    if (reply.status !== 200) {
      const retry = reply.status === 429 ? " (--force overrides the cap and cool-down)" : "";
      process.stderr.write(
        `rpi-swarming power-cycle: refused (${reply.status}): ${String(reply.body.message)}${retry}\n`,
      );
      return 1;
    }
    process.stdout.write(`${JSON.stringify(reply.body)}\n`);
    if (!config.wait) return 0;
    const deadline = Date.now() + (Number(reply.body.settle_seconds) + 10) * 1000;
    for (;;) {
      const status = await call("GET", `${base}/status`);
      if (status.body.rebooting === null || Date.now() > deadline) {
        process.stdout.write(`${JSON.stringify({ health: status.body.health })}\n`);
        const health = status.body.health as { status?: string } | undefined;
        return health?.status === "ok" ? 0 : 1;
      }
      await sleep(1000);
    }
  },
});
