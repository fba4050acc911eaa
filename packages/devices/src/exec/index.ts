export { type CommandOutput, CommandRunner, type CommandRunnerOptions, type RunOptions } from "./command-runner.js";
export {
  type AndroidFixtureModel,
  DEVICE_FIXTURES_DIR,
  FAKE_ADB_PATH,
  FAKE_TOOLS_BIN_DIR,
  FAKE_UHUBCTL_PATH,
  FakeAdbScenario,
  FakeIdeviceScenario,
  FakeUhubctlScenario,
  type IosFixtureModel,
} from "./fake-tools.js";
export { livingProcessesInGroup } from "./process-groups.js";
