export * from "./command.js";
export * from "./cycle.js";
export * from "./factory.js";
export * from "./http.js";
export type * from "./types.js";
export * from "./uhubctl.js";
export * from "./uhubctl-output.js";
export * from "./usb-location.js";
