import {
  AuthError,
  ConflictError,
  InvalidInputError,
  NotFoundError,
  NotReadyError,
  NotSupportedError,
  PayloadTooLargeError,
  TimeoutError,
  UpstreamError,
} from "../errors.js";

/** The one place where domain errors become HTTP status codes. */
export function statusForError(err: unknown): number {
  if (err instanceof InvalidInputError) return 400;
  if (err instanceof AuthError) return 401;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof PayloadTooLargeError) return 413;
  if (err instanceof UpstreamError) return 502;
  if (err instanceof NotReadyError) return 503;
  if (err instanceof NotSupportedError) return 501;
  if (err instanceof TimeoutError) return 504;
  // Koa's own errors (e.g. ctx.throw) carry a status.
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === "number" && status >= 400 && status < 600) return status;
  return 500;
}
