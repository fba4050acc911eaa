import { LockedError } from "@rpi-swarming/core";
import { supervisorSettings } from "@rpi-swarming/supervisor/settings";
import { defineCommand } from "../command.js";

export const supervisorCommand = defineCommand({
  name: "supervisor",
  summary: "keep one Swarming bot running: fetch and verify its code, restart it, follow updates and reboot requests",
  settings: supervisorSettings,
  async run(config, { log, stopSignal }) {
    // A second SIGTERM/SIGINT must not kill the supervisor before the bot has stopped.
    // A log reader that went away (closed pipe) must not crash the supervisor and orphan the bot.
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
    });
    let signals = 0;
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      process.on(sig, () => {
        signals += 1;
        if (signals > 1) log.info({ signal: sig }, "already shutting down; waiting for the bot");
      });
    }
    try {
      // Loaded on use, so the pod's other commands do not carry got, yauzl and node-cron.
      const { Supervisor } = await import("@rpi-swarming/supervisor");
      return await new Supervisor(config, log).run(stopSignal);
    } catch (err) {
      if (err instanceof LockedError) {
        process.stderr.write(`rpi-swarming supervisor: ${err.message}\n`);
        log.error({ message: err.message }, "refusing to start");
        return 1;
      }
      throw err;
    }
  },
});
