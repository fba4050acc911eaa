export { buildDimensions, buildState, healthMessages } from "./attributes.js";
export { type BotInfo, createHookApp, type HookAppOptions, type TokenProvider } from "./hooks-app.js";
export { MaintenanceWatcher, type MaintenanceWatcherOptions } from "./maintenance.js";
export { StateServerMetrics } from "./metrics.js";
export { createMetricsApp } from "./metrics-app.js";
export { DeviceMonitor, type MonitorOptions, RECOVERY_LADDER, type Snapshot } from "./monitor.js";
export { type StateServer, type StateServerConfig, type StateServerDeps, startStateServer } from "./server.js";
export { botSettingsSchema, stateServerSettings } from "./settings.js";
