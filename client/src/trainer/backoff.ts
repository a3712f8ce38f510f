// Reconnect delays: exponential growth with full jitter, so many clients that lost the same server
// do not come back in lockstep.

export interface BackoffOptions {
  /** The ceiling of the first attempt's delay. */
  baseMs: number;
  /** No delay ever exceeds this. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, capMs: 10_000 };

/**
 * The delay before reconnect attempt `attempt` (0 for the first): `random()` (a number in [0, 1),
 * Math.random in production) times min(cap, base * 2^attempt), in whole milliseconds.
 */
export function backoffDelay(
  attempt: number,
  random: () => number,
  options: BackoffOptions = DEFAULT_BACKOFF,
): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** exponent);
  const fraction = Math.min(Math.max(random(), 0), 1);
  return Math.floor(ceiling * fraction);
}
