import type { Command } from "commander";
import { toCommander } from "../command.js";
import { demoCommand } from "./demo.js";
import { probeCommand } from "./probe.js";
import { stateServerCommand } from "./state-server.js";
import { supervisorCommand } from "./supervisor.js";
import { swarmingDoubleCommand } from "./swarming-double.js";

/** Subcommands in the order --help lists them; each module's definition goes through toCommander. */
export function subcommands(): Command[] {
  return [
    toCommander(stateServerCommand),
    toCommander(probeCommand),
    toCommander(supervisorCommand),
    toCommander(demoCommand),
    toCommander(swarmingDoubleCommand),
  ];
}
