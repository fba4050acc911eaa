// `rpi-swarming probe` alone (bin/rpi-swarming.js picks this entry): loads only what it runs.
import { probeCommand } from "../commands/probe.js";
import { runProgram } from "../program.js";

await runProgram([probeCommand], process.argv);
