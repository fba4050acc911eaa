// `rpi-swarming state-server` alone (bin/rpi-swarming.js picks this entry): loads only what it runs.
import { stateServerCommand } from "../commands/state-server.js";
import { runProgram } from "../program.js";

await runProgram([stateServerCommand], process.argv);
