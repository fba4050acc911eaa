import { stateServerSettings } from "@rpi-swarming/state-server/settings";
import { defineCommand } from "../command.js";

/** `rpi-swarming state-server`: the device state server of one pod. */
export const stateServerCommand = defineCommand({
  name: "state-server",
  summary: "serve the device's dimensions, state and health to the Swarming bot's hooks, and metrics",
  settings: stateServerSettings,
  async run(config, ctx) {
    // Loaded here, not at the top: every process of the pod starts this CLI, and
    // the state server's memory target leaves no room for the other commands' modules.
    const { startStateServer } = await import("@rpi-swarming/state-server");
    const server = await startStateServer(config, { log: ctx.log });
    const signal = await ctx.stopSignal;
    ctx.log.info({ signal }, "stopping state server");
    await server.close();
    ctx.log.info({}, "state server stopped");
    return 0;
  },
});
