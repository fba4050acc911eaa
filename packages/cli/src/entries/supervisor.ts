// `rpi-swarming supervisor` alone (bin/rpi-swarming.js picks this entry): loads only what it runs.
import { supervisorCommand } from "../commands/supervisor.js";
import { runProgram } from "../program.js";

await runProgram([supervisorCommand], process.argv);
