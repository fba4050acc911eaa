// `rpi-swarming swarming-double` alone (bin/rpi-swarming.js picks this entry): loads only what it runs.
import { swarmingDoubleCommand } from "../commands/swarming-double.js";
import { runProgram } from "../program.js";

await runProgram([swarmingDoubleCommand], process.argv);
