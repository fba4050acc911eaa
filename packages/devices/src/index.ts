export * from "./dimensions.js";
export * from "./drivers.js";
export { NoneDriver } from "./none/index.js";
export * from "./policy/index.js";
export * from "./settings.js";
export * from "./simulated/index.js";
export type * from "./types.js";
