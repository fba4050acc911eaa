// Runs the rpi-swarming CLI from its TypeScript sources (node --conditions=source --import tsx), so the
// end-to-end tests and the benchmark need no build step.
import { main } from "@rpi-swarming/cli";

await main(process.argv);
