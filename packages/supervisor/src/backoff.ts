/**
 * Exponential backoff with jitter: the n-th delay is drawn from
 * [d/2, d] with d = min(max, min * 2^(n-1)), so a fleet does not retry in step.
 */
export class Backoff {
  private attempts = 0;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(minMs > 0 && maxMs >= minMs)) throw new RangeError(`bad backoff bounds ${minMs}..${maxMs}`);
  }

  /** The next delay in ms; each call doubles the ceiling. */
  next(): number {
    this.attempts += 1;
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempts - 1, 40));
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  /** Back to the minimum, e.g. after a success or a stable run. */
  reset(): void {
    this.attempts = 0;
  }

  get failures(): number {
    return this.attempts;
  }
}

/** Resolves after ms, or early (with false) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
