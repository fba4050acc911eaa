export { BOT_API } from "./bot-api.js";
export { dimensionProblems } from "./dimension-rules.js";
export { type BotCodeSource, type SwarmingDouble, type SwarmingDoubleOptions, startSwarmingDouble } from "./double.js";
export type {
  BotCodeFault,
  BotEvent,
  BotRecord,
  Dimensions,
  DoubleCommand,
  DoubleState,
  FaultTarget,
  PublishedBotCode,
  QueuedCommand,
  RequestRecord,
  TaskRecord,
  TaskStatus,
} from "./types.js";
export { type BuiltBotCode, buildStandInBotZip, STAND_IN_SOURCE_DIR, type StandInBuildOptions } from "./zip-builder.js";
