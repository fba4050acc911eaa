// `rpi-swarming demo` alone (bin/rpi-swarming.js picks this entry): loads only what it runs.
import { demoCommand } from "../commands/demo.js";
import { runProgram } from "../program.js";

await runProgram([demoCommand], process.argv);
