/**
 * A signal that aborts when `outer` does, for one request. `release()` takes
 * its listener off `outer` again: the supervisor's stop signal lives as long
 * as the process, and a listener left per request piles up (got removes its
 * own listener only when a request is destroyed, not when it ends normally).
 */
export function linkSignal(outer?: AbortSignal): { readonly signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  if (!outer) return { signal: controller.signal, release: () => undefined };
  if (outer.aborted) {
    controller.abort(outer.reason);
    return { signal: controller.signal, release: () => undefined };
  }
  const onAbort = () => controller.abort(outer.reason);
  outer.addEventListener("abort", onAbort, { once: true });
  return { signal: controller.signal, release: () => outer.removeEventListener("abort", onAbort) };
}
