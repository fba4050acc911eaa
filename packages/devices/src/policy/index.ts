export * from "./health.js";
export * from "./recovery.js";
