/**
 * Time as the round engine and the round collector see it: the hub and the simulation pass the system clock, tests
 * a `ManualClock` they advance by hand.
 */
export interface Clock {
  /** Epoch milliseconds (or any monotonic origin, as long as deadlines use the same one). */
  now(): number;
  /** Calls `fire` once after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fire: () => void): () => void;
}

/** Date.now (or the given clock) and setTimeout. */
export function systemClock(now: () => number = Date.now): Clock {
  return {
    now,
    setTimer(ms, fire) {
      const timer = setTimeout(fire, Math.max(0, ms));
      return () => clearTimeout(timer);
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts (a stopped run does not sit out its pause). */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = clock.setTimer(ms, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
