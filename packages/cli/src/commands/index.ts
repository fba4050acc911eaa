import { demoCommand } from "./demo.js";
import { powerCycleCommand } from "./power-cycle.js";
import { probeCommand } from "./probe.js";
import { stateServerCommand } from "./state-server.js";
import { supervisorCommand } from "./supervisor.js";
import { swarmingDoubleCommand } from "./swarming-double.js";

/**
 * Every subcommand, in the order --help lists them. A process that runs one
 * of them starts from its own entry (src/entries/) instead, which loads only
 * that command's settings and modules.
 */
export const allCommands = [
  stateServerCommand,
  probeCommand,
  powerCycleCommand,
  supervisorCommand,
  demoCommand,
  swarmingDoubleCommand,
] as const;
