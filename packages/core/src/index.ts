export { type BotCodeInfo, botCodeDigest, inspectBotCode } from "./bot-code-digest.js";
export * from "./config/index.js";
export {
  codePointLength,
  DIMENSION_KEY_PATTERN,
  dimensionKeyProblem,
  dimensionValueProblem,
  hasOuterWhitespace,
  MAX_DIMENSION_KEY_LENGTH,
  MAX_DIMENSION_VALUE_LENGTH,
} from "./dimension-rules.js";
export * from "./errors.js";
export { CLIENT_ABORT_STATUS, logLevelForStatus, statusCodeLabel, statusForError } from "./http/error-status.js";
export {
  closeServer,
  jsonDepth,
  jsonErrors,
  listen,
  MAX_BODY_BYTES,
  MAX_JSON_DEPTH,
  readJsonBody,
  replyCodeLabel,
} from "./http/koa.js";
export { createLogger, type Logger, type LogLevel, scrubSecrets } from "./logger.js";
export { createMetricsRegistry, METRIC_PREFIX } from "./metrics.js";
export { METRICS_MAX_AGE_MS, MetricsCache } from "./metrics-cache.js";
export { redactUrl } from "./redact-url.js";
export { type AccessToken, TokenSource, type TokenSourceOptions } from "./token-source.js";
export { VERSION } from "./version.js";
