import { startStateServer, stateServerSettings } from "@rpi-swarming/state-server";
import { defineCommand } from "../command.js";

/** `rpi-swarming state-server`: the device state server of one pod. */
export const stateServerCommand = defineCommand({
  name: "state-server",
  summary: "serve the device's dimensions, state and health to the Swarming bot's hooks, and metrics",
  settings: stateServerSettings,
  async run(config, ctx) {
    const server = await startStateServer(config, { log: ctx.log });
    const signal = await ctx.stopSignal;
    ctx.log.info({ signal }, "stopping state server");
    await server.close();
    ctx.log.info({}, "state server stopped");
    return 0;
  },
});
