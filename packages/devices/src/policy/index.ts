export * from "./health.js";
