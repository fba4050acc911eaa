import {
  AuthError,
  ClientAbortError,
  ConflictError,
  InvalidInputError,
  NotFoundError,
  NotReadyError,
  NotSupportedError,
  PayloadTooLargeError,
  TimeoutError,
  TooManyRequestsError,
  UpstreamError,
} from "../errors.js";

/**
 * nginx's "client closed request". Never sent (the client is gone); it marks
 * the request so logs and metrics do not count it as a server error.
 */
export const CLIENT_ABORT_STATUS = 499;

/** The one place where domain errors become HTTP status codes. */
export function statusForError(err: unknown): number {
  if (err instanceof ClientAbortError) return CLIENT_ABORT_STATUS;
  if (err instanceof InvalidInputError) return 400;
  if (err instanceof AuthError) return 401;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof PayloadTooLargeError) return 413;
  if (err instanceof TooManyRequestsError) return 429;
  if (err instanceof UpstreamError) return 502;
  if (err instanceof NotReadyError) return 503;
  if (err instanceof NotSupportedError) return 501;
  if (err instanceof TimeoutError) return 504;
  // Koa's own errors (e.g. ctx.throw) carry a status.
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === "number" && status >= 400 && status < 600) return status;
  return 500;
}

/**
 * How loudly a reply with this status is logged. Only faults of the server are
 * errors; a client that went away or used a method this server does not serve
 * is worth an info line; other rejected requests a debug line.
 */
export function logLevelForStatus(status: number): "debug" | "info" | "error" {
  if (status === CLIENT_ABORT_STATUS || status === 405 || status === 501) return "info";
  return status >= 500 ? "error" : "debug";
}

/** The `code` label of request metrics: the status sent, or `client_abort` when none could be. */
export function statusCodeLabel(status: number): string {
  return status === CLIENT_ABORT_STATUS ? "client_abort" : String(status);
}
