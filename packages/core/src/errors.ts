/**
 * Domain errors. Every error the project raises on purpose is one of these,
 * so the HTTP layer (see http/error-status.ts) can map it to a status code in
 * one place and logs carry a stable `name`.
 */
export class RpiSwarmingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A setting is missing, malformed or out of range. Fatal at start-up. */
export class ConfigError extends RpiSwarmingError {}

/** A request body or parameter is malformed. */
export class InvalidInputError extends RpiSwarmingError {}

/** A request body is larger than the server accepts. */
export class PayloadTooLargeError extends RpiSwarmingError {}

/** A path or resource does not exist. */
export class NotFoundError extends RpiSwarmingError {}

/** The operation conflicts with the current state (e.g. a task is running). */
export class ConflictError extends RpiSwarmingError {}

/** A limit refuses the operation for now (e.g. the power-cycle cap); the HTTP reply says when to retry. */
export class TooManyRequestsError extends RpiSwarmingError {
  /** Sent as the Retry-After header. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.headers = { "Retry-After": String(Math.max(0, Math.ceil(retryAfterSeconds))) };
  }
}

/** A service this process depends on is not ready yet. */
export class NotReadyError extends RpiSwarmingError {}

/** An external tool (adb, ideviceinfo, python3) is not installed or not on PATH. */
export class ToolMissingError extends RpiSwarmingError {
  constructor(
    readonly tool: string,
    options?: { cause?: unknown },
  ) {
    super(`${tool} was not found on PATH; install it or fix PATH`, options);
  }
}

/** An external command or request did not finish in time. */
export class TimeoutError extends RpiSwarmingError {}

/** A remote server refused our credentials (HTTP 401/403). */
export class AuthError extends RpiSwarmingError {}

/** A remote server or device answered with something we cannot use. */
export class UpstreamError extends RpiSwarmingError {}

/** A file that should be a zip (e.g. bot code) is truncated, damaged or not a zip at all. */
export class CorruptZipError extends RpiSwarmingError {}

/** The operation does not apply to this device kind or configuration (e.g. `adb reconnect` for iOS). */
export class NotSupportedError extends RpiSwarmingError {}

/** Another process already holds a lock we need. */
export class LockedError extends RpiSwarmingError {}

/** The client closed its connection before the request was read or answered: nobody gets the reply. */
export class ClientAbortError extends RpiSwarmingError {}
