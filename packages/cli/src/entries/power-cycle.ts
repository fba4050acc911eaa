// `rpi-swarming power-cycle` alone (bin/rpi-swarming.js picks this entry): loads only what it runs.
import { powerCycleCommand } from "../commands/power-cycle.js";
import { runProgram } from "../program.js";

await runProgram([powerCycleCommand], process.argv);
