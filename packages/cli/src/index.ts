export { type CommandContext, type CommandDefinition, defineCommand, toCommander } from "./command.js";
export { buildProgram, main } from "./main.js";
